/**
 * Builds the envelope of a loaded or set value from its resolved policy (docs/entry-states.md, "The envelope"):
 * freshUntil = now + ttl (negativeTtl for a not-found value when set), both stale windows after it. The ttl of a
 * policy with write-time rules (ttl-policy.ts) comes from its calendar boundary or ttl function, then its jitter.
 * `EntryFactory` is what the engine's writers use: the stack's clock, a random source (a seam for tests), and a
 * throwing user option (`shouldCache`, a tags or ttl function) logged and turned into "not cached", never into an
 * error for the caller.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { checkName } from '../core/keys.js';
import type { BurstLogger } from '../core/logger.js';
import type { EntryPolicy } from './cache-stack.options.js';
import { jitterTtl } from './ttl-policy.js';

/** Builds the envelopes of a stack's writes and loads. */
export class EntryFactory {
  constructor(
    private readonly clock: Clock,
    private readonly log: BurstLogger,
    /** Uniform in [0, 1), for `ttlJitter`. */
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The envelope of a value, or `undefined` when it is not to be cached (or its options threw: logged).
   * @param userKey the key as the caller wrote it (without namespace): for a ttl function and log lines.
   */
  build(userKey: string, value: unknown, policy: EntryPolicy, tagSeq: number, version: number): CacheEntry | undefined {
    try {
      return buildEntry(value, policy, tagSeq, this.clock.now(), version, userKey, this.random);
    } catch (error) {
      this.log.warn(`Not caching "${userKey}": its shouldCache, tags or ttl option threw or gave no valid result`, error);
      return undefined;
    }
  }
}

/**
 * The envelope of `value`, or `undefined` when it is not to be cached (`undefined` without `negativeTtl`,
 * or `shouldCache` said no).
 * @throws whatever `shouldCache`, a tags or a ttl function throws, a TypeError/InvalidKeyError for bad tags, an
 * InvalidOptionError for a ttl function's result that is not a duration.
 */
export function buildEntry(
  value: unknown,
  policy: EntryPolicy,
  tagSeq: number,
  now: number,
  version: number,
  userKey = '',
  random: () => number = Math.random,
): CacheEntry | undefined {
  if (value === undefined && policy.negativeTtl === undefined) return undefined;
  if (policy.shouldCache !== undefined && !policy.shouldCache(value)) return undefined;
  const tags = typeof policy.tags === 'function' ? checkTags(policy.tags(value)) : policy.tags;
  const notFound = value === undefined || value === null;
  const negative = notFound && policy.negativeTtl !== undefined;
  let ttl = negative ? (policy.negativeTtl as number) : policy.ttl;
  const write = policy.write;
  if (write !== undefined) {
    if (!negative && write.freshFor !== undefined) ttl = write.freshFor(now, value, userKey);
    if (write.jitter !== undefined) ttl = jitterTtl(ttl, write.jitter, random());
  }
  const freshUntil = now + ttl;
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
