/**
 * The engine behind `CacheStack` and its namespace views, over already-checked internal keys; everything
 * here is framework-free. It owns the read path and the lifecycle, and hands the rest to the parts of the
 * stack, which share one `StackCore` (layers, tags, generations, versions, in-flight work, bus, counters):
 *   - `LayerReader` (layer-reader.ts): reads of the layers, their validation and backfill; bulk reads;
 *   - `LoadRunner` (load-runner.ts): loads and background refreshes, once per process or per cluster;
 *   - `StackWrites` (stack-writes.ts): writes, deletes, clears, pattern, tag and generation invalidations;
 *   - `InFlightWork` (in-flight-work.ts): flights and lookups by key, and their invalidation;
 *   - `LocalInvalidation` (local-invalidation.ts): what peers' announcements do here (`StackBus`).
 *
 * ## Read path (`read`)
 * 1. L1 (a synchronous layer) is asked without an `await`. A fresh entry whose tags are valid is returned
 *    at once: no promise, no allocation besides the caller's own.
 * 2. Otherwise the slower layers are asked in order (`LayerReader.lookup`). The first fresh, valid entry wins
 *    and is backfilled into the faster layers with the same deadlines (a backfill never extends life). A
 *    stale entry is remembered as a candidate (the one fresh the longest) and the walk goes on: a slower
 *    layer may hold a fresher value written by another process.
 * 3. With no fresh entry:
 *    - a candidate in its stale (SWR) window is returned at once, and one background refresh per key is
 *      started (a second stale read while it runs starts none); with a revalidation lock (Redis), only the
 *      process that takes the key's lease refreshes it (`RevalidationCoordinator`, revalidation.ts);
 *    - a candidate in its stale-if-error window is served only if the synchronous reload fails;
 *    - otherwise it is a miss: the loader runs once per key per process (`SingleFlight`), every concurrent
 *      caller shares its promise, its result or its error (`LoadRunner`).
 * Concurrent callers of one key also share the walk through the slower layers (`InFlightWork` lookups): a
 * stampede costs one Redis read, not one per caller.
 * A layer that fails is a miss of that layer (see `LayerGuard`); a cache failure never fails a read that
 * has a loader.
 *
 * ## Invalidation beats in-flight work
 * Races, as interleavings (L = a load of key k, D = a delete/set/clear of k, T = an invalidation of a tag):
 *  (1) L starts, D runs, L finishes: D marked L's flight `invalidated`; L's result goes to its callers and
 *      is not stored.
 *  (2) L checks its flight, stores into L1 and issues its L2 write, then D runs: D deletes L1 synchronously
 *      and its L2 command is queued after L's write on the same connection, so D wins.
 *  (3) L takes its tag snapshot S, T records sequence s > S, L finishes: the entry records S; it is
 *      discarded before the write when T is known here, and invalid on every read otherwise (any process
 *      that fetches the tag's state sees s > S).
 *  (4) A lookup of the slower layers starts, D runs, another read of k starts: it does not join the older
 *      lookup (D forgot it), so it cannot return what D removed.
 * A timed-out loader's late result is dropped with its promise; the flight was already removed.
 * D marks and forgets in `InFlightWork` before it issues its layer commands (`StackWrites`; a peer's D
 * arrives through `LocalInvalidation`); L checks in `LoadRunner.loadAndStore`, a lookup in
 * `LayerReader.lookup`.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { entryState, EntryState, expiresAt } from '../core/entry.js';
import type { CacheEventListener, CacheEventName } from '../core/events.js';
import type { CacheLayer } from '../core/layer.js';
import type { CacheMetrics, LayerMetrics, StackMetrics } from '../core/metrics.js';
import { StackClosedError } from '../core/errors.js';
import type { TagMatchMode } from '../core/tag-store.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';
import type { DistributedLoads } from './distributed-loads.js';
import type { EngineSettings } from './engine-settings.js';
import type { Generations } from './generations.js';
import type { InFlightWork, Lookup, LookupResult } from './in-flight-work.js';
import { LayerReader } from './layer-reader.js';
import type { LayerSet } from './layer-set.js';
import { LoadRunner } from './load-runner.js';
import type { StackBus } from './stack-bus.js';
import { StackCore } from './stack-core.js';
import type { StackEvents } from './stack-events.js';
import type { StackTags } from './stack-tags.js';
import { StackWrites, type EngineWrite } from './stack-writes.js';

/** What `peek` returns when the in-process layer has no fresh value (a value may be `undefined`). */
export const CACHE_MISS: unique symbol = Symbol('nestjs-layercache:miss');

/** How a read was answered; `createdAt` is the served entry's (undefined for a miss: loaded now or nothing). */
export interface ReadInfo {
  status: 'hit' | 'stale' | 'miss' | 'stale-if-error';
  createdAt: number | undefined;
}

