/**
 * The stack's side of the L1 invalidation bus (docs/distributed.md, "Invalidation bus"; docs/bus-security.md
 * for what it trusts; the transport is an
 * `InvalidationBus`, e.g. `RedisInvalidationBus`).
 *
 * Outgoing: after the authoritative write (the shared layer answered, or failed and queued a replay), the
 * engine announces it — keys with their write version, tags with their versions, a cleared prefix. Publishing
 * never delays nor fails the caller: it runs in the background and a failure is counted and logged once per
 * burst (peers then keep their copies until their own ttl: the L1 ttl bounds the staleness a lost message
 * can cause).
 *
 * Incoming (`BusTarget`, implemented by `LocalInvalidation`):
 *   keys k at version v  → drop the L1 copies of k older than v; loads and L2 reads of k in flight do not
 *                          store what they read (they started before the write);
 *   tags at versions vs  → record them in the tag mirror: entries carrying them fail validation, no scan;
 *   clear(prefix)        → drop L1 copies under prefix;
 *   generation(scope, g) → learn g (keys under scope move to new names), drop L1 copies under scope;
 *   resubscribed         → messages may have been lost while disconnected: clear the whole L1, and read every
 *                          tag's state from the store again (the mirror no longer answers for them).
 * Lag: a message carrying the sender's timestamp (`sentAt`) is timed into `metrics.lag` on arrival.
 * Versions make a late message harmless: a copy at least as new as the message's version is kept. Counters
 * beyond what peers and the store can have produced are rejected (`PeerCounters`, peer-counters.ts).
 */
import type { Clock } from '../core/clock.js';
import type { BusSubscriptionState, InvalidationBus, InvalidationMessage } from '../core/invalidation-bus.js';
import { LatencyRecorder } from '../core/latency.js';
import type { BurstLogger, CacheLogger } from '../core/logger.js';
import type { BusMetrics } from '../core/metrics.js';
import type { TagMatchMode } from '../core/tag-store.js';

/** What the bus does to the stack's in-process state. */
export interface BusTarget {
  dropKeys(keys: readonly string[], version: number): void;
  applyTags(tags: readonly string[], mode: TagMatchMode, versions: readonly number[]): void;
  clearPrefix(prefix: string | undefined, version: number): void;
  generation(scope: string, generation: number): void;
  /** Clears the in-process layer after a resubscription. */
  resync(): void;
}

/** Announces a change made here to the peers (in the background; never fails the caller). */
export type Announce = (message: InvalidationMessage) => void;

/** A bus's counters as kept in place: its lag is a recorder. */
export interface LiveBusMetrics extends BusMetrics {
  readonly lag: LatencyRecorder;
}

/** Fresh counters of a bus. */
export function newBusMetrics(): LiveBusMetrics {
  return { published: 0, publishErrors: 0, received: 0, rejected: 0, resyncs: 0, lag: new LatencyRecorder() };
}

/** A plain copy of a bus's counters (`getMetrics()`). */
export function snapshotBusMetrics(metrics: LiveBusMetrics): BusMetrics {
  return { ...metrics, lag: metrics.lag.snapshot() };
}

export class StackBus {
  private readonly started: Promise<void>;
  /** What this side saw of the subscription, for a bus without `subscription()`. */
  private seen: BusSubscriptionState = 'subscribing';

  constructor(
    private readonly bus: InvalidationBus,
    /** Its counters (`rejected` is counted by `PeerCounters`). */
    readonly metrics: LiveBusMetrics,
    target: BusTarget,
    private readonly log: BurstLogger,
    logger: CacheLogger,
    /** The wall clock the lag is measured against (the sender stamps with its own). */
    clock: Clock,
  ) {
    this.started = bus
      .start({
        onMessage: (message, sentAt) => {
          this.metrics.received++;
          if (typeof sentAt === 'number') this.metrics.lag.record(clock.now() - sentAt);
          apply(target, message);
        },
        onResubscribed: () => {
          this.metrics.resyncs++;
          if (this.seen !== 'closed') this.seen = 'subscribed';
          this.log.success('invalidation bus');
          (logger.log ?? logger.warn).call(logger, 'Invalidation bus resubscribed: messages may have been missed, the in-process layer was cleared');
          target.resync();
        },
      })
      .then(
        () => {
          if (this.seen !== 'closed') this.seen = 'subscribed';
          this.log.success('invalidation bus');
        },
        (error: unknown) => {
          if (this.seen === 'subscribing') this.seen = 'interrupted';
          this.log.failure('invalidation bus', 'The invalidation bus is not subscribed; until it is, peers\' invalidations do not reach this process\'s L1', error);
        },
      );
  }

  /** Where the subscription stands: the bus's own answer when it has one, else what this side saw. Never throws. */
  subscription(): BusSubscriptionState {
    if (this.seen === 'closed' || this.bus.subscription === undefined) return this.seen;
    try {
      return this.bus.subscription();
    } catch {
      return 'interrupted';
    }
  }

  /** Resolves once the subscription is up (or failed: logged). */
  ready(): Promise<void> {
    return this.started;
  }

  /** Announces `message`; never rejects. */
  async publish(message: InvalidationMessage): Promise<void> {
    try {
      await this.bus.publish(message);
      this.metrics.published++;
      this.log.success('invalidation bus publish');
    } catch (error) {
      this.metrics.publishErrors++;
      this.log.failure('invalidation bus publish', 'Could not announce an invalidation to the other instances', error);
    }
  }

  async close(): Promise<void> {
    this.seen = 'closed';
    await this.started;
    await this.bus.close();
  }
}

function apply(target: BusTarget, message: InvalidationMessage): void {
  switch (message.kind) {
    case 'keys':
      target.dropKeys(message.keys, message.version);
      return;
    case 'tags':
      target.applyTags(message.tags, message.mode, message.versions);
      return;
    case 'clear':
      target.clearPrefix(message.prefix, message.version);
      return;
    case 'generation':
      target.generation(message.scope, message.generation);
      return;
  }
}
