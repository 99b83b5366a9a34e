/**
 * The one owner of a stack's state, built once from its `EngineSettings` (engine-settings.ts); everything here
 * is framework-free. It holds the layers (with their guards and recovery queues), tags, namespace generations,
 * write versions, in-flight work, the bus, events, counters and the lifecycle, and builds the parts of the
 * engine, handing each exactly what it uses through its constructor (a `…Parts` interface per part):
 *   - `ReadPath` (read-path.ts): `get`/`peek`, the read path and its races;
 *   - `LayerReader` (layer-reader.ts): reads of the layers, their validation and backfill; bulk reads;
 *   - `LoadRunner` (load-runner.ts): loads and background refreshes, once per process or per cluster;
 *   - `StackWrites` (stack-writes.ts): writes, deletes, clears, pattern, tag and generation invalidations;
 *   - `Renewals` (renewals.ts): sliding and adaptive extensions of fresh entries, and a hot key's adaptive ttl;
 *   - `LocalInvalidation` (local-invalidation.ts): what peers' announcements do here (`StackBus`);
 *   - `Warmer` (warmer.ts): `warm()`, over the reader's lookups and the runner's loads (a miss's load path).
 * `CacheStack` (and its namespace views) holds one `StackCore` and calls those parts directly; what is left
 * here is what belongs to the whole: `ready`, `idle`, `close`, `health` (stack-health.ts) and the metrics snapshot.
 *
 * Hard parts: the order of construction (a tag store or revalidation lock on a layer's connection shares that
 * layer's guard, so the layers come first; the bus target exists before the bus starts delivering), and
 * `close()`: the lifecycle is marked closed first (every public operation rejects, a refresh whose lease
 * arrives late aborts), running loads are aborted, background work drains, write-behind's queue is flushed,
 * then each resource is closed.
 */
import type { Clock } from '../core/clock.js';
import { StackClosedError } from '../core/errors.js';
import type { InvalidationMessage } from '../core/invalidation-bus.js';
import type { BurstLogger } from '../core/logger.js';
import { newStackMetrics, type CacheMetrics, type StackMetrics } from '../core/metrics.js';
import { VersionClock } from '../core/version-clock.js';
import { Stopwatch } from '../core/latency.js';
import type { EntryPolicy } from './cache-stack.options.js';
import { DistributedLoads } from './distributed-loads.js';
import type { EngineSettings } from './engine-settings.js';
import { EntryFactory } from './entry-builder.js';
import { LifetimeCap } from './max-lifetime.js';
import { Generations } from './generations.js';
import { InFlightWork } from './in-flight-work.js';
import { LayerGuard } from './layer-guard.js';
import { LayerReader } from './layer-reader.js';
import { LayerSet } from './layer-set.js';
import { LoadRunner } from './load-runner.js';
import { LoaderProtection } from './loader-protection.js';
import { LocalInvalidation } from './local-invalidation.js';
import { ReadPath } from './read-path.js';
import { Renewals } from './renewals.js';
import { RevalidationCoordinator } from './revalidation.js';
import { newBusMetrics, snapshotBusMetrics, StackBus } from './stack-bus.js';
import { StackEvents } from './stack-events.js';
import { checkStackHealth, type CacheHealthReport } from './stack-health.js';
import { StackInspector } from './stack-inspect.js';
import { StackLifecycle } from './stack-lifecycle.js';
import { StackTags, tagKeepMs } from './stack-tags.js';
import { Snapshots } from './snapshots.js';
import { StackWrites } from './stack-writes.js';
import { StrictWrites } from './strict-writes.js';
import { WriteBehind } from './write-behind.js';
import { Warmer } from './warmer.js';

/** The counters of a guard that belongs to no layer. */
interface GuardCounters {
  errors: number;
  skipped: number;
}