function report(info: ReadInfo, status: ReadInfo['status'], createdAt: number | undefined): void {
  info.status = status;
  info.createdAt = createdAt;
}

export class StackEngine {
  readonly policy: EntryPolicy;
  /** The stack's time source. */
  readonly clock: Clock;
  /** Namespace generations (`bumpGeneration`); views read them to build their key prefix. */
  readonly generations: Generations;
  private readonly core: StackCore;
  // Parts of the core held here too: the read path's (one property read less on an L1 hit), and those tests
  // reach by these names (`layers`, `tags`, `bus`, `loads`).
  private readonly layers: LayerSet;
  private readonly l1Metrics: LayerMetrics;
  private readonly tags: StackTags;
  private readonly events: StackEvents;
  private readonly metrics: StackMetrics;
  private readonly inFlight: InFlightWork;
  private readonly bus: StackBus | undefined;
  private readonly loads: DistributedLoads | undefined;
  private readonly reader: LayerReader;
  private readonly runner: LoadRunner;
  private readonly writes: StackWrites;

  constructor(settings: EngineSettings) {
    const core = new StackCore(settings);
    this.core = core;
    this.policy = settings.policy;
    this.clock = core.clock;
    this.generations = core.generations;
    this.layers = core.layers;
    this.l1Metrics = core.layers.metrics[0] as LayerMetrics;
    this.tags = core.tags;
    this.events = core.events;
    this.metrics = core.metrics;
    this.inFlight = core.inFlight;
    this.bus = core.bus;
    this.loads = core.loads;
    this.reader = new LayerReader(core);
    this.runner = new LoadRunner(core, this.reader);
    this.writes = new StackWrites(core);
  }

  /** Resolves once the bus is subscribed (at once without a bus; a failure is logged, not thrown). */
  async ready(): Promise<void> {
    await this.bus?.ready();
    await this.generations.whenFetched();
  }

  // ---------------------------------------------------------------- read path

  /** Reads `key`, loading it with `loader` on a miss. Synchronous on a fresh L1 hit. */
  read<T>(
    key: string,
    userKey: string,
    loader: Loader<T> | undefined,
    policy: EntryPolicy,
    info?: ReadInfo,
  ): T | undefined | Promise<T | undefined> {
    const hit = this.peek(key, info);
    if (hit !== CACHE_MISS) return hit as T;
    let candidate: CacheEntry | undefined;
    const l1 = this.layers.l1;
    if (l1 !== undefined) {
      const entry = l1.get(key);
      if (entry !== undefined && this.clock.now() < expiresAt(entry) && this.tags.isValid(entry)) candidate = entry;
      if (candidate === undefined) this.l1Metrics.misses++;
      else this.l1Metrics.hits++;
      if (this.layers.size === 1) return this.resolve(key, userKey, loader, policy, candidate, candidate === undefined ? -1 : 0, info);
    }
    return this.readSlow(key, userKey, loader, policy, candidate, l1 === undefined ? 0 : 1, info);
  }

  /** The fresh, valid L1 value of `key` (counted as a hit), or `CACHE_MISS`. Synchronous, no I/O. */
  peek(key: string, info?: ReadInfo): unknown {
    this.core.assertOpen();
    const l1 = this.layers.l1;
    const entry = l1?.get(key);
    if (entry === undefined || this.clock.now() >= entry.freshUntil || !this.tags.isValid(entry)) return CACHE_MISS;
    if (info !== undefined) report(info, 'hit', entry.createdAt);
    this.l1Metrics.hits++;
    this.metrics.hits++;
    if (this.events.listened.hit === true) this.events.emit('hit', { key, layer: (l1 as CacheLayer).name });
    return entry.value;
  }

  private async readSlow<T>(
    key: string,
    userKey: string,
    loader: Loader<T> | undefined,
    policy: EntryPolicy,
    candidate: CacheEntry | undefined,
    from: number,
    info: ReadInfo | undefined,
  ): Promise<T | undefined> {
    let lookup = this.inFlight.lookup(key);
    if (lookup === undefined) {
      const started: Lookup = { promise: undefined as unknown as Promise<LookupResult>, floor: 0 };
      started.promise = this.reader.lookup(key, from, started);
      lookup = this.inFlight.share(key, started);
    }
    const found = await lookup.promise;
    let candidateLayer = candidate === undefined ? -1 : 0;
    const entry = found.entry;
    // Re-checked per caller: an invalidation may have happened while the shared lookup ran.
    if (entry !== undefined && this.tags.isValid(entry)) {
      if (this.clock.now() < entry.freshUntil) {
        this.metrics.hits++;
        if (info !== undefined) report(info, 'hit', entry.createdAt);
        if (this.events.listened.hit === true) this.events.emit('hit', { key, layer: this.layers.name(found.layer) });
        return entry.value as T;
      }
      if (candidate === undefined || entry.freshUntil > candidate.freshUntil) {
        candidate = entry;
        candidateLayer = found.layer;
      }
    }
    return this.resolve(key, userKey, loader, policy, candidate, candidateLayer, info);
  }

