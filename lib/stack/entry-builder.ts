/**
 * Builds the envelope of a loaded or set value from its resolved policy (docs/entry-states.md, "The envelope"):
 * freshUntil = now + ttl (negativeTtl for a not-found value when set), both stale windows after it. The ttl of a
 * policy with write-time rules (ttl-policy.ts) comes from its calendar boundary or ttl function, then its jitter.
 * `EntryFactory` is what the engine's writers use: the stack's clock, a random source (a seam for tests), a
 * throwing user option (`shouldCache`, a tags or ttl function) logged and turned into "not cached", never into an
 * error for the caller, and every deadline capped at the stack's `maxLifetime` (max-lifetime.ts).
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry, EntryFreshness } from '../core/entry.js';
import { checkName } from '../core/keys.js';
import type { BurstLogger } from '../core/logger.js';
import type { EntryPolicy } from './cache-stack.options.js';
import type { LifetimeCap } from './max-lifetime.js';
import type { Renewals } from './renewals.js';
import { jitterTtl } from './ttl-policy.js';

/** Builds the envelopes of a stack's writes and loads. */
export class EntryFactory {
  constructor(
    private readonly clock: Clock,
    private readonly log: BurstLogger,
    /** The adaptive ttl a key is written with while it is hot (`Renewals.levelFor`). */
    private readonly levels?: Pick<Renewals, 'levelFor'>,
    /** Uniform in [0, 1), for `ttlJitter`. */
    private readonly random: () => number = Math.random,
    /** The stack's `maxLifetime` (max-lifetime.ts); `undefined`: entries are not capped (tests of the builder alone). */
    private readonly lifetime?: LifetimeCap,
  ) {}

  /**
   * The envelope of a value, or `undefined` when it is not to be cached (or its options threw: logged).
   * @param key the internal key (for the adaptive level of a hot key).
   * @param userKey the key as the caller wrote it (without namespace): for a ttl function and log lines.
   * @param base the instant `maxLifetime` counts from: the entry's `createdAt` (now) by default, or an earlier one
   * (when the tags' versions were read, before the loader ran); a later one counts as now.
   */
  build(key: string, userKey: string, value: unknown, policy: EntryPolicy, tagVersions: readonly number[] | undefined, version: number, base?: number): CacheEntry | undefined {
    try {
      const now = this.clock.now();
      const level = policy.adaptive === undefined ? undefined : this.levels?.levelFor(key, policy, now);
      const entry = buildEntry(value, policy, tagVersions, now, version, userKey, this.random, level);
      return entry === undefined || this.lifetime === undefined ? entry : this.lifetime.cap(entry, base ?? now, userKey);
    } catch (error) {
      this.log.warn(`Not caching "${userKey}": its shouldCache, tags or ttl option threw or gave no valid result`, error);
      return undefined;
    }
  }
}

/**
 * The envelope of `value`, or `undefined` when it is not to be cached (`undefined` without `negativeTtl`,
 * or `shouldCache` said no). `level`: the fresh duration of a found value when its adaptive ttl is raised (a hot key).
 * @throws whatever `shouldCache`, a tags or a ttl function throws, a TypeError/InvalidKeyError for bad tags, an
 * InvalidOptionError for a ttl function's result that is not a duration.
 */
export function buildEntry(
  value: unknown,
  policy: EntryPolicy,
  tagVersions: readonly number[] | undefined,
  now: number,
  version: number,
  userKey = '',
  random: () => number = Math.random,
  level?: number,
): CacheEntry | undefined {
  if (value === undefined && policy.negativeTtl === undefined) return undefined;
  if (policy.shouldCache !== undefined && !policy.shouldCache(value)) return undefined;
  const tags = typeof policy.tags === 'function' ? checkTags(policy.tags(value)) : policy.tags;
  const notFound = value === undefined || value === null;
  const negative = notFound && policy.negativeTtl !== undefined;
  let ttl = negative ? (policy.negativeTtl as number) : (level ?? policy.ttl);
  const write = policy.write;
  if (write !== undefined) {
    if (!negative && level === undefined && write.freshFor !== undefined) ttl = write.freshFor(now, value, userKey);
    if (write.jitter !== undefined) ttl = jitterTtl(ttl, write.jitter, random());
  }
  const freshness = notFound ? undefined : freshnessOf(policy, ttl, now);
  const freshUntil = freshness === undefined ? now + ttl : Math.min(now + ttl, freshness.maxUntil);
  return {
    value,
    createdAt: now,
    freshUntil,
    staleUntil: freshUntil + policy.swr,
    errorUntil: freshUntil + policy.sie,
    tags: tags !== undefined && tags.length > 0 ? tags : undefined,
    tagVersions: tags !== undefined && tags.length > 0 && tags === policy.tags ? tagVersions : undefined,
    version,
    ...(freshness !== undefined && { freshness }),
  };
}

/**
 * The freshness policies an entry written at `now` with a fresh duration of `ttl` carries, or `undefined` when
 * its policy has none (a plain entry: no extension in its envelope). Not-found entries never carry any.
 */
function freshnessOf(policy: EntryPolicy, ttl: number, now: number): EntryFreshness | undefined {
  if (!policy.sliding && policy.maxTtl === undefined && policy.adaptive === undefined && policy.refreshAhead === 0) return undefined;
  const adaptive = policy.adaptive;
  return {
    ttl,
    sliding: policy.sliding,
    maxUntil: policy.maxTtl === undefined ? Infinity : now + policy.maxTtl,
    refreshAhead: policy.refreshAhead,
    adaptive: adaptive === undefined ? undefined : { base: policy.ttl, max: adaptive.max, hits: adaptive.hits, step: adaptive.step ?? policy.ttl },
  };
}

function checkTags(tags: readonly string[]): readonly string[] {
  if (!Array.isArray(tags)) throw new TypeError('the tags function must return an array of tag names');
  for (const tag of tags) checkName('tag', tag);
  return tags;
}
