/**
 * Builds the envelope of a loaded or set value from its resolved policy (docs/entry-states.md, "The envelope"):
 * freshUntil = now + ttl (negativeTtl for a not-found value when set), both stale windows after it.
 * `EntryFactory` is what the engine's writers use: the stack's clock, and a throwing user option (`shouldCache`,
 * a tags function) logged and turned into "not cached", never into an error for the caller.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { checkName } from '../core/keys.js';
import type { BurstLogger } from '../core/logger.js';
import type { EntryPolicy } from './cache-stack.options.js';

/** Builds the envelopes of a stack's writes and loads. */
export class EntryFactory {
  constructor(
    private readonly clock: Clock,
    private readonly log: BurstLogger,
  ) {}

  /** The envelope of a value, or `undefined` when it is not to be cached (or its options threw: logged). */
  build(key: string, value: unknown, policy: EntryPolicy, tagSeq: number, version: number): CacheEntry | undefined {
    try {
      return buildEntry(value, policy, tagSeq, this.clock.now(), version);
    } catch (error) {
      this.log.warn(`Not caching "${key}": its shouldCache or tags option threw`, error);
      return undefined;
    }
  }
}

/**
 * The envelope of `value`, or `undefined` when it is not to be cached (`undefined` without `negativeTtl`,
 * or `shouldCache` said no).
 * @throws whatever `shouldCache` or a tags function throws, or a TypeError/InvalidKeyError for bad tags.
 */
export function buildEntry(value: unknown, policy: EntryPolicy, tagSeq: number, now: number, version: number): CacheEntry | undefined {
  if (value === undefined && policy.negativeTtl === undefined) return undefined;
  if (policy.shouldCache !== undefined && !policy.shouldCache(value)) return undefined;
  const tags = typeof policy.tags === 'function' ? checkTags(policy.tags(value)) : policy.tags;
  const notFound = value === undefined || value === null;
  const freshUntil = now + (notFound && policy.negativeTtl !== undefined ? policy.negativeTtl : policy.ttl);
  return {
    value,
    createdAt: now,
    freshUntil,
    staleUntil: freshUntil + policy.swr,
    errorUntil: freshUntil + policy.sie,
    tags: tags !== undefined && tags.length > 0 ? tags : undefined,
    tagSeq,
    version,
  };
}

function checkTags(tags: readonly string[]): readonly string[] {
  if (!Array.isArray(tags)) throw new TypeError('the tags function must return an array of tag names');
  for (const tag of tags) checkName('tag', tag);
  return tags;
}