export class StackCore {
  /** The stack's default entry policy (options resolved once). */
  readonly policy: EntryPolicy;
  /** The stack's time source. */
  readonly clock: Clock;
  readonly events: StackEvents;
  /** Namespace generations (`bumpGeneration`); views read them to build their key prefix. */
  readonly generations: Generations;
  readonly reads: ReadPath;
  /** Bulk reads (`readMany`). */
  readonly reader: LayerReader;
  readonly writes: StackWrites;
  /** `warm()`: loads through the same `LoadRunner` as reads (single-flight in process and per cluster). */
  readonly warmer: Warmer;
  /** `exportSnapshot` / `importSnapshot` of the in-process layers. */
  readonly snapshots: Snapshots;
  /** `ttl(key)` / `inspect(key)`: an entry's state read without loading or counting (stack-inspect.ts). */
  readonly inspector: StackInspector;

  private readonly log: BurstLogger;
  private readonly lifecycle = new StackLifecycle();
  private readonly metrics: StackMetrics = newStackMetrics();
  /** Every loader run's duration (`LoadRunner`). */
  private readonly loaderDuration: Stopwatch;
  private readonly layers: LayerSet;
  private readonly tags: StackTags;
  private readonly tagCounters: GuardCounters = { errors: 0, skipped: 0 };
  private readonly lockCounters: GuardCounters = { errors: 0, skipped: 0 };
  private readonly inFlight: InFlightWork;
  /** Once-per-cluster loads, with the counters of their guard; `undefined` without a coordinator. */
  private readonly loads: DistributedLoads | undefined;
  private readonly loadCounters: GuardCounters = { errors: 0, skipped: 0 };
  /** Guards that belong to no layer (a tag store, lock or coordinator of their own): their probing stops on close. */
  private readonly ownGuards: LayerGuard[] = [];
  private readonly bus: StackBus | undefined;
  /** `writePolicy: 'strict'` (`undefined`: best-effort) and write-behind's queue (`undefined`: none). */
  private readonly strict: StrictWrites | undefined;
  private readonly writeBehind: WriteBehind | undefined;
  /** Announces a replayed invalidation to the peers (set once the bus is built). */
  private readonly announceReplay: (message: InvalidationMessage) => void;
  private readonly versions: VersionClock;
  /** The stack's `layerTimeout` (ms): the default bound of a health check's pings. */
  readonly layerTimeout: number;

