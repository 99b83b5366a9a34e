/**
 * The state the parts of a stack's engine share, built once from its `EngineSettings`: the layers (with
 * their guards and recovery queues), tags, namespace generations, write versions, in-flight work, the bus,
 * events and counters, and the background work to wait for on `idle()`/`close()`.
 *
 * The parts (`StackEngine` and its read path, `LayerReader`, `LoadRunner`, `StackWrites`,
 * `LocalInvalidation`) each hold this object and no state of their own about keys.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { StackClosedError } from '../core/errors.js';
import type { InvalidationMessage } from '../core/invalidation-bus.js';
import type { BurstLogger } from '../core/logger.js';
import { newStackMetrics, type StackMetrics } from '../core/metrics.js';
import { VersionClock } from '../core/version-clock.js';
import type { EntryPolicy } from './cache-stack.options.js';
import { DistributedLoads } from './distributed-loads.js';
import type { EngineSettings } from './engine-settings.js';
import { buildEntry } from './entry-builder.js';
import { Generations } from './generations.js';
import { InFlightWork } from './in-flight-work.js';
import { LayerGuard } from './layer-guard.js';
import { LayerSet } from './layer-set.js';
import { LocalInvalidation } from './local-invalidation.js';
import { RevalidationCoordinator } from './revalidation.js';
import { StackBus } from './stack-bus.js';
import { StackEvents } from './stack-events.js';
import { StackTags } from './stack-tags.js';

/** The counters of a guard that belongs to no layer. */
interface GuardCounters {
  errors: number;
  skipped: number;
}

export class StackCore {
  /** The stack's time source. */
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly events: StackEvents;
  readonly metrics: StackMetrics = newStackMetrics();
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly tagCounters: GuardCounters = { errors: 0, skipped: 0 };
  readonly lockCounters: GuardCounters = { errors: 0, skipped: 0 };
  /** Namespace generations (`bumpGeneration`); views read them to build their key prefix. */
  readonly generations: Generations;
  /** Versions of writes and loads (see `VersionClock`). */
  readonly versions: VersionClock;
  readonly inFlight: InFlightWork;
  /** Once-per-cluster loads, with the counters of their guard; `undefined` without a coordinator. */
  readonly loads: DistributedLoads | undefined;
  readonly loadCounters: GuardCounters | undefined;
  /** What peers' announcements do here. */
  readonly local: LocalInvalidation;
  readonly bus: StackBus | undefined;
  /** Set by `close()`: every public operation rejects from then on. */
  closed = false;
  private readonly background = new Set<Promise<void>>();

  constructor(settings: EngineSettings) {
    this.clock = settings.clock;
    this.log = settings.log;
    this.events = new StackEvents(settings.log);
    const onError = (layer: string, operation: string, error: unknown) => this.events.emit('layer-error', { layer, operation, error });
    this.layers = new LayerSet(settings.layers, settings, this.clock, this.log, onError, (index) => this.track(this.recovered(index)));
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
    let revalidation: RevalidationCoordinator | undefined;
    if (lock !== undefined) {
      // A layer's own lock shares its connection, so its guard; a lock given by the user gets one of its own.
      const lockGuard =
        lock.layer !== undefined
          ? this.layers.guards[lock.layer]
          : lock.lock.shared
            ? new LayerGuard('revalidation-lock', this.lockCounters, settings.guard, this.clock, this.log, onError)
            : undefined;
      revalidation = new RevalidationCoordinator(lock.lock, lockGuard, lock.timeout, this.clock, this.metrics, settings.guard.timeout);
    }
    this.inFlight = new InFlightWork(revalidation);
    this.versions = new VersionClock(this.clock);
    if (settings.singleFlight !== undefined) {
      const counters = { errors: 0, skipped: 0 };
      const guard = new LayerGuard('single-flight', counters, settings.guard, this.clock, this.log, onError);
      this.loads = new DistributedLoads(settings.singleFlight.coordinator, guard, settings.singleFlight.leaseTtl, this.clock, this.versions, settings.guard.timeout);
      this.loadCounters = counters;
    }
    this.local = new LocalInvalidation(this);
    if (settings.bus !== undefined) this.bus = new StackBus(settings.bus, this.local, this.log, settings.logger);
  }

  /** Every public operation of a closed stack rejects. */
  assertOpen(): void {
    if (this.closed) throw new StackClosedError();
  }

  /** The envelope of a value, or `undefined` when it is not to be cached (or its options threw: logged). */
  entry(key: string, value: unknown, policy: EntryPolicy, tagSeq: number, version: number): CacheEntry | undefined {
    try {
      return buildEntry(value, policy, tagSeq, this.clock.now(), version);
    } catch (error) {
      this.log.warn(`Not caching "${key}": its shouldCache or tags option threw`, error);
      return undefined;
    }
  }

  /** Announces a change to the other instances (in the background; never fails the caller). */
  announce(message: InvalidationMessage): void {
    if (this.bus !== undefined) this.track(this.bus.publish(message));
  }

  /** Keeps `work` until it settles, for `idle()`. */
  track(work: Promise<void>): void {
    this.background.add(work);
    void work.then(() => this.background.delete(work));
  }

  /** Resolves once no background work (refreshes, backfills, replays) is pending. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  /** Shared layer `index` answers again: replay what it (and a tag store on its connection) missed. */
  private async recovered(index: number): Promise<void> {
    if (this.tags.guard === this.layers.guards[index]) await this.tags.replay();
    await this.layers.replay(index);
  }
}
