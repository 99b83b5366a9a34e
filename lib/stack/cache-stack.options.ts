/**
 * What users write to configure a `CacheStack` and each call (`CacheStackOptions`, `CacheEntryOptions`, the loader's
 * signature), its frozen defaults, and their resolution into an `EntryPolicy`: done once per options object (the
 * stack keeps policies in a WeakMap by options identity), so a hot call with the same options object resolves
 * nothing. Durations are seconds when numbers, or strings with a unit; internally milliseconds. Bad values throw
 * `InvalidOptionError` naming the option. Slightly over 300 lines: it is mostly the documented option interfaces.
 */
import type { Clock } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkName } from '../core/keys.js';
import { checkEntryOptionNames } from './option-names.js';
import type { CacheLogger } from '../core/logger.js';
import type { InvalidationBus } from '../core/invalidation-bus.js';
import type { LoadCoordinator } from '../core/load-coordinator.js';
import type { RevalidationLock } from '../core/revalidation-lock.js';
import type { TagStore } from '../core/tag-store.js';
import type { TagsOption } from '../core/tags.js';
import type { CalendarTtl } from '../core/calendar-boundary.js';
import { fixedTtlMs, isFixedTtl, resolveWriteTtl, type TtlFunction, type WriteTtlPolicy } from './ttl-policy.js';
import {
  resolveBreaker,
  resolveRateLimit,
  type BreakerPolicy,
  type CircuitBreakerOptions,
  type LoaderRateLimitOptions,
  type RateLimitPolicy,
} from './loader-protection.options.js';
import type { WriteBehindOptions, WritePolicy } from './write-options.js';
import type { TracingOptions } from './tracing.js';
import { checkBoolean, checkFraction, resolveAdaptive, type AdaptivePolicy, type AdaptiveTtlOptions } from './freshness.options.js';

export type { CalendarTtl } from '../core/calendar-boundary.js';
export type { TtlFunction } from './ttl-policy.js';
export type { CircuitBreakerOptions, LoaderRateLimitOptions, LoaderScopeFunction } from './loader-protection.options.js';
export type { WriteBehindOptions, WritePolicy } from './write-options.js';
export type { AdaptiveTtlOptions } from './freshness.options.js';
export { ENTRY_OPTION_NAMES, STACK_OPTION_NAMES, type EntryOptionName, type StackOptionName } from './option-names.js';
export type { CacheSpan, CacheSpanAttributes, CacheTracer, TracingKeys, TracingOptions } from './tracing.js';

/** What a loader receives. */
export interface LoaderContext<T = unknown> {
  /** The key being loaded, as the caller wrote it (without namespace). */
  readonly key: string;
  /** Aborted when the load times out or the stack closes; pass it to fetch/DB calls that accept one. */
  readonly signal: AbortSignal;
  /** The stale value being refreshed, when there is one. */
  readonly stale: T | undefined;
  /**
   * True for a background stale-while-revalidate refresh (its callers were already answered with the stale value);
   * false for a miss or a stale-if-error reload, whose callers wait for this load.
   */
  readonly background: boolean;
}

/** The function that computes a value on a miss. */
export type Loader<T> = (context: LoaderContext<T>) => T | Promise<T>;

