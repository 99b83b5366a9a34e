/**
 * The counters `CacheStack.getMetrics()` returns (per layer, stack, bus, single-flight) and their zeroed sets.
 * Plain numbers, incremented in place on the hot path and copied into a snapshot when read; latency
 * distributions (per layer and operation, loader runs, bus lag) are `LatencyMetrics` (latency.ts).
 */
import { LatencyRecorder, newRecorders, type LatencyMetrics } from './latency.js';

export { LATENCY_BUCKETS_MS, type LatencyMetrics } from './latency.js';

/** The layer commands whose latency is measured (`getMany` counts as one `get`, `setMany` as one `set`). */
export type LayerOperation = 'get' | 'set' | 'delete' | 'clear' | 'touch';

/** Every {@link LayerOperation}, in a fixed order. */
export const LAYER_OPERATIONS: readonly LayerOperation[] = Object.freeze(['get', 'set', 'delete', 'clear', 'touch'] as const);

/** Counters of one layer, as returned by `CacheStack.getMetrics()`. */
export interface LayerMetrics {
  /** Reads answered with a usable (fresh or stale) entry. */
  hits: number;
  /** Reads that found nothing usable. */
  misses: number;
  /** Entries the layer confirmed writing (including backfills); see `setAttempts`. */
  sets: number;
  /** Entries written to the layer, confirmed or not (a shared layer down or in its back-off window counts here, not in `sets`). */
  setAttempts: number;
  /** Keys deleted. */
  deletes: number;
  /** Copies written into this layer from a slower one. */
  backfills: number;
  /** Commands that failed or timed out. */
  errors: number;
  /** Commands skipped because the layer was in its back-off window. */
  skipped: number;
  /**
   * Reads that found data under the key which is not an entry this layer can decode (another program's
   * bytes, another format version, a truncated write, a value the serializer cannot read). Each is also a
   * miss; the next write of the key replaces the data.
   */
  undecodable: number;
  /**
   * Duration of the layer's commands per operation (ms): from the call to its answer or failure, a timeout included;
   * a command skipped in the back-off window is not timed. The synchronous first layer's reads (the L1 hit path) are
   * sampled: one read in {@link L1_READ_SAMPLE} is timed, so their `count` is that share of the reads.
   */
  latency: Readonly<Record<LayerOperation, LatencyMetrics>>;
}

/** One synchronous L1 read in this many is timed (timing every one would cost more than the hit itself). */
export const L1_READ_SAMPLE = 64;

/** Counters of the stack as a whole. */
export interface StackMetrics {
  /** `get` calls answered with a fresh entry. */
  hits: number;
  /** `get` calls answered with a stale entry (SWR or stale-if-error). */
  stale: number;
  /** `get` calls that found nothing usable. */
  misses: number;
  /** Loader runs (misses with a loader, and background refreshes). */
  loads: number;
  /** Loader runs that threw or timed out. */
  loadErrors: number;
  /** Callers that joined a running load instead of starting one. */
  dedupes: number;
  /** Background refreshes that stored a value. */
  refreshes: number;
  /** Background refreshes that failed. */
  refreshErrors: number;
  /**
   * Refreshes started by refresh-ahead: a read of a still-fresh entry past its `refreshAhead` point (each is also
   * counted in `refreshes`, `refreshErrors` or `refreshesSkipped` once settled).
   */
  refreshesAhead: number;
  /**
   * Background refreshes not started because another process held the key's revalidation lock (it is
   * refreshing; the stale value is served meanwhile).
   */
  refreshesSkipped: number;
  /** Loads whose result was not stored because the key or a tag was invalidated meanwhile. */
  discardedLoads: number;
  /** Stale values served because a reload failed (stale-if-error). */
  staleIfError: number;
  /**
   * Fresh reads that moved a sliding entry's freshness later (`slidingTtl`): each re-stamps the in-process copy; the
   * shared layers are extended at most once per tenth of the entry's ttl per key (docs/freshness.md).
   */
  slidingExtensions: number;
  /** Times a hot key's adaptive ttl was raised by its `step` (`adaptiveTtl`), the live entry extended with it. */
  adaptiveRaises: number;
  /** Times a key with a raised adaptive ttl cooled (a window of its ttl with fewer than `hits` reads): its next write uses the base ttl. */
  adaptiveResets: number;
  /** `warm()` entries loaded (their loader ran here). */
  warmed: number;
  /** `warm()` entries not reloaded because a fresh value was cached (here, by a peer, or by a running load). */
  warmSkipped: number;
  /** `warm()` entries whose load failed. */
  warmFailed: number;
  /** Times a loader circuit opened (`circuitBreaker`), a failed probe reopening it included. */
  circuitOpens: number;
  /**
   * Loads refused by an open circuit without calling the loader: misses failed fast, stale-if-error values served,
   * background refreshes skipped.
   */
  circuitRejections: number;
  /** Loader circuits open right now (half-open ones, whose probe runs, included): a gauge, not a counter. */
  openCircuits: number;
  /** Loads that waited for room in their `loaderRateLimit` bucket. */
  rateLimitWaits: number;
  /** Loads refused by `loaderRateLimit` (a `RateLimitError`, a stale-if-error value served, or a refresh dropped). */
  rateLimited: number;
}

