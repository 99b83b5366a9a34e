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
 *      started (a second stale read while it runs starts none);
 *    - a candidate in its stale-if-error window is served only if the synchronous reload fails;
 *    - otherwise it is a miss: the loader runs once per key per process (`SingleFlight`), every concurrent
 *      caller shares its promise, its result or its error.
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
 * A timed-out loader's late result is dropped with its promise; the flight was already removed.
 */
import type { Clock } from '../core/clock.js';
import { entryState, EntryState, expiresAt, physicalTtl, type CacheEntry } from '../core/entry.js';
import { EntryEncodeError, LoaderTimeoutError, StackClosedError } from '../core/errors.js';
import type { CacheEventListener, CacheEventMap, CacheEventName } from '../core/events.js';
import { checkName } from '../core/keys.js';
import { isSyncLayer, type CacheLayer, type LayerWrite, type SyncCacheLayer } from '../core/layer.js';
import type { BurstLogger } from '../core/logger.js';
import { newLayerMetrics, newStackMetrics, type CacheMetrics, type LayerMetrics } from '../core/metrics.js';
import { SingleFlight, type Flight } from '../core/single-flight.js';
import type { TagMatchMode, TagStore } from '../core/tag-store.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';
import { LayerGuard, type GuardSettings } from './layer-guard.js';
import { RecoveryQueue } from './recovery-queue.js';
import { TagMirror } from './tag-mirror.js';
import { EventEmitter } from 'node:events';

/** What the slower layers hold for a key: the best entry found and the index of its layer. */
interface LookupResult {
  readonly entry: CacheEntry | undefined;
  readonly layer: number;
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
  readonly guard: GuardSettings;
  /** The index of the layer the tag store belongs to (`createTagStore`), if it does. */
  readonly tagStoreLayer: number | undefined;
  /** Most keys remembered per shared layer while it fails, to replay their invalidation on recovery. */
  readonly recoveryQueueSize: number;
}

export class StackEngine {
  readonly policy: EntryPolicy;
  private readonly layers: readonly CacheLayer[];
  /** The first layer when it answers synchronously: the hot path. */
  private readonly l1: SyncCacheLayer | undefined;
  private readonly l1Metrics: LayerMetrics;
  /** Per layer: its guard when shared, `undefined` for local layers. */
  private readonly guards: readonly (LayerGuard | undefined)[];
  /** Per shared layer (and the shared tag store, last): what it missed while failing. */
  private readonly recovery: readonly RecoveryQueue[];
  private readonly tagRecovery: RecoveryQueue;
  private readonly layerMetrics: readonly LayerMetrics[];
  private readonly metrics = newStackMetrics();
  private readonly clock: Clock;
  private readonly log: BurstLogger;
  private readonly flights = new SingleFlight();
  /** Slow-layer reads in flight by key: concurrent misses of one key read Redis once, not once each. */
  private readonly lookups = new Map<string, Promise<LookupResult>>();
  private readonly mirror = new TagMirror();
  private readonly tagStore: TagStore;
  private readonly tagGuard: LayerGuard | undefined;
  private readonly tagCounters = { errors: 0, skipped: 0 };
  private readonly background = new Set<Promise<void>>();
  private readonly events = new EventEmitter();
  /** Events with at least one listener: emitting costs one property read when nobody listens. */
  private readonly listened: Partial<Record<CacheEventName, boolean>> = {};
  private closed = false;