/** Per-entry options; on a call they override the stack's defaults. Durations: a number is seconds. */
export interface CacheEntryOptions<T = unknown> {
  /**
   * How long a value stays fresh: a duration; a calendar ttl (`'until-midnight'`, `'next-hour'`: freshness ends at
   * that boundary in `timeZone`); or a function of the value and the key (as the caller wrote it) called at each
   * write (throwing or returning no duration: not cached, logged). @default the largest layer ttl, else 60 s
   */
  ttl?: Duration | CalendarTtl | TtlFunction<T>;
  /**
   * Randomizes each write's fresh ttl so that keys written together do not expire together: a number is a fraction
   * in [0, 1) (`0.1`: uniformly within ±10%), a string a duration (`'5s'`: within ±5 s). The stale windows follow
   * the jittered freshness; the ttl never goes below 0. Also applies to `negativeTtl` writes. @default 0 (off)
   */
  ttlJitter?: number | Duration;
  /** The IANA time zone of calendar ttls (`'Europe/Paris'`). @default the process's (`Intl.DateTimeFormat().resolvedOptions().timeZone`) */
  timeZone?: string;
  /** How long after freshness a stale value is served at once while it is refreshed in the background. @default 0 (off) */
  staleWhileRevalidate?: Duration;
  /** How long after freshness a stale value is served when the reload fails. @default 0 (off) */
  staleIfError?: Duration;
  /**
   * Negative caching: how long a "not found" (`undefined` or `null`) loader result is kept. Without it,
   * `undefined` is not cached at all and `null` is cached like any value. @default off
   */
  negativeTtl?: Duration;
  /** Tags of the entry, for `invalidateByTag`: names, or a function of the loaded value. */
  tags?: TagsOption<[value: T]>;
  /** Return false to hand a loaded value to the caller without caching it. @default every value is cached */
  shouldCache?: (value: T) => boolean;
  /** How long a loader may run before the callers get a `LoaderTimeoutError`. @default 30 s */
  loaderTimeout?: Duration;
  /**
   * Sliding expiry: every read of a fresh entry extends its freshness by its ttl, in every layer holding it (on
   * Redis one atomic command that never overwrites a newer write), up to `maxTtl` after it was written. A key read
   * more often than its ttl never expires. Shared layers are extended at most once per tenth of the ttl per process
   * (docs/freshness.md). @default false
   */
  slidingTtl?: boolean;
  /** The longest an entry stays fresh after it was written, whatever extends it (`slidingTtl`, `adaptiveTtl`). @default none */
  maxTtl?: Duration;
  /**
   * Adaptive ttl: a hot key's ttl grows by `step` each time it is read `hits` times within one ttl, up to `max`, and
   * falls back to the base `ttl` when it cools. `false` turns a stack default off. @default off
   */
  adaptiveTtl?: AdaptiveTtlOptions | false;
  /**
   * Refresh-ahead: a fraction of the fresh window (e.g. `0.8`) after which a read with a loader is still a hit but
   * starts one background refresh (once per key per cluster, under the stale-while-revalidate lock), so a key read
   * steadily never misses nor serves stale. `0` turns it off. @default 0 (off)
   */
  refreshAhead?: number;
  /**
   * Circuit breaker of the loader: after `failureThreshold` loader failures within `window` the circuit opens, and
   * for `cooldown` a read that needs the loader serves a stale (or stale-if-error) value when there is one, else
   * fails fast with a `CircuitOpenError`; then one probe load half-opens it. `false` turns a default off.
   * @default off
   */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Rate limits of loader runs: at most `concurrency` at once and `perSecond` starts per second per `scope`; excess
   * loads wait up to `maxWait`, then fail with a `RateLimitError`. `false` turns a default off. @default off
   */
  loaderRateLimit?: LoaderRateLimitOptions | false;
}

