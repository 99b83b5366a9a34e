/**
 * The engine behind `CacheStack` and its namespace views: the read path, the write path, background
 * revalidation and tags, over already-checked internal keys. Everything here is framework-free.
 *
 * ## Read path (`read`)
 * 1. L1 (a synchronous layer) is asked without an `await`. A fresh entry whose tags are valid is returned
 *    at once: no promise, no allocation besides the caller's own.
 * 2. Otherwise the slower layers are asked in order. The first fresh, valid entry wins and is backfilled
 *    into the faster layers with the same deadlines (a backfill never extends life). A stale entry is
 *    remembered as a candidate (the one fresh the longest) and the walk goes on: a slower layer may hold a
 *    fresher value written by another process.
 * 3. With no fresh entry:
 *    - a candidate in its stale (SWR) window is returned at once, and one background refresh per key is
 *      started (a second stale read while it runs starts none); with a revalidation lock (Redis), only the
 *      process that takes the key's lease refreshes it (`RevalidationCoordinator`, revalidation.ts);
 *    - a candidate in its stale-if-error window is served only if the synchronous reload fails;
 *    - otherwise it is a miss: the loader runs once per key per process (`SingleFlight`), every concurrent
 *      caller shares its promise, its result or its error.
 * Concurrent callers of one key also share the walk through the slower layers (`lookups`): a stampede costs
 * one Redis read, not one per caller.
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
 *
 * Collaborators: `LayerSet` (layer commands, guards, recovery), `StackTags` (tag store and validation),
 * `StackEvents`, `buildEntry`, `callLoader`.
 */
import type { Clock } from '../core/clock.js';
import { entryState, EntryState, expiresAt, type CacheEntry } from '../core/entry.js';
import { InvalidationLimitError, InvalidationScanError, StackClosedError } from '../core/errors.js';
import type { CacheEventListener, CacheEventName } from '../core/events.js';
import type { InvalidationBus, InvalidationMessage } from '../core/invalidation-bus.js';
import type { CacheLayer } from '../core/layer.js';
import type { LoadCoordinator, LoadLease } from '../core/load-coordinator.js';
import type { BurstLogger, CacheLogger } from '../core/logger.js';
import { newStackMetrics, type CacheMetrics, type LayerMetrics } from '../core/metrics.js';
import type { RevalidationLock } from '../core/revalidation-lock.js';
import { SingleFlight, type Flight } from '../core/single-flight.js';
import type { TagMatchMode, TagStore } from '../core/tag-store.js';
import { VersionClock } from '../core/version-clock.js';
import { callLoader } from './call-loader.js';
import { DistributedLoads } from './distributed-loads.js';
import { Generations } from './generations.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';
import { buildEntry } from './entry-builder.js';
import { LayerGuard, type GuardSettings } from './layer-guard.js';
import { LayerSet, type KeyedEntry } from './layer-set.js';
import { RevalidationCoordinator } from './revalidation.js';
import { StackBus, type BusTarget } from './stack-bus.js';
import { StackEvents } from './stack-events.js';
import { StackTags } from './stack-tags.js';

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

/** What the slower layers hold for a key: the best entry found and the index of its layer. */
interface LookupResult {
  readonly entry: CacheEntry | undefined;
  readonly layer: number;
}

/** A read of the slower layers in flight, shared by the concurrent callers of one key. */
interface Lookup {
  promise: Promise<LookupResult>;
  /** Set when the key was written, deleted or cleared meanwhile: what it read must not be backfilled. */
  invalidated: boolean;
}

/** One entry of a bulk write, resolved. */
export interface EngineWrite {
  readonly key: string;
  readonly value: unknown;
  readonly policy: EntryPolicy;
}