  /** The answer when no layer had a fresh entry. */
  private resolve<T>(
    key: string,
    userKey: string,
    loader: Loader<T> | undefined,
    policy: EntryPolicy,
    candidate: CacheEntry | undefined,
    candidateLayer: number,
    info: ReadInfo | undefined,
  ): T | undefined | Promise<T | undefined> {
    if (candidate !== undefined) {
      if (entryState(candidate, this.clock.now()) === EntryState.Stale) {
        this.metrics.stale++;
        if (info !== undefined) report(info, 'stale', candidate.createdAt);
        if (this.events.listened.stale === true) this.events.emit('stale', { key, layer: this.layers.name(candidateLayer) });
        if (loader !== undefined) this.runner.revalidate(key, userKey, loader, policy, candidate);
        return candidate.value as T;
      }
      if (loader !== undefined) return this.loadOrServeStale(key, userKey, loader, policy, candidate, candidateLayer, info);
    }
    this.metrics.misses++;
    if (info !== undefined) report(info, 'miss', undefined);
    this.events.emit('miss', { key });
    return loader === undefined ? undefined : this.runner.load(key, userKey, loader, policy, undefined);
  }

  /** Stale-if-error: reload synchronously, serve the stale value when the reload fails. */
  private async loadOrServeStale<T>(
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry,
    staleLayer: number,
    info: ReadInfo | undefined,
  ): Promise<T> {
    try {
      const value = await this.runner.load(key, userKey, loader, policy, stale);
      if (info !== undefined) report(info, 'miss', undefined);
      return value;
    } catch (error) {
      if (info !== undefined) report(info, 'stale-if-error', stale.createdAt);
      this.metrics.staleIfError++;
      this.metrics.stale++;
      this.core.log.warn(`Loader for "${userKey}" failed; serving the stale value (stale-if-error)`, error);
      this.events.emit('stale', { key, layer: this.layers.name(staleLayer) });
      return stale.value as T;
    }
  }

  // ---------------------------------------------------------------- writes (see `StackWrites`), bulk reads

  /** Stores many values (`set`, `setMany`), one bulk write per layer; running loads of them will not overwrite. */
  storeMany(writes: readonly EngineWrite[]): Promise<void> {
    return this.writes.storeMany(writes);
  }

  /** Deletes keys from every layer and makes running loads of them discard their results. */
  delete(keys: readonly string[]): Promise<void> {
    return this.writes.delete(keys);
  }

  /** Removes every entry under `prefix` (all when `undefined`) from every layer. */
  clear(prefix: string | undefined): Promise<void> {
    return this.writes.clear(prefix);
  }

  /** Deletes the keys under `prefix` matching `glob`, everywhere; see `StackWrites.invalidateMatching`. */
  invalidateMatching(prefix: string, glob: string | undefined, limit: number, what: string): Promise<number> {
    return this.writes.invalidateMatching(prefix, glob, limit, what);
  }

  /** Invalidates tags everywhere the tag store reaches; recorded here at once. */
  invalidateTags(tags: readonly string[], mode: TagMatchMode): Promise<void> {
    return this.writes.invalidateTags(tags, mode);
  }

  /** Moves every key under `scope` (a namespace's prefix, `''` for all) to a new generation, everywhere. */
  bumpGeneration(scope: string): Promise<number> {
    return this.writes.bumpGeneration(scope);
  }

  /** Reads many keys (no loader): values in order, `undefined` for misses. */
  readMany(keys: readonly string[]): Promise<unknown[]> {
    return this.reader.readMany(keys);
  }

  // ---------------------------------------------------------------- events, metrics, lifecycle

  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.on(event, listener);
  }

  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.off(event, listener);
  }

  getMetrics(): CacheMetrics {
    const core = this.core;
    return {
      stack: { ...this.metrics },
      layers: this.layers.snapshot(),
      tagStore: { ...core.tagCounters },
      revalidationLock: { ...core.lockCounters },
      bus: this.bus === undefined ? undefined : { ...this.bus.metrics },
      singleFlight: this.loads === undefined ? undefined : { ...this.loads.metrics, ...(core.loadCounters as { errors: number; skipped: number }) },
    };
  }

  /** Resolves once no background work (refreshes, backfills, replays) is pending. */
  idle(): Promise<void> {
    return this.core.idle();
  }

  /** Aborts running loads, waits for background work, closes layers and the tag store. */
  async close(): Promise<void> {
    const core = this.core;
    if (core.closed) return;
    core.closed = true;
    this.inFlight.flights.abortAll(new StackClosedError());
    await core.idle();
    await this.layers.close();
    await this.tags.close();
    await this.inFlight.revalidation?.close();
    this.generations.close();
    await this.loads?.close();
    await this.bus?.close();
    this.events.removeAll();
  }
}
