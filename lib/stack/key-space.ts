/**
 * The keys of one `CacheStack` view: a user key checked (and hashed when too long) under the view's physical
 * prefix. A view's prefix is its namespace names, each scope followed by its generation once bumped
 * (`Generations`); it is recomputed only when a generation changed (`Generations.epoch`), so a key costs one
 * integer comparison and one concatenation on the hot path.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkKey, checkName, MAX_KEY_LENGTH, NAMESPACE_SEPARATOR } from '../core/keys.js';
import { GENERATION_MARK, type Generations } from './generations.js';

/** Marks the keys of memoized functions: user keys cannot contain it, so they never collide. */
const MEMO_MARK = '\u001d';

export class KeySpace {
  /** The physical key prefix for the generations of `prefixEpoch`. */
  private cachedPrefix = '';
  private prefixEpoch = -1;

  constructor(
    private readonly generations: Generations,
    private readonly hashLongKeys: boolean,
    /** The key prefixes of this view and its parents, root first (`''`): the scopes of their generations. */
    private readonly scopes: readonly string[] = [''],
    /** The namespace names along `scopes` (one fewer: the root has none). */
    private readonly names: readonly string[] = [],
  ) {}

  /** The key space of the namespace `name` under this one (its generation is fetched in the background). */
  child(name: string): KeySpace {
    const scope = this.scope + checkName('namespace', name) + NAMESPACE_SEPARATOR;
    this.generations.watch(scope);
    return new KeySpace(this.generations, this.hashLongKeys, [...this.scopes, scope], [...this.names, name]);
  }

  /** The key prefix of this view without generations: its scope. */
  get scope(): string {
    return this.scopes[this.scopes.length - 1] as string;
  }

  /** The physical key prefix: namespace names, each scope followed by its generation when bumped. */
  get prefix(): string {
    return this.prefixEpoch === this.generations.epoch ? this.cachedPrefix : this.computePrefix();
  }

  private computePrefix(): string {
    const generations = this.generations;
    let prefix = '';
    for (let i = 0; i < this.scopes.length; i++) {
      if (i > 0) prefix += (this.names[i - 1] as string) + NAMESPACE_SEPARATOR;
      const generation = generations.of(this.scopes[i] as string);
      if (generation > 0) prefix += String(generation) + GENERATION_MARK;
    }
    this.cachedPrefix = prefix;
    this.prefixEpoch = generations.epoch;
    return prefix;
  }

  /** The internal key of a user key (checked: `InvalidKeyError`). */
  key(key: string): string {
    const prefix = this.prefixEpoch === this.generations.epoch ? this.cachedPrefix : this.computePrefix();
    return prefix === '' ? checkKey(key, this.hashLongKeys) : prefix + checkKey(key, this.hashLongKeys);
  }

  /** The internal keys of an array of user keys. */
  keys(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'expected an array of keys');
    return keys.map((key) => this.key(key));
  }

  /** The internal key of a memoized call's arguments (collision-free, apart from keys given to `get`/`set`). */
  memoKey(prefix: string, encodedArguments: string): string {
    const base = this.prefix + prefix + MEMO_MARK;
    return encodedArguments.length > MAX_KEY_LENGTH ? base + checkKey(encodedArguments, true) : base + encodedArguments;
  }
}