  constructor(settings: EngineSettings) {
    this.layers = settings.layers;
    this.policy = settings.policy;
    this.clock = settings.clock;
    this.log = settings.log;
    this.tagStore = settings.tagStore;
    this.layerMetrics = this.layers.map(() => newLayerMetrics());
    const first = this.layers[0];
    this.l1 = first !== undefined && isSyncLayer(first) ? first : undefined;
    this.l1Metrics = this.layerMetrics[0] ?? newLayerMetrics();
    const onError = (layer: string, operation: string, error: unknown) => this.emit('layer-error', { layer, operation, error });
    this.recovery = this.layers.map(() => new RecoveryQueue(settings.recoveryQueueSize));
    this.tagRecovery = new RecoveryQueue(settings.recoveryQueueSize);
    this.guards = this.layers.map((layer, i) =>
      layer.shared
        ? new LayerGuard(layer.name, this.layerMetrics[i] as LayerMetrics, settings.guard, this.clock, this.log, onError, () =>
            this.track(this.replay(i)),
          )
        : undefined,
    );
    // A store that lives beside a layer's data (RedisLayer.createTagStore) shares that layer's connection,
    // so it shares its guard too: one back-off window, and the layer's recovery replays both.
    const layerGuard = settings.tagStoreLayer === undefined ? undefined : this.guards[settings.tagStoreLayer];
    this.tagGuard = !this.tagStore.shared
      ? undefined
      : (layerGuard ??
        new LayerGuard('tag-store', this.tagCounters, settings.guard, this.clock, this.log, onError, () =>
          this.track(this.replayTags()),
        ));
  }

  // ---------------------------------------------------------------- read path

  /** Reads `key`, loading it with `loader` on a miss. Synchronous on a fresh L1 hit. */
  read<T>(key: string, userKey: string, loader: Loader<T> | undefined, policy: EntryPolicy): T | undefined | Promise<T | undefined> {
    if (this.closed) throw new StackClosedError();
    let candidate: CacheEntry | undefined;
    const l1 = this.l1;
    if (l1 !== undefined) {
      const entry = l1.get(key);
      if (entry !== undefined) {
        const now = this.clock.now();
        if (now < entry.freshUntil && (entry.tags === undefined || this.mirror.isValid(entry))) {
          this.l1Metrics.hits++;
          this.metrics.hits++;
          if (this.listened.hit === true) this.emit('hit', { key, layer: l1.name });
          return entry.value as T;
        }
        if (now < expiresAt(entry) && this.mirror.isValid(entry)) candidate = entry;
      }
      if (candidate === undefined) this.l1Metrics.misses++;
      else this.l1Metrics.hits++;
      if (this.layers.length === 1) return this.resolve(key, userKey, loader, policy, candidate, candidate === undefined ? -1 : 0);
    }
    return this.readSlow(key, userKey, loader, policy, candidate, l1 === undefined ? 0 : 1);
  }

  private async readSlow<T>(
    key: string,
    userKey: string,
    loader: Loader<T> | undefined,
    policy: EntryPolicy,
    candidate: CacheEntry | undefined,
    from: number,
  ): Promise<T | undefined> {
    let lookup = this.lookups.get(key);
    if (lookup === undefined) {
      const started = this.lookupLayers(key, from);
      lookup = started;
      this.lookups.set(key, started);
      const forget = () => {
        if (this.lookups.get(key) === started) this.lookups.delete(key);
      };
      void started.then(forget, forget);
    }
    const found = await lookup;
    let candidateLayer = candidate === undefined ? -1 : 0;
    const entry = found.entry;
    // Re-checked per caller: an invalidation may have happened while the shared lookup ran.
    if (entry !== undefined && (entry.tags === undefined || this.mirror.isValid(entry))) {
      if (this.clock.now() < entry.freshUntil) {
        this.metrics.hits++;
        if (this.listened.hit === true) this.emit('hit', { key, layer: (this.layers[found.layer] as CacheLayer).name });
        return entry.value as T;
      }
      if (candidate === undefined || entry.freshUntil > candidate.freshUntil) {
        candidate = entry;
        candidateLayer = found.layer;
      }
    }
    return this.resolve(key, userKey, loader, policy, candidate, candidateLayer);
  }