  constructor(settings: EngineSettings) {
    const clock = settings.clock;
    const log = settings.log;
    const lifecycle = this.lifecycle;
    this.policy = settings.policy;
    this.layerTimeout = settings.guard.timeout;
    this.clock = clock;
    this.log = log;
    this.loaderDuration = new Stopwatch(clock);
    const events = new StackEvents(log);
    this.events = events;
    const onError = (layer: string, operation: string, error: unknown) => events.emit('layer-error', { layer, operation, error });
    const layers = new LayerSet(settings.layers, settings, clock, log, onError, (index) => lifecycle.track(this.recovered(index)));
    this.layers = layers;
    // A store that lives beside a layer's data (RedisLayer.createTagStore) shares that layer's connection,
    // so it shares its guard too: one back-off window, and the layer's recovery replays both.
    const layerGuard = settings.tagStoreLayer === undefined ? undefined : layers.guards[settings.tagStoreLayer];
    const tagGuard = !settings.tagStore.shared
      ? undefined
      : (layerGuard ?? this.ownGuard(new LayerGuard('tag-store', this.tagCounters, settings.guard, clock, log, onError, () => lifecycle.track(this.replayTags()), probeOf(settings.tagStore))));
    const keepMs = tagKeepMs(settings.maxLifetimeMs);
    const tags = new StackTags(settings.tagStore, tagGuard, settings.recoveryQueueSize, log, clock, keepMs);
    this.tags = tags;
    const generations = new Generations(settings.tagStore, tagGuard, log, clock, settings.guard.timeout, settings.guard.backoff, keepMs);
    generations.watch('');
    this.generations = generations;
    const versions = new VersionClock(clock);
    this.inFlight = new InFlightWork(this.revalidation(settings, onError));
    if (settings.singleFlight !== undefined) {
      const coordinator = settings.singleFlight.coordinator;
      const guard = this.ownGuard(new LayerGuard('single-flight', this.loadCounters, settings.guard, clock, log, onError, undefined, probeOf(coordinator)));
      this.loads = new DistributedLoads(coordinator, guard, settings.singleFlight.leaseTtl, clock, versions);
    }
    const shared = { clock, log, lifecycle, layers, tags, versions, generations, events, inFlight: this.inFlight, metrics: this.metrics };
    this.strict = settings.writes.writePolicy === 'strict' ? new StrictWrites(layers) : undefined;
    // Write-behind only delays shared layers: without one there is nothing to queue. It announces its flushes
    // through the bus, which is built below (its flushes start later).
    const behind = settings.writes.writeBehind;
    this.writeBehind =
      behind === undefined || !settings.layers.some((layer) => layer.shared)
        ? undefined
        : new WriteBehind(behind, { clock, log, layers, lifecycle, announce: (message) => announce(message) });
    layers.pending = this.writeBehind;
    // The bus target exists before the bus starts delivering; its rejections are counted with the bus's counters.
    const busMetrics = newBusMetrics();
    const local = new LocalInvalidation({ ...shared, pendingWrites: this.writeBehind, countRejected: () => void busMetrics.rejected++ });
    if (settings.bus !== undefined) this.bus = new StackBus(settings.bus, busMetrics, local, log, settings.logger, clock);
    const bus = this.bus;
    // With a bus, the tag mirror answers for the tags it read while the bus is subscribed (stack-tags.ts).
    if (bus !== undefined) tags.followBus(() => bus.subscription() === 'subscribed');
    const announce = bus === undefined ? () => undefined : (message: InvalidationMessage) => lifecycle.track(bus.publish(message));
    this.announceReplay = announce;
    this.versions = versions;
    const renewals = new Renewals({ layers, lifecycle, metrics: this.metrics, maxLifetime: settings.maxLifetimeMs });
    const entries = new EntryFactory(clock, log, renewals, Math.random, new LifetimeCap(settings.maxLifetimeMs, settings.logger));
    this.reader = new LayerReader({ ...shared, renewals });
    const protection = new LoaderProtection({ clock, log, metrics: this.metrics, events });
    const runner = new LoadRunner({ ...shared, entries, announce, loads: this.loads, reader: this.reader, protection, loaderDuration: this.loaderDuration, tracing: settings.tracing });
    this.reads = new ReadPath({ ...shared, reader: this.reader, runner, renewals });
    this.warmer = new Warmer({ ...shared, reader: this.reader, runner });
    this.inspector = new StackInspector({ clock, layers, tags, lifecycle });
    this.snapshots = new Snapshots({ clock, layers: settings.layers, tags, maxLifetime: settings.maxLifetimeMs });
    this.writes = new StackWrites({
      ...shared,
      entries,
      announce,
      dropScope: (scope) => local.dropScope(scope),
      strict: this.strict,
      writeBehind: this.writeBehind,
    });
  }

  /** Resolves once the bus is subscribed (at once without a bus; a failure is logged, not thrown). */
  async ready(): Promise<void> {
    await this.bus?.ready();
    await this.generations.whenFetched();
  }

  /** Resolves once no background work (refreshes, backfills, replays) is pending. */
  idle(): Promise<void> {
    return this.lifecycle.idle();
  }

  /** Pings every layer (bounded by `timeoutMs`) and reads the bus's subscription (stack-health.ts). */
  health(timeoutMs: number): Promise<CacheHealthReport> {
    const bus = this.bus;
    const parts = {
      clock: this.clock,
      layers: this.layers.layers,
      guards: this.layers.guards,
      bus: bus === undefined ? undefined : () => bus.subscription(),
      closed: () => this.lifecycle.closed,
    };
    return checkStackHealth(parts, timeoutMs);
  }