/** Everything the engine needs, resolved by `CacheStack`. */
export interface EngineSettings {
  readonly layers: readonly CacheLayer[];
  readonly policy: EntryPolicy;
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly tagStore: TagStore;
  /** The index of the layer the tag store belongs to (`createTagStore`), if it does. */
  readonly tagStoreLayer: number | undefined;
  readonly guard: GuardSettings;
  /** Most keys remembered per shared layer while it fails, to replay their invalidation on recovery. */
  readonly recoveryQueueSize: number;
  /** The lock of background refreshes (once per cluster), or `undefined` for none (once per process). */
  readonly revalidation: RevalidationSettings | undefined;
  /** The L1 invalidation bus, or `undefined` for none (a single process). */
  readonly bus: InvalidationBus | undefined;
  /** Once-per-cluster loads of missing keys, or `undefined` (once per process). */
  readonly singleFlight: { readonly coordinator: LoadCoordinator; readonly leaseTtl: number } | undefined;
  /** The user's logger, for the bus's informational lines. */
  readonly logger: CacheLogger;
}

/** The revalidation lock of a stack, resolved by `CacheStack`. */
export interface RevalidationSettings {
  readonly lock: RevalidationLock;
  /** The index of the layer the lock belongs to (`createRevalidationLock`), if it does. */
  readonly layer: number | undefined;
  /** The lease ttl in ms (`revalidationTimeout`). */
  readonly timeout: number;
}

export class StackEngine {
  readonly policy: EntryPolicy;
  private readonly layers: LayerSet;
  private readonly l1Metrics: LayerMetrics;
  private readonly tags: StackTags;
  private readonly tagCounters = { errors: 0, skipped: 0 };
  private readonly lockCounters = { errors: 0, skipped: 0 };
  private readonly revalidation: RevalidationCoordinator | undefined;
  private readonly events: StackEvents;
  private readonly metrics = newStackMetrics();
  /** The stack's time source. */
  readonly clock: Clock;
  private readonly log: BurstLogger;
  private readonly flights = new SingleFlight();
  /** Slow-layer reads in flight by key: concurrent misses of one key read Redis once, not once each. */
  private readonly lookups = new Map<string, Lookup>();
  /** Versions of writes and loads (see `VersionClock`). */
  private readonly versions: VersionClock;
  private readonly bus: StackBus | undefined;
  private readonly loads: DistributedLoads | undefined;
  /** Namespace generations (`bumpGeneration`); views read them to build their key prefix. */
  readonly generations: Generations;
  private readonly background = new Set<Promise<void>>();
  private closed = false;

  constructor(settings: EngineSettings) {
    this.policy = settings.policy;
    this.clock = settings.clock;
    this.log = settings.log;
    this.events = new StackEvents(settings.log);
    const onError = (layer: string, operation: string, error: unknown) => this.events.emit('layer-error', { layer, operation, error });
    this.layers = new LayerSet(settings.layers, settings, this.clock, this.log, onError, (index) => this.track(this.recovered(index)));
    this.l1Metrics = this.layers.metrics[0] as LayerMetrics;
    // A store that lives beside a layer's data (RedisLayer.createTagStore) shares that layer's connection,
    // so it shares its guard too: one back-off window, and the layer's recovery replays both.
    const layerGuard = settings.tagStoreLayer === undefined ? undefined : this.layers.guards[settings.tagStoreLayer];
    const tagGuard = !settings.tagStore.shared
      ? undefined
      : (layerGuard ??
        new LayerGuard('tag-store', this.tagCounters, settings.guard, this.clock, this.log, onError, () =>
          this.track(this.tags.replay()),
        ));
    this.tags = new StackTags(settings.tagStore, tagGuard, settings.recoveryQueueSize, this.log);
    this.generations = new Generations(settings.tagStore, tagGuard, this.log, this.clock, settings.guard.timeout, settings.guard.backoff);
    this.generations.watch('');
    const lock = settings.revalidation;
    if (lock !== undefined) {
      // A layer's own lock shares its connection, so its guard; a lock given by the user gets one of its own.
      const lockGuard =
        lock.layer !== undefined
          ? this.layers.guards[lock.layer]
          : lock.lock.shared
            ? new LayerGuard('revalidation-lock', this.lockCounters, settings.guard, this.clock, this.log, onError)
            : undefined;
      this.revalidation = new RevalidationCoordinator(lock.lock, lockGuard, lock.timeout, this.clock, this.metrics);
    }
    this.versions = new VersionClock(this.clock);
    if (settings.singleFlight !== undefined) {
      const counters = { errors: 0, skipped: 0 };
      const guard = new LayerGuard('single-flight', counters, settings.guard, this.clock, this.log, onError);
      this.loads = new DistributedLoads(settings.singleFlight.coordinator, guard, settings.singleFlight.leaseTtl, this.clock);
      this.loadCounters = counters;
    }
    if (settings.bus !== undefined) this.bus = new StackBus(settings.bus, this.busTarget(), this.log, settings.logger);
  }

