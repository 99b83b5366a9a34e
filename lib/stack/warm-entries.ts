/**
 * What `CacheStack.warm()` takes and answers (`WarmEntry`, `WarmOptions`, `WarmReport`) and the checks of its
 * input, shared with the module's `warm` option: every check runs before anything is loaded and throws an
 * `InvalidOptionError` naming the offending input as the caller wrote it (`entries[2].key`,
 * `warm.entries[2].options.ttl`, `concurrency`).
 * Hard part: the entry options' own errors (from `resolvePolicy`) name a bare option (`ttl`); they are renamed
 * under the entry's path so a list of a hundred entries says which one is wrong.
 */
import { InvalidKeyError, InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { WarmTotals } from '../core/events.js';
import type { CacheEntryOptions, Loader } from './cache-stack.options.js';

export type { WarmTotals } from '../core/events.js';

/** One key to warm: its loader, its entry options and its priority. */
export interface WarmEntry<T = unknown> {
  /** The key, as for `get` (in the namespace of the stack view `warm` is called on). */
  key: string;
  /** Loads the key's value when no fresh value is cached. */
  loader: Loader<T>;
  /** The entry's options (ttl, tags, ...), as for `get`. @default the stack's */
  options?: CacheEntryOptions<T>;
  /** Higher first; entries of equal priority keep their order. @default 0 */
  priority?: number;
}

/** Options of {@link CacheStack.warm}. */
export interface WarmOptions {
  /**
   * Most entries loading at once (a positive integer). @default 4: a startup warm does not take most of a
   * typical database pool (10 connections) away from live traffic, yet overlaps the round trips of a few loads.
   */
  concurrency?: number;
}

/** Default of {@link WarmOptions.concurrency}. */
export const DEFAULT_WARM_CONCURRENCY = 4;

/**
 * What became of one entry: `loaded` — its loader ran here and the value is stored; `skipped` — not reloaded,
 * a fresh value was cached (before the call, or meanwhile by a peer instance or a load of the key already
 * running in this process, which it waited for); `failed` — the load failed (`error`).
 */
export type WarmStatus = 'loaded' | 'skipped' | 'failed';

/** The outcome of one {@link WarmEntry}. */
export interface WarmEntryReport {
  readonly key: string;
  readonly status: WarmStatus;
  /** Why it failed (the loader's error, a `LoaderTimeoutError`, or `StackClosedError`). Only when `failed`. */
  readonly error?: unknown;
  /** From the entry's start to its end, on the stack's clock (ms); 0 for one that never started. */
  readonly durationMs: number;
}

/** The answer of {@link CacheStack.warm}: one report per entry, in the order given, and the totals. */
export interface WarmReport extends WarmTotals {
  readonly entries: readonly WarmEntryReport[];
}

const ENTRY_KEYS: ReadonlySet<string> = new Set(['key', 'loader', 'options', 'priority']);
const OPTION_KEYS: ReadonlySet<string> = new Set(['concurrency']);
/** layercache's warm entries name the loader `fetcher`. */
const WARM_ENTRY_RENAMED = Object.freeze({ fetcher: 'renamed loader' });

/**
 * Checks a list of warm entries (`path`: how the caller named it, e.g. `entries`); `checkEntry` checks one
 * entry's key and options the way the stack will use them and throws their own errors, renamed here.
 */
export function checkWarmEntries(entries: unknown, path: string, checkEntry: (key: string, options: CacheEntryOptions | undefined) => void): readonly WarmEntry[] {
  if (!Array.isArray(entries)) throw new InvalidOptionError(path, `expected an array of { key, loader, options?, priority? }, got ${describeValue(entries)}`);
  entries.forEach((entry: unknown, index) => {
    const at = `${path}[${index}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new InvalidOptionError(at, `expected { key, loader, options?, priority? }, got ${describeValue(entry)}`);
    }
    checkOptionKeys(entry, ENTRY_KEYS, { at, renamed: WARM_ENTRY_RENAMED });
    const { key, loader, options, priority } = entry as Partial<WarmEntry>;
    if (typeof loader !== 'function') throw new InvalidOptionError(`${at}.loader`, `expected a function, got ${describeValue(loader)}`);
    if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) {
      throw new InvalidOptionError(`${at}.priority`, `expected a finite number, got ${describeValue(priority)}`);
    }
    try {
      checkEntry(key as string, options as CacheEntryOptions | undefined);
    } catch (error) {
      if (error instanceof InvalidKeyError) throw new InvalidOptionError(`${at}.key`, error.message);
      if (error instanceof InvalidOptionError) {
        const name = error.option === 'options' ? `${at}.options` : `${at}.options.${error.option}`;
        throw new InvalidOptionError(name, error.message.slice(`Invalid option "${error.option}": `.length));
      }
      throw error;
    }
  });
  return entries as readonly WarmEntry[];
}

/** Checks the options of `warm()`; resolves the concurrency. */
export function checkWarmOptions(options: unknown): number {
  if (options === undefined) return DEFAULT_WARM_CONCURRENCY;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', `expected { concurrency? }, got ${describeValue(options)}`);
  }
  checkOptionKeys(options, OPTION_KEYS);
  return checkConcurrency((options as WarmOptions).concurrency, 'concurrency');
}

/** Checks a concurrency (a positive safe integer; `undefined`: the default). */
export function checkConcurrency(concurrency: unknown, name: string): number {
  if (concurrency === undefined) return DEFAULT_WARM_CONCURRENCY;
  if (typeof concurrency !== 'number' || !Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError(name, `expected a positive integer, got ${describeValue(concurrency)}`);
  }
  return concurrency;
}

/** A short description of a wrong value for an error message. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : typeof value;
}
