/**
 * Write-behind (`writeBehind`): a `set` reaches the in-process layers at once and waits here for the shared
 * layers, which get the queued entries in batches: one `setMany` per flush and shared layer (RedisLayer sends it
 * as one pipeline, per slot on a Cluster), through the layer's guard as any write (a failed flush is counted,
 * logged, and its keys are deleted from that layer when it recovers: it may hold older values of them).
 *
 * When a flush starts: `flushInterval` after the first set into an empty queue (so an entry waits at most that
 * long, plus the flush before it), at once when `maxBatch` entries wait, and on `close()`. One flush runs at a
 * time and sends what was queued when it started, `maxBatch` entries per batch (what arrives meanwhile waits for the
 * next interval; `close()` sends everything). A set of a key already queued replaces its
 * entry (last write wins, one write sent); a set of a new key while `maxQueue` keys wait is written through to
 * the shared layers at once (`writtenThrough`): nothing is ever dropped, and the queue's memory is bounded. A
 * delete, clear or invalidation of a queued key cancels its entry (`cancelled`), and so does a peer's newer
 * write or delete of it (its announced version is newer than the entry's).
 *
 * Peers learn of a write only after its flush (one announcement per batch, at the batch's newest version):
 * until then their L1 may keep an older copy and their reads of the shared layer get the older value.
 * Reads here of a queued (or flushing) key are served the queued entry (`LayerSet.pending`), also when L1
 * evicted it. A process that dies loses what is queued: at most one `flushInterval` of sets.
 *
 * No library: the queue is a Map keyed by key (insertion order is age, replacement keeps the place), batching
 * is a slice of it, and the timer is the stack's injected clock (fake in tests); a queue library (p-queue,
 * bottleneck) would bring its own timers and would not cancel or replace entries by key.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import type { BurstLogger } from '../core/logger.js';
import type { WriteBehindMetrics } from '../core/metrics.js';
import type { KeyedEntry, LayerSet, PendingWrites } from './layer-set.js';
import type { Announce } from './stack-bus.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { WriteBehindSettings } from './write-options.js';

/** What `WriteBehind` works on (given by `StackCore`). */
export interface WriteBehindParts {
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly layers: LayerSet;
  readonly lifecycle: StackLifecycle;
  readonly announce: Announce;
}

/** Fresh write-behind counters. */
export function newWriteBehindMetrics(): WriteBehindMetrics {
  return { queued: 0, replaced: 0, flushed: 0, batches: 0, cancelled: 0, failedFlushes: 0, writtenThrough: 0, pending: 0 };
}

export class WriteBehind implements PendingWrites {
  readonly metrics: WriteBehindMetrics = newWriteBehindMetrics();
  /** Entries waiting, by key; insertion order is their age. */
  private readonly queue = new Map<string, CacheEntry>();
  /** The batch being sent: still served to reads here until the shared layers have it. */
  private sending = new Map<string, CacheEntry>();
  private timer: TimerHandle | undefined;
  /** The running flush (one at a time), `undefined` when idle. */
  private running: Promise<void> | undefined;

  constructor(
    private readonly settings: WriteBehindSettings,
    private readonly parts: WriteBehindParts,
  ) {}

  /** The entry queued (or being sent) for `key`: what the shared layers will hold. */
  get(key: string): CacheEntry | undefined {
    return this.queue.get(key) ?? this.sending.get(key);
  }

  /** Entries waiting (not yet sent). */
  get size(): number {
    return this.queue.size;
  }

  /**
   * Queues entries (already written to the local layers) for the shared layers. Returns the entries that did
   * not fit (`maxQueue`): the caller writes those through.
   */
  enqueue(items: readonly KeyedEntry[]): KeyedEntry[] {
    const overflow: KeyedEntry[] = [];
    for (const { key, entry } of items) {
      if (this.queue.has(key)) {
        this.queue.set(key, entry);
        this.metrics.replaced++;
      } else if (this.queue.size < this.settings.maxQueue) {
        this.queue.set(key, entry);
        this.metrics.queued++;
      } else {
        overflow.push({ key, entry });
      }
    }
    this.metrics.writtenThrough += overflow.length;
    if (this.queue.size >= this.settings.maxBatch) this.flushSoon();
    else if (this.queue.size > 0 && this.timer === undefined && this.running === undefined) this.schedule();
    return overflow;
  }