  private loadCounters: { errors: number; skipped: number } | undefined;

  /** Resolves once the bus is subscribed (at once without a bus; a failure is logged, not thrown). */
  async ready(): Promise<void> {
    await this.bus?.ready();
    await this.generations.whenFetched();
  }

  /** Moves every key under `scope` (a namespace's prefix, `''` for all) to a new generation, everywhere. */
  async bumpGeneration(scope: string): Promise<number> {
    this.assertOpen();
    const generation = await this.generations.bump(scope);
    this.dropScope(scope);
    this.announce({ kind: 'generation', scope, generation });
    return generation;
  }

  /** Forgets this process's copies and running work under `scope` (after a generation change). */
  private dropScope(scope: string): void {
    const prefix = scope === '' ? undefined : scope;
    this.invalidatePrefix(prefix);
    for (const layer of this.layers.layers) {
      if (layer.shared) continue;
      try {
        void Promise.resolve(layer.clear(prefix)).catch((error: unknown) => this.log.warn(`Layer "${layer.name}" failed to drop a namespace`, error));
      } catch (error) {
        this.log.warn(`Layer "${layer.name}" failed to drop a namespace`, error);
      }
    }
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
    this.assertOpen();
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
    let lookup = this.lookups.get(key);
    if (lookup === undefined) {
      const started: Lookup = { promise: undefined as unknown as Promise<LookupResult>, invalidated: false };
      started.promise = this.lookupLayers(key, from, started);
      lookup = started;
      this.lookups.set(key, started);
      const forget = () => {
        if (this.lookups.get(key) === started) this.lookups.delete(key);
      };
      void started.promise.then(forget, forget);
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

  /**
   * Reads the slower layers once for every concurrent caller of `key`: the first fresh entry, else the stale
   * one fresh the longest. Backfills the faster layers (a stale entry only over an older copy) unless the key
   * was invalidated while it read (`lookup.invalidated`): an old value read then must not land in L1.
   */
  private async lookupLayers(key: string, from: number, lookup: Lookup): Promise<LookupResult> {
    let stale: CacheEntry | undefined;
    let staleLayer = -1;
    for (let i = from; i < this.layers.size; i++) {
      const entry = await this.usable(i, key);
      if (entry === undefined) continue;
      if (this.clock.now() < entry.freshUntil) {
        if (!lookup.invalidated) this.backfill(key, entry, i);
        return { entry, layer: i };
      }
      if (stale === undefined || entry.freshUntil > stale.freshUntil) {
        stale = entry;
        staleLayer = i;
      }
    }
    if (stale !== undefined && staleLayer > 0 && !lookup.invalidated) {
      const upper = this.layers.l1?.get(key);
      if (upper === undefined || upper.freshUntil < stale.freshUntil) this.backfill(key, stale, staleLayer);
    }
    return { entry: stale, layer: staleLayer };
  }

  /** A usable entry of layer `index` (not expired, tags valid), or `undefined` for a miss or a failure. */
  private async usable(index: number, key: string): Promise<CacheEntry | undefined> {
    const entry = await this.layers.get(index, key);
    if (entry !== undefined) this.versions.observe(entry.version);
    const metrics = this.layers.metrics[index] as LayerMetrics;
    let ok = entry !== undefined && this.clock.now() < expiresAt(entry);
    if (ok && entry?.tags !== undefined) {
      ok = this.layers.guards[index] === undefined ? this.tags.isValid(entry) : ((await this.tags.validateShared([entry]))[0] ?? false);
    }
    if (ok) metrics.hits++;
    else metrics.misses++;
    return ok ? entry : undefined;
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
        if (loader !== undefined) this.revalidate(key, userKey, loader, policy, candidate);
        return candidate.value as T;
      }
      if (loader !== undefined) return this.loadOrServeStale(key, userKey, loader, policy, candidate, candidateLayer, info);
    }
    this.metrics.misses++;
    if (info !== undefined) report(info, 'miss', undefined);
    this.events.emit('miss', { key });
    return loader === undefined ? undefined : this.load(key, userKey, loader, policy, undefined);
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
      const value = await this.load(key, userKey, loader, policy, stale);
      if (info !== undefined) report(info, 'miss', undefined);
      return value;
    } catch (error) {
      if (info !== undefined) report(info, 'stale-if-error', stale.createdAt);
      this.metrics.staleIfError++;
      this.metrics.stale++;
      this.log.warn(`Loader for "${userKey}" failed; serving the stale value (stale-if-error)`, error);
      this.events.emit('stale', { key, layer: this.layers.name(staleLayer) });
      return stale.value as T;
    }
  }

  /** Joins the running load of `key` or starts one. */
  private load<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry | undefined): Promise<T> {
    const running = this.flights.get<T>(key);
    if (running !== undefined) {
      this.metrics.dedupes++;
      this.events.emit('stampede-dedupe', { key });
      return running.promise;
    }
    return this.flights.start<T>(key, (flight) => this.runLoad(flight, key, userKey, loader, policy, stale)).promise;
  }

  /**
   * Starts one background refresh of `key` unless a load of it is already running: at once without a
   * revalidation lock, else once the lock's lease is taken (see `RevalidationCoordinator`).
   */
  private revalidate<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): void {
    if (this.flights.get(key) !== undefined) return;
    const coordinator = this.revalidation;
    if (coordinator === undefined) this.track(this.refresh(key, userKey, loader, policy, stale));
    else if (!coordinator.pending(key)) {
      const start = () => {
        if (this.flights.get(key) !== undefined) return undefined;
        const refresh = this.refresh(key, userKey, loader, policy, stale);
        // Asked for before close(), as a refresh without a lock would have been: close() aborts it the same way.
        if (this.closed) this.flights.get(key)?.controller.abort(new StackClosedError());
        return refresh;
      };
      this.track(coordinator.revalidate(key, start));
    }
  }

  /** Runs a background refresh of `key`; the promise settles (never rejects) when it is done. */
  private refresh<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): Promise<void> {
    const flight = this.flights.start<T>(key, (f) => this.runLoad(f, key, userKey, loader, policy, stale));
    return flight.promise.then(
      () => {
        this.metrics.refreshes++;
        this.log.success('background refresh');
        this.events.emit('refresh', { key });
      },
      (error: unknown) => {
        if (this.closed) return; // aborted by close(): not a failure of the source
        this.metrics.refreshErrors++;
        this.log.failure('background refresh', `Background refresh of "${userKey}" failed; the stale value is still served`, error);
        this.events.emit('refresh-error', { key, error });
      },
    );
  }

  private async runLoad<T>(
    flight: Flight<T>,
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry | undefined,
  ): Promise<T> {
    let lease: LoadLease | undefined;
    if (this.loads !== undefined && stale === undefined) {
      // A miss of every layer: once per cluster (a refresh of a stale entry has the revalidation lock instead).
      const turn = await this.loads.begin(key, () => this.reread(key), policy.loaderTimeout);
      if (turn.entry !== undefined) return turn.entry.value as T;
      lease = turn.lease;
    }
    let filled = false;
    const stopRenewing = lease === undefined ? undefined : (this.loads as DistributedLoads).keepAlive(lease);
    try {
      filled = await this.loadAndStore(flight, key, userKey, loader, policy, stale, lease);
      return flight.result as T;
    } finally {
      if (lease !== undefined) {
        (stopRenewing as () => void)();
        this.track((this.loads as DistributedLoads).finish(lease, filled));
      }
    }
  }

  /**
   * Runs the loader and stores its result as "write if newer" at the version taken before it ran (the lease's
   * fencing version when there is one). Leaves the value in `flight.result`; true when it was stored.
   */
  private async loadAndStore<T>(
    flight: Flight<T>,
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry | undefined,
    lease: LoadLease | undefined,
  ): Promise<boolean> {
    this.metrics.loads++;
    let version: number;
    if (lease === undefined) version = this.versions.next();
    else {
      version = lease.version;
      this.versions.observe(version);
    }
    const tagSeq = policy.tags === undefined ? 0 : await this.tags.snapshot();
    let value: T;
    try {
      value = await callLoader(this.clock, flight, userKey, loader, policy.loaderTimeout, stale?.value as T | undefined);
    } catch (error) {
      this.metrics.loadErrors++;
      throw error;
    }
    flight.result = value;
    if (flight.invalidated) {
      this.metrics.discardedLoads++;
      return false;
    }
    const entry = this.entry(key, value, policy, tagSeq, version);
    if (entry === undefined) return false;
    if (!this.tags.isValid(entry)) {
      this.metrics.discardedLoads++; // a tag was invalidated while the loader ran
      return false;
    }
    await this.layers.write([{ key, entry }], undefined, true);
    this.announce({ kind: 'keys', keys: [key], version });
    this.events.emit('set', { key });
    return true;
  }

  /** The shared layers' fresh, valid entry of `key` (backfilled into L1), for distributed loads. */
  private async reread(key: string): Promise<CacheEntry | undefined> {
    const from = this.layers.l1 === undefined ? 0 : 1;
    const found = await this.lookupLayers(key, from, { promise: undefined as unknown as Promise<LookupResult>, invalidated: false });
    const entry = found.entry;
    return entry !== undefined && this.clock.now() < entry.freshUntil && this.tags.isValid(entry) ? entry : undefined;
  }

  // ---------------------------------------------------------------- write path

  /** Stores many values (`set`, `setMany`), one bulk write per layer; running loads of them will not overwrite. */
  async storeMany(writes: readonly EngineWrite[]): Promise<void> {
    this.assertOpen();
    const keys = writes.map((w) => w.key);
    this.invalidateKeys(keys);
    const version = this.versions.next();
    const tagSeq = writes.some((w) => w.policy.tags !== undefined) ? await this.tags.snapshot() : 0;
    const entries: KeyedEntry[] = [];
    for (const w of writes) {
      const entry = this.entry(w.key, w.value, w.policy, tagSeq, version);
      if (entry !== undefined) entries.push({ key: w.key, entry });
    }
    await this.layers.write(entries);
    this.announce({ kind: 'keys', keys, version });
    if (this.events.listened.set === true) for (const { key } of entries) this.events.emit('set', { key });
  }

  /** The envelope of a value, or `undefined` when it is not to be cached (or its options threw: logged). */
  private entry(key: string, value: unknown, policy: EntryPolicy, tagSeq: number, version: number): CacheEntry | undefined {
    try {
      return buildEntry(value, policy, tagSeq, this.clock.now(), version);
    } catch (error) {
      this.log.warn(`Not caching "${key}": its shouldCache or tags option threw`, error);
      return undefined;
    }
  }

  /** Copies an entry found in layer `index` into the faster layers, keeping its deadlines. */
  private backfill(key: string, entry: CacheEntry, index: number): void {
    if (index === 0) return;
    for (let i = 0; i < index; i++) {
      (this.layers.metrics[i] as LayerMetrics).backfills++;
      if (this.events.listened.backfill === true) this.events.emit('backfill', { key, from: this.layers.name(index), to: this.layers.name(i) });
    }
    this.track(this.layers.write([{ key, entry }], index, true));
  }

  /** Reads many keys (no loader): values in order, `undefined` for misses. */
  async readMany(keys: readonly string[]): Promise<unknown[]> {
    this.assertOpen();
    const values = new Array<unknown>(keys.length);
    let missing = keys.map((_, i) => i);
    for (let layer = 0; layer < this.layers.size && missing.length > 0; layer++) {
      const found = await this.usableMany(layer, missing.map((i) => keys[i] as string));
      const stillMissing: number[] = [];
      const backfills: KeyedEntry[] = [];
      const now = this.clock.now();
      missing.forEach((keyIndex, j) => {
        const entry = found[j];
        // Without a loader, an entry past its stale window is a miss (as for `get`); a slower layer may do better.
        if (entry === undefined || now >= entry.staleUntil) {
          stillMissing.push(keyIndex);
          return;
        }
        values[keyIndex] = entry.value;
        if (now < entry.freshUntil) this.metrics.hits++;
        else this.metrics.stale++;
        if (layer > 0) backfills.push({ key: keys[keyIndex] as string, entry });
      });
      if (backfills.length > 0) this.track(this.layers.write(backfills, layer));
      missing = stillMissing;
    }
    this.metrics.misses += missing.length;
    return values;
  }

  /** `usable` for many keys of one layer: one bulk read, one tag fetch. */
  private async usableMany(index: number, keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    const entries = (await this.layers.getMany(index, keys)) ?? keys.map(() => undefined);
    const now = this.clock.now();
    const live = entries.map((entry) => (entry !== undefined && now < expiresAt(entry) ? entry : undefined));
    const valid = this.layers.guards[index] === undefined ? live.map((e) => e !== undefined && this.tags.isValid(e)) : await this.tags.validateShared(live);
    const metrics = this.layers.metrics[index] as LayerMetrics;
    return live.map((entry, i) => {
      if (valid[i] === true) metrics.hits++;
      else metrics.misses++;
      return valid[i] === true ? entry : undefined;
    });
  }

  /** Deletes keys from every layer and makes running loads of them discard their results. */
  async delete(keys: readonly string[]): Promise<void> {
    this.assertOpen();
    this.invalidateKeys(keys);
    const version = this.versions.next();
    await this.layers.delete(keys);
    this.announce({ kind: 'keys', keys, version });
    this.events.emit('delete', { keys });
  }

  /** Removes every entry under `prefix` (all when `undefined`) from every layer. */
  async clear(prefix: string | undefined): Promise<void> {
    this.assertOpen();
    this.invalidatePrefix(prefix);
    const version = this.versions.next();
    await this.layers.clear(prefix);
    this.announce({ kind: 'clear', prefix, version });
  }

  /**
   * Deletes the keys under `prefix` whose rest matches `glob` (see `CacheLayer.findKeys`), in every layer and
   * instance, after listing them in every layer that can list: more than `limit` keys, or a layer that fails
   * while listing, and nothing is deleted (typed errors). Resolves to the number of keys deleted.
   * @param what the call, for error messages.
   */
  async invalidateMatching(prefix: string, glob: string | undefined, limit: number, what: string): Promise<number> {
    this.assertOpen();
    const found = new Set<string>();
    for (let i = 0; i < this.layers.size; i++) {
      const layer = this.layers.layers[i] as CacheLayer;
      const find = layer.findKeys?.bind(layer);
      if (find === undefined) continue;
      const guard = this.layers.guards[i];
      let keys: string[];
      try {
        keys = guard === undefined ? await find(prefix, glob, limit) : await guard.run('findKeys', () => find(prefix, glob, limit));
      } catch (error) {
        throw new InvalidationScanError(what, layer.name, error);
      }
      for (const key of keys) found.add(key);
      if (found.size > limit) throw new InvalidationLimitError(what, limit);
    }
    const keys = [...found];
    if (glob === undefined) {
      // A prefix: peers drop their copies by prefix (theirs may hold keys no layer here listed).
      this.invalidatePrefix(prefix);
      const version = this.versions.next();
      await this.layers.delete(keys);
      this.announce({ kind: 'clear', prefix, version });
      this.events.emit('delete', { keys });
    } else if (keys.length > 0) {
      await this.delete(keys);
    }
    return keys.length;
  }

  /** Running loads of `keys` will not store their results; reads starting now do not join older lookups. */
  private invalidateKeys(keys: readonly string[]): void {
    this.flights.invalidate(keys);
    this.revalidation?.invalidate(keys);
    if (this.lookups.size > 0) {
      for (const key of keys) {
        const lookup = this.lookups.get(key);
        if (lookup === undefined) continue;
        lookup.invalidated = true;
        this.lookups.delete(key);
      }
    }
  }

  /** `invalidateKeys` for every key starting with `prefix` (all when `undefined`). */
  private invalidatePrefix(prefix: string | undefined): void {
    this.flights.invalidatePrefix(prefix);
    this.revalidation?.invalidatePrefix(prefix);
    for (const [key, lookup] of this.lookups) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      lookup.invalidated = true;
      this.lookups.delete(key);
    }
  }

  /** Announces a change to the other instances (in the background; never fails the caller). */
  private announce(message: InvalidationMessage): void {
    if (this.bus !== undefined) this.track(this.bus.publish(message));
  }

  /** What peers' announcements do here (see `StackBus`). */
  private busTarget(): BusTarget {
    const locals = this.layers.layers.filter((layer) => !layer.shared);
    const dropLocal = (run: (layer: CacheLayer) => void | Promise<void>): void => {
      for (const layer of locals) {
        try {
          void Promise.resolve(run(layer)).catch((error: unknown) => this.log.warn(`Layer "${layer.name}" failed to drop an invalidated copy`, error));
        } catch (error) {
          this.log.warn(`Layer "${layer.name}" failed to drop an invalidated copy`, error);
        }
      }
    };
    return {
      dropKeys: (keys, version) => {
        this.versions.observe(version);
        const l1 = this.layers.l1;
        const doomed = l1 === undefined ? keys : keys.filter((key) => (l1.get(key)?.version ?? 0) < version);
        if (doomed.length === 0) return;
        this.invalidateKeys(doomed);
        dropLocal((layer) => layer.delete(doomed));
      },
      applyTags: (tags, mode, seq) => this.tags.apply(tags, mode, seq),
      clearPrefix: (prefix, version) => {
        this.versions.observe(version);
        this.invalidatePrefix(prefix);
        dropLocal((layer) => layer.clear(prefix));
      },
      generation: (scope, generation) => {
        if (this.generations.learn(scope, generation)) this.dropScope(scope);
      },
      resync: () => {
        this.invalidatePrefix(undefined);
        dropLocal((layer) => layer.clear(undefined));
        this.track(this.generations.refetch());
      },
    };
  }

  /** Every public operation of a closed stack rejects. */
  private assertOpen(): void {
    if (this.closed) throw new StackClosedError();
  }

  /** Invalidates tags everywhere the tag store reaches; recorded here at once. */
  async invalidateTags(tags: readonly string[], mode: TagMatchMode): Promise<void> {
    this.assertOpen();
    const seq = await this.tags.invalidate(tags, mode);
    this.announce({ kind: 'tags', tags, mode, seq });
    this.events.emit('invalidate', { tags, mode });
  }

  /** Shared layer `index` answers again: replay what it (and a tag store on its connection) missed. */
  private async recovered(index: number): Promise<void> {
    if (this.tags.guard === this.layers.guards[index]) await this.tags.replay();
    await this.layers.replay(index);
  }

  // ---------------------------------------------------------------- events, metrics, lifecycle

  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.on(event, listener);
  }

  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.off(event, listener);
  }

  getMetrics(): CacheMetrics {
    return {
      stack: { ...this.metrics },
      layers: this.layers.snapshot(),
      tagStore: { ...this.tagCounters },
      revalidationLock: { ...this.lockCounters },
      bus: this.bus === undefined ? undefined : { ...this.bus.metrics },
      singleFlight: this.loads === undefined ? undefined : { ...this.loads.metrics, ...(this.loadCounters as { errors: number; skipped: number }) },
    };
  }

  /** Resolves once no background work (refreshes, backfills, replays) is pending. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private track(work: Promise<void>): void {
    this.background.add(work);
    void work.then(() => this.background.delete(work));
  }

  /** Aborts running loads, waits for background work, closes layers and the tag store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flights.abortAll(new StackClosedError());
    await this.idle();
    await this.layers.close();
    await this.tags.close();
    await this.revalidation?.close();
    this.generations.close();
    await this.loads?.close();
    await this.bus?.close();
    this.events.removeAll();
  }
}
