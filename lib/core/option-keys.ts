/**
 * The one check of option names, for every options object a user writes (stack, layers, module, decorators,
 * routes): a name the library does not know is an `InvalidOptionError` naming it and, when one is close, the known
 * option it was probably meant to be (`staleWhileRevalidte` → `staleWhileRevalidate`). A name of another cache
 * library with no equivalent here can carry its own hint (`renamed`), so a port from it fails with directions
 * instead of a bare "unknown". Closeness is the Damerau-Levenshtein distance (a transposition counts once),
 * case-insensitive, accepted up to a third of the name's length (at least 1, at most 3).
 */
import { InvalidOptionError } from './errors.js';

/** What `checkOptionKeys` needs beyond the names. */
export interface OptionKeysCheck {
  /** How errors name the object, e.g. `MemoryLayer` (→ `MemoryLayer.maxSzie`); empty for top-level options. */
  readonly at?: string;
  /** Names from elsewhere (another library, an older version) with the hint to give instead of a suggestion. */
  readonly renamed?: Readonly<Record<string, string>>;
}

/**
 * Throws `InvalidOptionError` for the first own enumerable key of `options` not in `known`. Keys whose value is
 * `undefined` are checked too: a misspelled option is a mistake whatever its value.
 */
export function checkOptionKeys(options: object, known: Iterable<string>, check: OptionKeysCheck = {}): void {
  const names = known instanceof Set ? (known as ReadonlySet<string>) : new Set(known);
  for (const key of Object.keys(options)) {
    if (names.has(key)) continue;
    const option = check.at === undefined || check.at === '' ? key : `${check.at}.${key}`;
    const hint = check.renamed !== undefined && Object.hasOwn(check.renamed, key) ? check.renamed[key] : undefined;
    if (hint !== undefined) throw new InvalidOptionError(option, `unknown option: ${hint}`);
    const closest = closestName(key, names);
    const list = [...names].join(', ');
    throw new InvalidOptionError(option, closest === undefined ? `unknown option; expected one of ${list}` : `unknown option; did you mean "${closest}"? (expected one of ${list})`);
  }
}

/** The known name closest to `name`, when close enough to be a likely typo; `undefined` otherwise. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const target = name.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(target.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(target, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment) of `a` and `b`; values at or over `cap` are only bounded. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, (before[j - 2] as number) + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= cap) return cap;
    before = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * `true` when every option of `Options` is in `Listed`, else `false`: `const listed: AllListed<O, Names> = true`
 * stops compiling when an option is added to the interface but not to the list `checkOptionKeys` is given.
 */
export type AllListed<Options, Listed> = [Exclude<keyof Options, Listed>] extends [never] ? true : false;