  /**
   * Reads the slower layers once for every concurrent caller of `key`: the first fresh entry, else the stale
   * one fresh the longest. Backfills the faster layers (a stale entry only over an older copy).
   */
  private async lookupLayers(key: string, from: number): Promise<LookupResult> {
    let stale: CacheEntry | undefined;
    let staleLayer = -1;
    for (let i = from; i < this.layers.length; i++) {
      const entry = await this.layerGet(i, key);
      if (entry === undefined) continue;
      if (this.clock.now() < entry.freshUntil) {
        this.backfill(key, entry, i);
        return { entry, layer: i };
      }
      if (stale === undefined || entry.freshUntil > stale.freshUntil) {
        stale = entry;
        staleLayer = i;
      }
    }
    if (stale !== undefined && staleLayer > 0) {
      const upper = this.l1?.get(key);
      if (upper === undefined || upper.freshUntil < stale.freshUntil) this.backfill(key, stale, staleLayer);
    }
    return { entry: stale, layer: staleLayer };
  }

  /** Reads one layer: a usable (not expired, tags valid) entry, or `undefined` for a miss or a failure. */
  private async layerGet(index: number, key: string): Promise<CacheEntry | undefined> {
    const layer = this.layers[index] as CacheLayer;
    const guard = this.guards[index];
    let entry: CacheEntry | undefined;
    try {
      entry = guard === undefined ? await layer.get(key) : await guard.run('get', () => layer.get(key));
    } catch {
      return undefined; // counted and logged by the guard
    }
    const metrics = this.layerMetrics[index] as LayerMetrics;
    if (entry === undefined || this.clock.now() >= expiresAt(entry) || !(await this.tagsValid(entry, guard !== undefined))) {
      metrics.misses++;
      return undefined;
    }
    metrics.hits++;
    return entry;
  }

  /** The answer when no layer had a fresh entry. */
  private resolve<T>(
    key: string,
    userKey: string,
    loader: Loader<T> | undefined,
    policy: EntryPolicy,
    candidate: CacheEntry | undefined,
    candidateLayer: number,
  ): T | undefined | Promise<T | undefined> {
    if (candidate !== undefined) {
      if (entryState(candidate, this.clock.now()) === EntryState.Stale) {
        this.metrics.stale++;
        if (this.listened.stale === true) this.emit('stale', { key, layer: (this.layers[candidateLayer] as CacheLayer).name });
        if (loader !== undefined) this.revalidate(key, userKey, loader, policy, candidate);
        return candidate.value as T;
      }
      if (loader !== undefined) return this.loadOrServeStale(key, userKey, loader, policy, candidate);
    }
    this.metrics.misses++;
    if (this.listened.miss === true) this.emit('miss', { key });
    return loader === undefined ? undefined : this.load(key, userKey, loader, policy, undefined);
  }

