/**
 * The layers of a stack with what each needs around it: its counters, a guard for shared layers
 * (`LayerGuard`: timeout and back-off) and a `RecoveryQueue` of what it missed while failing. Every layer
 * command of the engine goes through here, so a failing layer turns into a miss or a skipped write and
 * never into an error for the caller. Validation of entries (deadlines, tags) is the engine's. Writes and
 * deletes resolve to the layers that did not confirm them (`LayerFailure`), for `writePolicy: 'strict'`
 * (strict-writes.ts); with write-behind (write-behind.ts) the queued entries answer the shared layers' reads
 * (`pending`), so a read that misses L1 still gets this process's last write.
 * Every command is timed into its layer's `latency` (`LayerTimer`, layer-timing.ts).
 * Over 300 lines on purpose: every layer command (read, write, touch, delete, clear, replay) and its failure handling
 * in one place, so that no path to a layer can skip the guard, the timer or the recovery queue.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { physicalTtl } from '../core/entry.js';
import { EntryEncodeError } from '../core/errors.js';
import { isSyncLayer, type CacheLayer, type LayerWrite, type SyncCacheLayer } from '../core/layer.js';
import type { BurstLogger } from '../core/logger.js';
import { newLayerMetrics, type LayerMetrics, type LiveLayerMetrics } from '../core/metrics.js';
import { snapshotRecorders } from '../core/latency.js';
import { LayerGuard, type GuardSettings, type LayerErrorSink } from './layer-guard.js';
import { LayerTimer } from './layer-timing.js';
import { RecoveryQueue, type RecoveryWork } from './recovery-queue.js';

/** An entry to write under a key. */
export interface KeyedEntry {
  readonly key: string;
  readonly entry: CacheEntry;
}

/** A layer that did not confirm a write or delete: its index and its error. */
export interface LayerFailure {
  readonly index: number;
  readonly error: unknown;
}

/** Which layers a write goes to: every one, the in-process ones, or the shared ones. */
export type LayerPick = 'all' | 'local' | 'shared';

/** Entries written to the shared layers but not sent yet (write-behind's queue). */
export interface PendingWrites {
  get(key: string): CacheEntry | undefined;
}

/** Settings of a layer set. */
export interface LayerSetSettings {
  readonly guard: GuardSettings;
  /** Most keys remembered per shared layer while it fails. */
  readonly recoveryQueueSize: number;
}

export class LayerSet {
  /** The first layer when it answers synchronously: the hot path. */
  readonly l1: SyncCacheLayer | undefined;
  readonly metrics: readonly LiveLayerMetrics[];
  /** Per layer: its guard when shared, `undefined` for local layers. */
  readonly guards: readonly (LayerGuard | undefined)[];
  private readonly recovery: readonly RecoveryQueue[];
  /** Indexes of the local, and of the shared, layers that have `touch`. */
  private readonly localTouches: readonly number[];
  private readonly sharedTouches: readonly number[];
  /** Write-behind's queue, when the stack has one: it answers reads of the shared layers first. */
  pending: PendingWrites | undefined;
  /** Times every command into its layer's `latency` (layer-timing.ts). */
  private readonly timer: LayerTimer;

  constructor(
    readonly layers: readonly CacheLayer[],
    settings: LayerSetSettings,
    private readonly clock: Clock,
    private readonly log: BurstLogger,
    onError: LayerErrorSink,
    /** Called when shared layer `index` answers again after failures. */
    onRecover: (index: number) => void,
  ) {
    const first = layers[0];
    this.l1 = first !== undefined && isSyncLayer(first) ? first : undefined;
    this.metrics = layers.map(() => newLayerMetrics());
    this.recovery = layers.map(() => new RecoveryQueue(settings.recoveryQueueSize));
    const touching = layers.flatMap((layer, i) => (layer.touch === undefined ? [] : [i]));
    this.localTouches = touching.filter((i) => !(layers[i] as CacheLayer).shared);
    this.sharedTouches = touching.filter((i) => (layers[i] as CacheLayer).shared);
    this.guards = layers.map((layer, i) =>
      layer.shared
        ? new LayerGuard(layer.name, this.metrics[i] as LayerMetrics, settings.guard, clock, log, onError, () => onRecover(i), layer.probe?.bind(layer))
        : undefined,
    );
    this.timer = new LayerTimer(this.metrics, this.guards, this.l1, clock);
  }

  get size(): number {
    return this.layers.length;
  }

  name(index: number): string {
    return (this.layers[index] as CacheLayer).name;
  }

  /** The synchronous L1's entry for `key`: the hit path (one read in `L1_READ_SAMPLE` is timed). */
  l1Get(key: string): CacheEntry | undefined {
    return this.timer.l1Get(key);
  }

