/**
 * The shapes of `CacheStack`'s calls and answers that are not entry options (cache-stack.options.ts): bulk writes,
 * `getDetailed`'s answer, the options of pattern invalidations and their check. Re-exported by cache-stack.ts.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { DEFAULT_CACHE_STACK_OPTIONS, type CacheEntryOptions } from './cache-stack.options.js';
import type { ReadInfo } from './read-request.js';

/** Options of `invalidateByPrefix` / `invalidateByPattern`. */
export interface InvalidateMatchingOptions {
  /** Most keys deleted; when more match, nothing is deleted and the call rejects. @default 10_000 */
  limit?: number;
}

/** One entry of {@link CacheStack.setMany}. */
export interface CacheSetItem<T = unknown> {
  key: string;
  value: T;
  options?: CacheEntryOptions<T>;
}

/** The answer of {@link CacheStack.getDetailed}. */
export interface CacheReadResult<T> {
  readonly value: T | undefined;
  readonly status: ReadInfo['status'];
  /** When the served entry was produced (ms), or `undefined` for a miss. */
  readonly createdAt: number | undefined;
  /** When the served entry stops being fresh (ms); for a miss, the entry just stored (`undefined`: none was). */
  readonly freshUntil: number | undefined;
}

/** The `limit` of pattern invalidation options, checked. */
export function checkLimit(options: InvalidateMatchingOptions): number {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  checkOptionKeys(options, ['limit'], { at: 'options' });
  const limit = options.limit ?? DEFAULT_CACHE_STACK_OPTIONS.invalidationLimit;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidOptionError('limit', `expected a non-negative integer, got ${String(limit)}`);
  return limit;
}