  /** Stale-if-error: reload synchronously, serve the stale value when the reload fails. */
  private async loadOrServeStale<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): Promise<T> {
    try {
      return await this.load(key, userKey, loader, policy, stale);
    } catch (error) {
      this.metrics.staleIfError++;
      this.metrics.stale++;
      this.log.warn(`Loader for "${userKey}" failed; serving the stale value (stale-if-error)`, error);
      if (this.listened.stale === true) this.emit('stale', { key, layer: 'stale-if-error' });
      return stale.value as T;
    }
  }

  /** Joins the running load of `key` or starts one. */
  private load<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry | undefined): Promise<T> {
    const running = this.flights.get<T>(key);
    if (running !== undefined) {
      this.metrics.dedupes++;
      if (this.listened['stampede-dedupe'] === true) this.emit('stampede-dedupe', { key });
      return running.promise;
    }
    return this.flights.start<T>(key, (flight) => this.runLoad(flight, key, userKey, loader, policy, stale)).promise;
  }

  /** Starts one background refresh of `key` unless a load of it is already running. */
  private revalidate<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): void {
    if (this.flights.get(key) !== undefined) return;
    const flight = this.flights.start<T>(key, (f) => this.runLoad(f, key, userKey, loader, policy, stale));
    const settled = flight.promise.then(
      () => {
        this.metrics.refreshes++;
        this.log.success('background refresh');
        if (this.listened.refresh === true) this.emit('refresh', { key });
      },
      (error: unknown) => {
        if (this.closed) return; // aborted by close(): not a failure of the source
        this.metrics.refreshErrors++;
        this.log.failure('background refresh', `Background refresh of "${userKey}" failed; the stale value is still served`, error);
        if (this.listened['refresh-error'] === true) this.emit('refresh-error', { key, error });
      },
    );
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
  }

  private async runLoad<T>(
    flight: Flight<T>,
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry | undefined,
  ): Promise<T> {
    this.metrics.loads++;
    const tagSeq = policy.tags === undefined ? 0 : await this.tagSnapshot();
    let value: T;
    try {
      value = await this.callLoader(flight, userKey, loader, policy, stale);
    } catch (error) {
      this.metrics.loadErrors++;
      throw error;
    }
    if (flight.invalidated) this.metrics.discardedLoads++;
    else await this.store(key, value, policy, tagSeq);
    return value;
  }

  /** Runs the loader, bounded by `loaderTimeout` and the stack's close (both abort its signal). */
  private callLoader<T>(flight: Flight<T>, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry | undefined): Promise<T> {
    const { signal } = flight.controller;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => flight.controller.abort(new LoaderTimeoutError(userKey, policy.loaderTimeout)),
        policy.loaderTimeout,
      );
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      try {
        Promise.resolve(loader({ key: userKey, signal, stale: stale?.value as T | undefined })).then(
          (value) => {
            settle();
            resolve(value);
          },
          (error: unknown) => {
            settle();
            reject(error);
          },
        );
      } catch (error) {
        settle();
        reject(error);
      }
    });
  }

  // ---------------------------------------------------------------- write path

  /** Stores a value under `key` as `set` does (the caller already invalidated running loads). */
  async store(key: string, value: unknown, policy: EntryPolicy, tagSeq: number): Promise<void> {
    const entry = this.makeEntry(key, value, policy, tagSeq);
    if (entry === undefined) return;
    if (entry.tags !== undefined && !this.mirror.isValid(entry)) {
      this.metrics.discardedLoads++;
      return;
    }
    await this.writeEntries([{ key, entry }]);
    if (this.listened.set === true) this.emit('set', { key });
  }

  /** Stores many values, one bulk write per layer. */
  async storeMany(writes: readonly EngineWrite[]): Promise<void> {
    const needsSnapshot = writes.some((w) => w.policy.tags !== undefined);
    this.invalidateKeys(writes.map((w) => w.key));
    const tagSeq = needsSnapshot ? await this.tagSnapshot() : 0;
    const entries: { key: string; entry: CacheEntry }[] = [];
    for (const w of writes) {
      const entry = this.makeEntry(w.key, w.value, w.policy, tagSeq);
      if (entry !== undefined) entries.push({ key: w.key, entry });
    }
    await this.writeEntries(entries);
    if (this.listened.set === true) for (const { key } of entries) this.emit('set', { key });
  }

  /** Builds the envelope of a loaded or set value; `undefined` when it is not to be cached. */
  private makeEntry(key: string, value: unknown, policy: EntryPolicy, tagSeq: number): CacheEntry | undefined {
    const notFound = value === undefined || value === null;
    if (value === undefined && policy.negativeTtl === undefined) return undefined;
    let tags: readonly string[] | undefined;
    try {
      if (policy.shouldCache !== undefined && !policy.shouldCache(value)) return undefined;
      tags = typeof policy.tags === 'function' ? checkTags(policy.tags(value)) : policy.tags;
    } catch (error) {
      this.log.warn(`Not caching "${key}": its shouldCache or tags option threw`, error);
      return undefined;
    }
    const now = this.clock.now();
    const freshUntil = now + (notFound && policy.negativeTtl !== undefined ? policy.negativeTtl : policy.ttl);
    return {
      value,
      createdAt: now,
      freshUntil,
      staleUntil: freshUntil + policy.swr,
      errorUntil: freshUntil + policy.sie,
      tags: tags !== undefined && tags.length > 0 ? tags : undefined,
      tagSeq,
    };
  }

  /** Writes envelopes into every layer, each copy capped by its layer's ttl; shared layers in parallel. */
  private async writeEntries(items: readonly { key: string; entry: CacheEntry }[], below = this.layers.length): Promise<void> {
    if (items.length === 0) return;
    const now = this.clock.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < below; i++) {
      const layer = this.layers[i] as CacheLayer;
      const writes: LayerWrite[] = [];
      for (const { key, entry } of items) {
        const ttlMs = physicalTtl(entry, now, layer.ttl);
        if (ttlMs > 0) writes.push({ key, entry, ttlMs });
      }
      if (writes.length === 0) continue;
      (this.layerMetrics[i] as LayerMetrics).sets += writes.length;
      const single = writes.length === 1 ? (writes[0] as LayerWrite) : undefined;
      const command = () => (single === undefined ? layer.setMany(writes) : layer.set(single.key, single.entry, single.ttlMs));
      const guard = this.guards[i];
      if (guard === undefined) {
        try {
          await command();
        } catch (error) {
          this.log.failure(`layer ${layer.name}`, `Layer "${layer.name}" failed on set`, error);
        }
      } else {
        pending.push(guard.run('set', command).catch((error: unknown) => this.writeFailed(i, writes, error)));
      }
    }
    if (pending.length > 0) await Promise.all(pending);
  }

  /**
   * A shared layer did not take a write, so it may still hold an older value of those keys: delete them now
   * when the layer is fine and only the value could not be encoded, else when the layer recovers.
   */
  private async writeFailed(index: number, writes: readonly LayerWrite[], error: unknown): Promise<void> {
    const keys = writes.map((w) => w.key);
    const queue = this.recovery[index] as RecoveryQueue;
    if (!(error instanceof EntryEncodeError)) return queue.addKeys(keys);
    const layer = this.layers[index] as CacheLayer;
    await (this.guards[index] as LayerGuard).run('delete', () => layer.delete(keys)).catch(() => queue.addKeys(keys));
  }

  /** Copies an entry found in layer `index` into the faster layers, keeping its deadlines. */
  private backfill(key: string, entry: CacheEntry, index: number): void {
    if (index === 0) return;
    for (let i = 0; i < index; i++) {
      (this.layerMetrics[i] as LayerMetrics).backfills++;
      if (this.listened.backfill === true) {
        this.emit('backfill', { key, from: (this.layers[index] as CacheLayer).name, to: (this.layers[i] as CacheLayer).name });
      }
    }
    const written = this.writeEntries([{ key, entry }], index);
    if (this.guards.slice(0, index).some((g) => g !== undefined)) this.track(written);
  }

  /** Reads many keys (no loader): values in order, `undefined` for misses. */
  async readMany(keys: readonly string[]): Promise<unknown[]> {
    if (this.closed) throw new StackClosedError();
    const values = new Array<unknown>(keys.length);
    let missing = keys.map((_, i) => i);
    for (let layerIndex = 0; layerIndex < this.layers.length && missing.length > 0; layerIndex++) {
      const found = await this.layerGetMany(layerIndex, missing.map((i) => keys[i] as string));
      const stillMissing: number[] = [];
      const backfills: { key: string; entry: CacheEntry }[] = [];
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
        if (layerIndex > 0) backfills.push({ key: keys[keyIndex] as string, entry });
      });
      if (backfills.length > 0) this.track(this.writeEntries(backfills, layerIndex));
      missing = stillMissing;
    }
    this.metrics.misses += missing.length;
    return values;
  }

  private async layerGetMany(index: number, keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    const layer = this.layers[index] as CacheLayer;
    const guard = this.guards[index];
    const metrics = this.layerMetrics[index] as LayerMetrics;
    let entries: (CacheEntry | undefined)[];
    try {
      entries = guard === undefined ? await layer.getMany(keys) : await guard.run('getMany', () => layer.getMany(keys));
    } catch {
      return keys.map(() => undefined);
    }
    const tagsKnown = guard === undefined || (await this.fetchTagStates(entries));
    const now = this.clock.now();
    return entries.map((entry) => {
      const usable =
        entry !== undefined &&
        now < expiresAt(entry) &&
        (entry.tags === undefined || (tagsKnown && this.mirror.isValid(entry)));
      if (usable) metrics.hits++;
      else metrics.misses++;
      return usable ? entry : undefined;
    });
  }

  /** Deletes keys from every layer and makes running loads of them discard their results. */
  async delete(keys: readonly string[]): Promise<void> {
    this.invalidateKeys(keys);
    await this.eachLayer('delete', (layer) => layer.delete(keys), keys.length, (queue) => queue.addKeys(keys));
    if (this.listened.delete === true) this.emit('delete', { keys });
  }

  /** Running loads of `keys` will not store their results; reads starting now do not join older lookups. */
  private invalidateKeys(keys: readonly string[]): void {
    this.flights.invalidate(keys);
    if (this.lookups.size > 0) for (const key of keys) this.lookups.delete(key);
  }

  /** Removes every entry under `prefix` (all when `undefined`) from every layer. */
  async clear(prefix: string | undefined): Promise<void> {
    this.flights.invalidatePrefix(prefix);
    for (const key of this.lookups.keys()) if (prefix === undefined || key.startsWith(prefix)) this.lookups.delete(key);
    await this.eachLayer('clear', (layer) => layer.clear(prefix), 0, (queue) => queue.addClear(prefix));
  }

  /** Runs an invalidating command on every layer; a shared layer that fails queues it for its recovery. */
  private async eachLayer(
    operation: string,
    command: (layer: CacheLayer) => void | Promise<void>,
    deletes: number,
    onFailure: (queue: RecoveryQueue) => void,
  ): Promise<void> {
    const pending: Promise<unknown>[] = [];
    this.layers.forEach((layer, i) => {
      (this.layerMetrics[i] as LayerMetrics).deletes += deletes;
      const guard = this.guards[i];
      if (guard === undefined) void command(layer);
      else pending.push(guard.run(operation, () => command(layer)).catch(() => onFailure(this.recovery[i] as RecoveryQueue)));
    });
    await Promise.all(pending);
  }

  /** Replays on a recovered shared layer the invalidations it missed; what fails again is queued again. */
  private async replay(index: number): Promise<void> {
    const guard = this.guards[index] as LayerGuard;
    if (this.tagGuard === guard) await this.replayTags();
    const queue = this.recovery[index] as RecoveryQueue;
    if (queue.empty) return;
    const layer = this.layers[index] as CacheLayer;
    const work = queue.take();
    try {
      if (work.clearAll) {
        await guard.run('replay', () => layer.clear(undefined));
      } else {
        for (const prefix of work.prefixes) await guard.run('replay', () => layer.clear(prefix));
        if (work.keys.length > 0) await guard.run('replay', () => layer.delete(work.keys));
      }
    } catch {
      if (work.clearAll) queue.addClear(undefined);
      for (const prefix of work.prefixes) queue.addClear(prefix);
      queue.addKeys(work.keys);
    }
  }

  // ---------------------------------------------------------------- tags

  /** Invalidates tags everywhere the tag store reaches; recorded here at once. */
  async invalidateTags(tags: readonly string[], mode: TagMatchMode): Promise<void> {
    let seq: number;
    if (this.tagGuard === undefined) {
      seq = (await this.tagStore.invalidate(tags, mode)) as number;
    } else {
      try {
        seq = await this.tagGuard.run('invalidate', () => this.tagStore.invalidate(tags, mode));
      } catch {
        // The shared store is unreachable: this process stops serving the tagged entries at once, and the
        // invalidation is replayed on the store when it answers again.
        seq = this.mirror.maxSeq + 1;
        if (!this.tagRecovery.addTags(tags, mode)) {
          this.log.warn(`Tag invalidation of ${tags.join(', ')} could not be queued for replay (queue full)`, undefined);
        }
      }
    }
    this.mirror.record(tags, mode, seq);
    if (this.listened.invalidate === true) this.emit('invalidate', { tags, mode });
  }

  /** Replays the tag invalidations the shared store missed. */
  private async replayTags(): Promise<void> {
    for (const { tags, mode } of this.tagRecovery.take().tags) {
      try {
        const seq = await (this.tagGuard as LayerGuard).run('replay', () => this.tagStore.invalidate(tags, mode));
        this.mirror.record(tags, mode, seq);
      } catch {
        this.tagRecovery.addTags(tags, mode);
      }
    }
  }

  /** The sequence a load records before its loader runs. */
  private async tagSnapshot(): Promise<number> {
    if (this.tagGuard === undefined) return this.tagStore.snapshot();
    try {
      return Math.max(await this.tagGuard.run('snapshot', () => this.tagStore.snapshot()), 0);
    } catch {
      return this.mirror.maxSeq;
    }
  }

  /** Validates a tagged entry: against the mirror for local layers, after fetching states for shared ones. */
  private async tagsValid(entry: CacheEntry, fromSharedLayer: boolean): Promise<boolean> {
    if (entry.tags === undefined) return true;
    if (fromSharedLayer && this.tagGuard !== undefined && !(await this.fetchTagStates([entry]))) return false;
    return this.mirror.isValid(entry);
  }

  /** Fetches the states of the tags of `entries` from a shared store into the mirror; false on failure. */
  private async fetchTagStates(entries: readonly (CacheEntry | undefined)[]): Promise<boolean> {
    if (this.tagGuard === undefined) return true;
    const tags = new Set<string>();
    for (const entry of entries) if (entry?.tags !== undefined) for (const tag of entry.tags) tags.add(tag);
    if (tags.size === 0) return true;
    const list = [...tags];
    try {
      this.mirror.merge(list, await this.tagGuard.run('fetch', () => this.tagStore.fetch(list)));
      return true;
    } catch {
      return false; // unknown tag states: the caller trusts no tagged entry of this read
    }
  }

  // ---------------------------------------------------------------- events, metrics, lifecycle

  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.on(event, listener);
    this.listened[event] = true;
  }

  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): void {
    this.events.off(event, listener);
    this.listened[event] = this.events.listenerCount(event) > 0;
  }

  private emit<E extends CacheEventName>(event: E, payload: CacheEventMap[E]): void {
    if (this.listened[event] !== true) return;
    try {
      this.events.emit(event, payload);
    } catch (error) {
      this.log.warn(`A listener of the "${event}" event threw`, error);
    }
  }

  getMetrics(): CacheMetrics {
    const layers: Record<string, LayerMetrics> = {};
    this.layers.forEach((layer, i) => (layers[layer.name] = { ...(this.layerMetrics[i] as LayerMetrics) }));
    return { stack: { ...this.metrics }, layers, tagStore: { ...this.tagCounters } };
  }

  /** Resolves once no background work (refreshes, backfills) is pending. */
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
    for (const layer of this.layers) await layer.close();
    await this.tagStore.close?.();
    this.events.removeAllListeners();
  }
}

function checkTags(tags: readonly string[]): readonly string[] {
  if (!Array.isArray(tags)) throw new TypeError('the tags function must return an array of tag names');
  for (const tag of tags) checkName('tag', tag);
  return tags;
}