/** Options of a `CacheStack`: entry defaults plus the stack's own settings. */
export interface CacheStackOptions extends CacheEntryOptions {
  /** Time source for deadlines and timers. @default the system clock */
  clock?: Clock;
  /** Where warnings go. @default console with a `[layercache]` prefix */
  logger?: CacheLogger;
  /** Where tag invalidations live. @default the first shared layer's store (Redis), else in process */
  tagStore?: TagStore;
  /** Hash keys longer than 1,024 characters (SHA-256) instead of rejecting them. @default false */
  hashLongKeys?: boolean;
  /** Longest wait for one command of a shared layer (Redis) before it counts as failed. @default '500ms' */
  layerTimeout?: Duration;
  /** First back-off window after a shared layer fails; doubles on each further failure up to 30 s. @default 1 s */
  layerBackoff?: Duration;
  /**
   * The lock that makes a background (stale-while-revalidate) refresh run once per cluster instead of once
   * per process; `false` for none. Without a shared layer offering one there is no lock: the in-process
   * single-flight already refreshes a key once per process.
   * @default the first shared layer's `createRevalidationLock()` (Redis: `RedisRevalidationLock`), else none
   */
  revalidationLock?: RevalidationLock | false;
  /**
   * How long a revalidation lease lives without being renewed (it is renewed every third of it while the
   * refresh runs): a process that crashes while refreshing blocks that key's refresh for at most this long.
   * Not the stale window. @default 30 s
   */
  revalidationTimeout?: Duration;
  /**
   * The L1 invalidation bus: every set, delete, tag invalidation and clear is announced to the other instances,
   * which drop their in-process copies (e.g. `new RedisInvalidationBus({ client })`). Without it, another
   * instance's L1 keeps serving its copy until that copy's own ttl. @default none
   */
  invalidationBus?: InvalidationBus;
  /**
   * Distributed single-flight: a key missing everywhere is loaded once in the whole cluster, the other
   * instances wait for its value (e.g. `new RedisSingleFlightCoordinator({ client })`). @default none (once per process)
   */
  singleFlight?: LoadCoordinator;
  /**
   * How long a distributed load's lease lives without renewal (renewed every third of it while the loader
   * runs): a process that dies while loading delays the key's load on the others by at most this. @default 5 s
   */
  singleFlightLease?: Duration;
  /**
   * `'strict'`: a `set`/`setMany`/`delete` that a layer does not confirm (failure, timeout, back-off window) is
   * undone where it was applied and rejects with `WriteFailedError` naming the layer (docs/protection.md).
   * Loads' stores stay best-effort. @default 'best-effort'
   */
  writePolicy?: WritePolicy;
  /**
   * Write-behind: sets reach the in-process layers at once and the shared layers in batches (docs/protection.md);
   * no effect without a shared layer; not with `writePolicy: 'strict'`. @default off
   */
  writeBehind?: WriteBehindOptions | false;
  /**
   * OpenTelemetry spans (docs/observability.md): `layercache.load` per loader run, `layercache.refresh` per background
   * refresh, `layercache.<layer>.<operation>` per shared-layer command, children of the caller's active span.
   * `true` uses the global tracer of `@opentelemetry/api` (an optional peer, loaded only then); `{ tracer, name, keys }`
   * picks the tracer, the `cache.stack` attribute and the `cache.key` attribute. @default false (no spans, nothing loaded)
   */
  tracing?: boolean | TracingOptions;
  /**
   * The longest an entry lives: its every deadline (fresh, stale windows, sliding and adaptive extensions) is capped
   * this long after its write, whatever its ttl; tag records and namespace generations expire after it
   * (docs/freshness.md, "Maximum lifetime"). At least 1 s. @default '7d'
   */
  maxLifetime?: Duration;
}

/** Defaults of {@link CacheStackOptions}, in the units users write (numbers are seconds). */
export const DEFAULT_CACHE_STACK_OPTIONS = Object.freeze({
  fallbackTtl: 60,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  loaderTimeout: 30,
  hashLongKeys: false,
  layerTimeout: '500ms',
  layerBackoff: 1,
  maxLayerBackoff: 30,
  recoveryQueueSize: 10_000,
  revalidationTimeout: 30,
  singleFlightLease: 5,
  invalidationLimit: 10_000,
  maxLifetime: '7d',
} as const);

/** Per-entry options resolved once into milliseconds (see `resolvePolicy`). */
export interface EntryPolicy {
  /** The fixed fresh ttl (ms); a write's ttl comes from `write.freshFor` instead when that is set. */
  readonly ttl: number;
  /** Calendar or function ttls, jitter, time zone (ttl-policy.ts); `undefined` for a plain fixed ttl. */
  readonly write: WriteTtlPolicy | undefined;
  readonly swr: number;
  readonly sie: number;
  readonly negativeTtl: number | undefined;
  readonly tags: TagsOption | undefined;
  readonly shouldCache: ((value: unknown) => boolean) | undefined;
  readonly loaderTimeout: number;
  /** `slidingTtl`. */
  readonly sliding: boolean;
  /** `maxTtl` in ms, `undefined` for none. */
  readonly maxTtl: number | undefined;
  /** `adaptiveTtl` in ms (`step` `undefined`: the base ttl), or `undefined` for none. */
  readonly adaptive: AdaptivePolicy | undefined;
  /** `refreshAhead` (a fraction, `0` for none). */
  readonly refreshAhead: number;
  /** `circuitBreaker`, `undefined` for none. */
  readonly breaker: BreakerPolicy | undefined;
  /** `loaderRateLimit`, `undefined` for none. */
  readonly rateLimit: RateLimitPolicy | undefined;
}