  /** The entry layer `index` holds for `key`, or `undefined` (also when the layer fails). */
  get(index: number, key: string): Promise<CacheEntry | undefined> | CacheEntry | undefined {
    const layer = this.layers[index] as CacheLayer;
    const guard = this.guards[index];
    // Not an async function: the L2 hit pays one promise here (the `then` below), not a frame and two promises.
    try {
      const queued = guard === undefined ? undefined : this.pending?.get(key);
      if (queued !== undefined) return queued;
      const read = this.timer.run(index, 'get', 'get', () => layer.get(key));
      return read instanceof Promise ? read.then(undefined, missOnFailure) : read;
    } catch {
      return undefined; // counted and logged by the guard
    }
  }

  /** The entries layer `index` holds for `keys`, or `undefined` when the layer fails. */
  async getMany(index: number, keys: readonly string[]): Promise<(CacheEntry | undefined)[] | undefined> {
    const layer = this.layers[index] as CacheLayer;
    const guard = this.guards[index];
    let found: (CacheEntry | undefined)[] | undefined;
    try {
      found = await this.timer.run(index, 'get', 'getMany', () => layer.getMany(keys));
    } catch {
      found = undefined;
    }
    const pending = guard === undefined ? undefined : this.pending;
    if (pending === undefined) return found;
    let queued = false;
    const merged = keys.map((key, i) => {
      const entry = pending.get(key);
      if (entry !== undefined) queued = true;
      return entry ?? found?.[i];
    });
    return queued || found !== undefined ? merged : undefined;
  }

  /**
   * Writes entries into the layers above `below` (all by default), each copy capped by its layer's ttl;
   * local layers synchronously first, shared layers in parallel. With `ifNewer`, a layer keeps a copy at least
   * as new (see `CacheLayer.set`); `pick` limits it to the local or the shared layers. Never rejects: resolves
   * to the layers that did not take the write (a shared layer in its back-off window is one).
   */
  async write(items: readonly KeyedEntry[], below = this.layers.length, ifNewer = false, pick: LayerPick = 'all'): Promise<LayerFailure[]> {
    const failures: LayerFailure[] = [];
    if (items.length === 0) return failures;
    const now = this.clock.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < below; i++) {
      const layer = this.layers[i] as CacheLayer;
      if (pick !== 'all' && layer.shared !== (pick === 'shared')) continue;
      const writes: LayerWrite[] = [];
      for (const { key, entry } of items) {
        const ttlMs = physicalTtl(entry, now, layer.ttl);
        if (ttlMs > 0) writes.push({ key, entry, ttlMs, ifNewer });
      }
      if (writes.length === 0) continue;
      const metrics = this.metrics[i] as LayerMetrics;
      metrics.setAttempts += writes.length;
      const single = writes.length === 1 ? (writes[0] as LayerWrite) : undefined;
      const command = () => (single === undefined ? layer.setMany(writes) : layer.set(single.key, single.entry, single.ttlMs, ifNewer));
      const guard = this.guards[i];
      if (guard === undefined) {
        try {
          await this.timer.run(i, 'set', 'set', command);
          metrics.sets += writes.length;
        } catch (error) {
          failures.push({ index: i, error });
          this.log.failure(`layer ${layer.name}`, `Layer "${layer.name}" failed on set`, error);
        }
      } else {
        pending.push(
          Promise.resolve(this.timer.run(i, 'set', 'set', command)).then(
            () => void (metrics.sets += writes.length),
            (error: unknown) => {
              failures.push({ index: i, error });
              return this.writeFailed(i, writes, error);
            },
          ),
        );
      }
    }
    if (pending.length > 0) await Promise.all(pending);
    return failures;
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

  /**
   * Extends `entry` (re-stamped by `Renewals`) in every local layer that can (`CacheLayer.touch`), synchronously:
   * the L1 hit path. A layer that throws is logged; the read goes on.
   */
  touchLocal(key: string, entry: CacheEntry, now: number): void {
    for (const i of this.localTouches) {
      const layer = this.layers[i] as CacheLayer;
      const ttlMs = physicalTtl(entry, now, layer.ttl);
      if (ttlMs <= 0) continue;
      const touch = () => layer.touch?.(key, entry, ttlMs);
      try {
        const done = this.timer.sampleTouch() ? this.timer.run(i, 'touch', 'touch', touch) : touch();
        if (done instanceof Promise) done.catch((error: unknown) => this.log.failure(`layer ${layer.name}`, `Layer "${layer.name}" failed on touch`, error));
      } catch (error) {
        this.log.failure(`layer ${layer.name}`, `Layer "${layer.name}" failed on touch`, error);
      }
    }
  }