  /** Cancels the queued writes of `keys` (they are deleted or invalidated). */
  cancel(keys: readonly string[]): void {
    for (const key of keys) if (this.queue.delete(key)) this.metrics.cancelled++;
  }

  /** Cancels the queued writes of `keys` older than `version` (a peer wrote or deleted them since). */
  cancelOlder(keys: readonly string[], version: number): void {
    for (const key of keys) {
      const entry = this.queue.get(key);
      if (entry !== undefined && (entry.version ?? 0) < version) {
        this.queue.delete(key);
        this.metrics.cancelled++;
      }
    }
  }

  /** Cancels the queued writes under `prefix` (every one for `undefined`); only those older than `version` when given. */
  cancelPrefix(prefix: string | undefined, version = Number.POSITIVE_INFINITY): void {
    for (const [key, entry] of [...this.queue]) {
      if ((prefix === undefined || key.startsWith(prefix)) && (entry.version ?? 0) < version) {
        this.queue.delete(key);
        this.metrics.cancelled++;
      }
    }
  }

  /** Sends everything queued now; resolves once it is sent (also what was queued meanwhile). */
  async flush(): Promise<void> {
    this.unschedule();
    while (this.running !== undefined || this.queue.size > 0) {
      if (this.running === undefined) this.flushSoon();
      await this.running;
    }
  }

  /** Flushes what is queued and stops the timer (the stack is closing). */
  async close(): Promise<void> {
    await this.flush();
    this.unschedule();
  }

  /** A snapshot of the counters. */
  snapshot(): WriteBehindMetrics {
    return { ...this.metrics, pending: this.queue.size + this.sending.size };
  }

  private schedule(): void {
    this.timer = this.parts.clock.setTimeout(() => {
      this.timer = undefined;
      this.flushSoon();
    }, this.settings.flushInterval);
  }

  private unschedule(): void {
    if (this.timer !== undefined) this.parts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts a flush unless one runs (it sends what arrives meanwhile too). */
  private flushSoon(): void {
    if (this.running !== undefined) return;
    this.unschedule();
    const run = this.drain().finally(() => {
      this.running = undefined;
      // Entries that arrived after the last batch left: their interval starts now.
      if (this.queue.size > 0 && this.timer === undefined) {
        if (this.queue.size >= this.settings.maxBatch) this.flushSoon();
        else this.schedule();
      }
    });
    this.running = run;
    this.parts.lifecycle.track(run);
  }

  /**
   * Sends what is queued now, in batches; what arrives meanwhile waits for the next flush (else a steady stream of
   * sets would be sent a round trip at a time). Never rejects.
   */
  private async drain(): Promise<void> {
    let left = this.queue.size;
    while (left > 0 && this.queue.size > 0) left -= await this.sendBatch();
  }

  /** Sends the oldest `maxBatch` entries to every shared layer, then announces them to the peers; resolves to their number. */
  private async sendBatch(): Promise<number> {
    const batch: KeyedEntry[] = [];
    let version = 0;
    for (const [key, entry] of this.queue) {
      batch.push({ key, entry });
      this.queue.delete(key);
      version = Math.max(version, entry.version ?? 0);
      if (batch.length >= this.settings.maxBatch) break;
    }
    this.sending = new Map(batch.map(({ key, entry }) => [key, entry]));
    const { layers, announce, log } = this.parts;
    try {
      const failures = await layers.write(batch, layers.size, false, 'shared');
      this.metrics.batches++;
      if (failures.length > 0) this.metrics.failedFlushes++;
      else this.metrics.flushed += batch.length;
    } catch (error) {
      // `LayerSet.write` does not reject; kept so that a bug here cannot stall the queue forever.
      this.metrics.failedFlushes++;
      log.failure('write-behind', 'A write-behind flush failed', error);
    } finally {
      this.sending = new Map();
    }
    announce({ kind: 'keys', keys: batch.map((b) => b.key), version });
    return batch.length;
  }
}