/**
 * Resolves entry options over `base` (the stack's policy, or nothing for the stack itself), validating each
 * option and naming it in the error; an unknown option name is one too, unless `checkNames` is false (the stack's
 * own options, whose names the stack checks against its longer list).
 */
export function resolvePolicy(options: CacheEntryOptions | undefined, base: EntryPolicy, checkNames = true): EntryPolicy {
  if (options === undefined) return base;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `expected an object, got ${typeof options}`);
  }
  if (checkNames) checkEntryOptionNames(options);
  const policy: EntryPolicy = {
    ttl: options.ttl === undefined || !isFixedTtl(options.ttl) ? base.ttl : fixedTtlMs(options.ttl),
    write: resolveWriteTtl(options, base.write),
    swr:
      options.staleWhileRevalidate === undefined
        ? base.swr
        : toMilliseconds(options.staleWhileRevalidate, 'staleWhileRevalidate'),
    sie: options.staleIfError === undefined ? base.sie : toMilliseconds(options.staleIfError, 'staleIfError'),
    negativeTtl:
      options.negativeTtl === undefined ? base.negativeTtl : toMilliseconds(options.negativeTtl, 'negativeTtl'),
    tags: options.tags === undefined ? base.tags : checkTagsOption(options.tags),
    shouldCache: options.shouldCache === undefined ? base.shouldCache : checkFunction(options.shouldCache, 'shouldCache'),
    loaderTimeout:
      options.loaderTimeout === undefined ? base.loaderTimeout : toMilliseconds(options.loaderTimeout, 'loaderTimeout'),
    sliding: options.slidingTtl === undefined ? base.sliding : checkBoolean(options.slidingTtl, 'slidingTtl'),
    maxTtl: options.maxTtl === undefined ? base.maxTtl : toMilliseconds(options.maxTtl, 'maxTtl'),
    adaptive: options.adaptiveTtl === undefined ? base.adaptive : resolveAdaptive(options.adaptiveTtl),
    refreshAhead: options.refreshAhead === undefined ? base.refreshAhead : checkFraction(options.refreshAhead, 'refreshAhead'),
    breaker: options.circuitBreaker === undefined ? base.breaker : resolveBreaker(options.circuitBreaker),
    rateLimit: options.loaderRateLimit === undefined ? base.rateLimit : resolveRateLimit(options.loaderRateLimit),
  };
  if (policy.loaderTimeout <= 0) throw new InvalidOptionError('loaderTimeout', 'must be greater than 0');
  if (policy.adaptive !== undefined && policy.adaptive.max < policy.ttl) {
    throw new InvalidOptionError('adaptiveTtl.max', `must be at least the ttl (${policy.ttl} ms), got ${policy.adaptive.max} ms`);
  }
  return policy;
}

/** The policy of a stack without options: `fallbackTtl` seconds fresh, no stale windows. */
export function basePolicy(fallbackTtlMs: number): EntryPolicy {
  return {
    ttl: fallbackTtlMs,
    write: undefined,
    swr: toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.staleWhileRevalidate, 'staleWhileRevalidate'),
    sie: toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.staleIfError, 'staleIfError'),
    negativeTtl: undefined,
    tags: undefined,
    shouldCache: undefined,
    loaderTimeout: toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.loaderTimeout, 'loaderTimeout'),
    sliding: false,
    maxTtl: undefined,
    adaptive: undefined,
    refreshAhead: 0,
    breaker: undefined,
    rateLimit: undefined,
  };
}

function checkTagsOption(tags: TagsOption<never>): TagsOption {
  if (typeof tags === 'function') return tags as TagsOption;
  if (!Array.isArray(tags)) throw new InvalidOptionError('tags', 'expected an array of tag names or a function');
  for (const tag of tags) checkName('tag', tag);
  return tags;
}

function checkFunction<F>(value: F, option: string): F {
  if (typeof value !== 'function') throw new InvalidOptionError(option, `expected a function, got ${typeof value}`);
  return value;
}