  /** Counters of the stack and of each layer (a snapshot). */
  getMetrics(): CacheMetrics {
    return {
      stack: { ...this.metrics },
      layers: this.layers.snapshot(),
      tagStore: { ...this.tagCounters },
      revalidationLock: { ...this.lockCounters },
      bus: this.bus === undefined ? undefined : snapshotBusMetrics(this.bus.metrics),
      singleFlight: this.loads === undefined ? undefined : { ...this.loads.metrics, ...this.loadCounters },
      writeBehind: this.writeBehind?.snapshot(),
      strictWriteFailures: this.strict?.failures ?? 0,
      loaderDuration: this.loaderDuration.snapshot(),
    };
  }

  /** Aborts running loads, waits for background work, closes layers, the tag store, the lock, the coordinator and the bus. */
  async close(): Promise<void> {
    if (!this.lifecycle.close()) return;
    for (const guard of this.ownGuards) guard.close();
    this.inFlight.flights.abortAll(new StackClosedError());
    await this.lifecycle.idle();
    // Queued writes reach the shared layers (and their announcements the bus) before either closes.
    await this.writeBehind?.close();
    await this.lifecycle.idle();
    await this.layers.close();
    await this.tags.close();
    await this.inFlight.revalidation?.close();
    this.generations.close();
    await this.loads?.close();
    await this.bus?.close();
    this.events.removeAll();
  }

  /** Keeps a guard that belongs to no layer (tag store, lock, coordinator), so `close()` stops its probing. */
  private ownGuard(guard: LayerGuard): LayerGuard {
    this.ownGuards.push(guard);
    return guard;
  }

  /** The revalidation lock's side, `undefined` without a lock. */
  private revalidation(settings: EngineSettings, onError: (layer: string, operation: string, error: unknown) => void): RevalidationCoordinator | undefined {
    const lock = settings.revalidation;
    if (lock === undefined) return undefined;
    // A layer's own lock shares its connection, so its guard; a lock given by the user gets one of its own.
    const lockGuard =
      lock.layer !== undefined
        ? this.layers.guards[lock.layer]
        : lock.lock.shared
          ? this.ownGuard(new LayerGuard('revalidation-lock', this.lockCounters, settings.guard, this.clock, this.log, onError, undefined, probeOf(lock.lock)))
          : undefined;
    return new RevalidationCoordinator(lock.lock, lockGuard, lock.timeout, this.clock, this.metrics);
  }

  /** Replays the tag invalidations the store missed and announces the versions it gave them. */
  private async replayTags(): Promise<void> {
    for (const { tags, mode, versions } of await this.tags.replay()) this.announceReplay({ kind: 'tags', tags, mode, versions });
  }

  /** Shared layer `index` answers again: replay what it (and a tag store on its connection) missed. */
  private async recovered(index: number): Promise<void> {
    if (this.tags.guard === this.layers.guards[index]) await this.replayTags();
    const replayed = await this.layers.replay(index);
    if (replayed === undefined) return;
    // Peers may have read the value the replay removed (from a Redis that lost the write, e.g. a promoted replica)
    // into their L1 since the write was announced: announce the removal too.
    const version = this.versions.next();
    if (replayed.clearAll) this.announceReplay({ kind: 'clear', prefix: undefined, version });
    else {
      for (const prefix of replayed.prefixes) this.announceReplay({ kind: 'clear', prefix, version });
      if (replayed.keys.length > 0) this.announceReplay({ kind: 'keys', keys: replayed.keys, version });
    }
  }
}

/** The health check of a collaborator that has one (`probe()`: Redis PING), bound to it, for its guard. */
function probeOf(collaborator: { probe?(): unknown }): (() => unknown) | undefined {
  return collaborator.probe === undefined ? undefined : () => collaborator.probe?.();
}