  /** Whether some shared layer can be extended in place (`CacheLayer.touch`). */
  get touchesShared(): boolean {
    return this.sharedTouches.length > 0;
  }

  /**
   * Extends `entry` in every shared layer that can, through its guard (timeout, failures counted and logged), in
   * parallel. A layer in its back-off window is skipped without being asked (and without a `layer-error` event:
   * an extension is not owed). Never rejects.
   */
  async touchShared(key: string, entry: CacheEntry, now: number): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (const i of this.sharedTouches) {
      const layer = this.layers[i] as CacheLayer;
      const guard = this.guards[i] as LayerGuard;
      const ttlMs = physicalTtl(entry, now, layer.ttl);
      if (ttlMs <= 0 || guard.open) continue;
      pending.push(Promise.resolve(this.timer.run(i, 'touch', 'touch', () => layer.touch?.(key, entry, ttlMs))).catch(() => undefined));
    }
    if (pending.length > 0) await Promise.all(pending);
  }

  /** Deletes `keys` from every layer; a shared layer that fails gets them replayed on recovery. Resolves to the failures. */
  delete(keys: readonly string[]): Promise<LayerFailure[]> {
    return this.each('delete', (layer) => layer.delete(keys), keys.length, (queue) => queue.addKeys(keys));
  }

  /** Clears `prefix` (everything when `undefined`) in every layer, replayed on recovery where it fails. */
  clear(prefix: string | undefined): Promise<LayerFailure[]> {
    return this.each('clear', (layer) => layer.clear(prefix), 0, (queue) => queue.addClear(prefix));
  }

  private async each(
    operation: 'delete' | 'clear',
    command: (layer: CacheLayer) => void | Promise<void>,
    deletes: number,
    onFailure: (queue: RecoveryQueue) => void,
  ): Promise<LayerFailure[]> {
    const failures: LayerFailure[] = [];
    const pending: Promise<unknown>[] = [];
    this.layers.forEach((layer, i) => {
      (this.metrics[i] as LayerMetrics).deletes += deletes;
      const guard = this.guards[i];
      if (guard === undefined) {
        // Called at once (a synchronous layer is changed before anything is awaited: races (2) and (4) in
        // read-path.ts); an asynchronous local layer (DiskLayer) is awaited like the shared ones.
        const failed = (error: unknown) => {
          failures.push({ index: i, error });
          this.log.failure(`layer ${layer.name}`, `Layer "${layer.name}" failed on ${operation}`, error);
        };
        try {
          const done = this.timer.run(i, operation, operation, () => command(layer));
          if (done instanceof Promise) pending.push(done.catch(failed));
        } catch (error) {
          failed(error);
        }
      } else {
        pending.push(
          Promise.resolve(this.timer.run(i, operation, operation, () => command(layer))).catch((error: unknown) => {
            failures.push({ index: i, error });
            onFailure(this.recovery[i] as RecoveryQueue);
          }),
        );
      }
    });
    await Promise.all(pending);
    return failures;
  }

  /**
   * Replays on recovered layer `index` the invalidations it missed; what fails again is queued again. Resolves to
   * what was replayed (`undefined` when nothing was, or it failed), for the stack to announce.
   */
  async replay(index: number): Promise<RecoveryWork | undefined> {
    const queue = this.recovery[index] as RecoveryQueue;
    if (queue.empty) return undefined;
    const layer = this.layers[index] as CacheLayer;
    const guard = this.guards[index] as LayerGuard;
    const work = queue.take();
    try {
      if (work.clearAll) {
        await guard.run('replay', () => layer.clear(undefined));
      } else {
        for (const prefix of work.prefixes) await guard.run('replay', () => layer.clear(prefix));
        if (work.keys.length > 0) await guard.run('replay', () => layer.delete(work.keys));
      }
      return work;
    } catch {
      if (work.clearAll) queue.addClear(undefined);
      for (const prefix of work.prefixes) queue.addClear(prefix);
      queue.addKeys(work.keys);
      return undefined;
    }
  }

  /** A copy of every layer's counters, by name. */
  snapshot(): Record<string, LayerMetrics> {
    const out: Record<string, LayerMetrics> = {};
    this.layers.forEach((layer, i) => {
      const metrics = this.metrics[i] as LiveLayerMetrics;
      out[layer.name] = { ...metrics, latency: snapshotRecorders(metrics.latency) };
    });
    return out;
  }

  async close(): Promise<void> {
    for (const guard of this.guards) guard?.close();
    for (const layer of this.layers) await layer.close();
  }
}

/** A failed read is a miss of that layer (the guard counted and logged it). */
function missOnFailure(): undefined {
  return undefined;
}