/** A snapshot of every counter. */
export interface CacheMetrics {
  readonly stack: Readonly<StackMetrics>;
  readonly layers: Readonly<Record<string, Readonly<LayerMetrics>>>;
  /** Failures and skipped commands of a shared tag store given as `tagStore` (a layer's own store counts as that layer). */
  readonly tagStore: Readonly<{ errors: number; skipped: number }>;
  /** Failures and skipped commands of a shared lock given as `revalidationLock` (a layer's own lock counts as that layer). */
  readonly revalidationLock: Readonly<{ errors: number; skipped: number }>;
  /** The L1 invalidation bus (`undefined` without one). */
  readonly bus: Readonly<BusMetrics> | undefined;
  /** Once-per-cluster loads (`undefined` without a coordinator), with its command failures. */
  readonly singleFlight: Readonly<SingleFlightMetrics> | undefined;
  /** Write-behind's queue (`undefined` without `writeBehind` or without a shared layer). */
  readonly writeBehind: Readonly<WriteBehindMetrics> | undefined;
  /** Writes under `writePolicy: 'strict'` that a layer did not confirm (rejected with `WriteFailedError`). */
  readonly strictWriteFailures: number;
  /** Duration of every loader run (misses, background refreshes, `warm()`), failed and timed-out ones included (ms). */
  readonly loaderDuration: Readonly<LatencyMetrics>;
}

/** Counters of write-behind (`writeBehind`). */
export interface WriteBehindMetrics {
  /** Sets of a key not queued yet that were queued. */
  queued: number;
  /** Sets of a key already queued: its entry was replaced (last write wins; one write is sent). */
  replaced: number;
  /** Entries sent to the shared layers by flushes that every shared layer confirmed. */
  flushed: number;
  /** Flushes sent (one `setMany` per shared layer each; a pipeline per slot on a Cluster). */
  batches: number;
  /** Queued writes dropped because their key was deleted, cleared or invalidated (here or by a newer write of a peer). */
  cancelled: number;
  /** Flushes a shared layer did not take (its keys are deleted from that layer when it recovers). */
  failedFlushes: number;
  /** Sets written through to the shared layers at once because `maxQueue` keys were waiting. */
  writtenThrough: number;
  /** Entries waiting or being sent now. */
  pending: number;
}

/** Counters of the invalidation bus. */
export interface BusMetrics {
  /** Messages sent. */
  published: number;
  /** Messages that could not be sent. */
  publishErrors: number;
  /** Peers' messages received (before the checks of their counters). */
  received: number;
  /** Peers' messages rejected (or capped) because a counter was beyond what peers and the store can produce. */
  rejected: number;
  /** Times the in-process layer was cleared because the subscription was interrupted. */
  resyncs: number;
  /**
   * Publish → receive delay of peers' messages (ms): this process's clock at delivery minus the timestamp the sender
   * stamped (so it includes the clock difference of the two machines; a negative one counts as 0). Only messages
   * that carry a timestamp are timed: `RedisInvalidationBus` stamps signed messages (`secret`), not unsigned ones.
   */
  lag: LatencyMetrics;
}

/** Counters of distributed single-flight. */
export interface SingleFlightMetrics {
  /** Loads this process ran holding the cluster-wide lease. */
  leads: number;
  /** Flights that waited for a peer's load instead of loading. */
  follows: number;
  /** Flights served a peer's value (after waiting, or on re-reading once leader). */
  servedFromPeer: number;
  /** Loads run locally because the coordinator failed or a wait timed out. */
  localFallbacks: number;
  /** Coordinator commands that failed or timed out. */
  errors: number;
  /** Coordinator commands skipped in its back-off window. */
  skipped: number;
}

/** A layer's counters as kept in place: its latencies are recorders (they read as `LatencyMetrics`). */
export interface LiveLayerMetrics extends LayerMetrics {
  readonly latency: Readonly<Record<LayerOperation, LatencyRecorder>>;
}

/** A zeroed set of layer counters. */
export function newLayerMetrics(): LiveLayerMetrics {
  return {
    hits: 0,
    misses: 0,
    sets: 0,
    setAttempts: 0,
    deletes: 0,
    backfills: 0,
    errors: 0,
    skipped: 0,
    undecodable: 0,
    latency: newRecorders(LAYER_OPERATIONS),
  };
}

/** A zeroed set of stack counters. */
export function newStackMetrics(): StackMetrics {
  return {
    hits: 0,
    stale: 0,
    misses: 0,
    loads: 0,
    loadErrors: 0,
    dedupes: 0,
    refreshes: 0,
    refreshErrors: 0,
    refreshesAhead: 0,
    refreshesSkipped: 0,
    discardedLoads: 0,
    staleIfError: 0,
    slidingExtensions: 0,
    adaptiveRaises: 0,
    adaptiveResets: 0,
    warmed: 0,
    warmSkipped: 0,
    warmFailed: 0,
    circuitOpens: 0,
    circuitRejections: 0,
    openCircuits: 0,
    rateLimitWaits: 0,
    rateLimited: 0,
  };
}
