/**
 * Rate limits of loader runs (`loaderRateLimit`), by bucket, in this process: at most `concurrency` runs at once
 * and `perSecond` starts in any rolling second per bucket. A run holds its slot from its start until its loader
 * settles (or times out: the loader was aborted then). Like the breaker, a bucket counts loader RUNS (one per
 * flight), not callers.
 *
 * - Room now and nobody waiting: the run starts at once (no timer, no promise).
 * - No room: the run waits in the bucket's FIFO queue up to its `maxWait` (a timer on the injected clock), then
 *   fails with `RateLimitError`; `immediate` (a load with a stale-if-error value to fall back on) fails at once
 *   instead of waiting. A slot freed wakes the head of the queue; a queue held back by `perSecond` is woken when
 *   the oldest start leaves the rolling second. A waiting run aborted (the stack closes) leaves the queue.
 * - Settings are the run's own (its policy): runs with different limits in one bucket share its counters, each
 *   checked against its own bounds. A bucket is forgotten once idle (nothing running, queued or started within
 *   the second); past `MAX_BUCKETS`, idle ones are swept when a new one is created.
 *
 * Why not bottleneck or p-limit: neither takes a clock (bottleneck reads `Date.now()` and schedules its own
 * timers; p-limit has no time-based limit and no bounded wait), so `perSecond` and `maxWait` could not be tested
 * on the injected clock; and both would queue callers, while this queues flights.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { RateLimitError } from '../core/errors.js';
import type { StackMetrics } from '../core/metrics.js';
import type { RateLimitPolicy } from './loader-protection.options.js';

/** The bucket a load belongs to: `id` for identity, `label` for errors. */
export interface BucketRef {
  readonly id: string;
  readonly label: string;
}

interface Waiter {
  readonly policy: RateLimitPolicy;
  readonly since: number;
  readonly resolve: (release: () => void) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
  cleanup: () => void;
}

interface Bucket {
  readonly ref: BucketRef;
  running: number;
  /** Start times within the last second, oldest first. */
  readonly starts: number[];
  readonly queue: Waiter[];
  /** The timer that wakes the queue when a start leaves the rolling second. */
  wake: TimerHandle | undefined;
}

const SECOND = 1000;
const MAX_BUCKETS = 10_000;

export class LoaderLimits {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    private readonly metrics: StackMetrics,
  ) {}

  /**
   * A slot for one run in `ref`: a release function (call it once the loader settled), at once when there is
   * room, else a promise of one; rejects with `RateLimitError` after `maxWait` (at once when `immediate`), or with
   * the signal's reason when it aborts while waiting.
   */
  acquire(ref: BucketRef, policy: RateLimitPolicy, immediate: boolean, signal: AbortSignal): (() => void) | Promise<() => void> {
    let bucket = this.buckets.get(ref.id);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep();
      bucket = { ref, running: 0, starts: [], queue: [], wake: undefined };
      this.buckets.set(ref.id, bucket);
    }
    const now = this.clock.now();
    if (bucket.queue.length === 0 && this.hasRoom(bucket, policy, now)) return this.start(bucket, now);
    if (immediate || policy.maxWait <= 0) {
      this.metrics.rateLimited++;
      this.forgetIfIdle(bucket);
      return Promise.reject(new RateLimitError(ref.label, 0));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    this.metrics.rateLimitWaits++;
    const b = bucket;
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = { policy, since: now, resolve, reject, timer: undefined, cleanup: () => undefined };
      const leave = () => {
        const index = b.queue.indexOf(waiter);
        if (index >= 0) b.queue.splice(index, 1);
        this.pump(b);
      };
      const onAbort = () => {
        this.clock.clearTimeout(waiter.timer);
        leave();
        reject(signal.reason);
      };
      waiter.timer = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        this.metrics.rateLimited++;
        leave();
        reject(new RateLimitError(ref.label, this.clock.now() - waiter.since));
      }, policy.maxWait);
      waiter.cleanup = () => {
        this.clock.clearTimeout(waiter.timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      b.queue.push(waiter);
      this.pump(b); // a wake-up for a queue held back by perSecond
    });
  }

  private hasRoom(bucket: Bucket, policy: RateLimitPolicy, now: number): boolean {
    if (bucket.running >= policy.concurrency) return false;
    if (policy.perSecond === Number.POSITIVE_INFINITY) return true;
    prune(bucket.starts, now);
    return bucket.starts.length < policy.perSecond;
  }

  private start(bucket: Bucket, now: number): () => void {
    bucket.running++;
    bucket.starts.push(now);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bucket.running--;
      this.pump(bucket);
    };
  }

  /** Starts the waiters at the head of the queue that have room; schedules a wake-up when `perSecond` holds them. */
  private pump(bucket: Bucket): void {
    const now = this.clock.now();
    for (;;) {
      const head = bucket.queue[0];
      if (head === undefined) break;
      if (!this.hasRoom(bucket, head.policy, now)) {
        // Held back by the rolling second (not by running loads): wake up when its oldest start leaves it.
        if (bucket.running < head.policy.concurrency && bucket.wake === undefined && bucket.starts.length > 0) {
          const at = (bucket.starts[0] as number) + SECOND - now;
          bucket.wake = this.clock.setTimeout(() => {
            bucket.wake = undefined;
            this.pump(bucket);
          }, Math.max(1, at));
        }
        return;
      }
      bucket.queue.shift();
      head.cleanup();
      head.resolve(this.start(bucket, now));
    }
    this.forgetIfIdle(bucket);
  }

  private forgetIfIdle(bucket: Bucket): void {
    if (bucket.running > 0 || bucket.queue.length > 0 || bucket.wake !== undefined) return;
    prune(bucket.starts, this.clock.now());
    if (bucket.starts.length === 0 && this.buckets.get(bucket.ref.id) === bucket) this.buckets.delete(bucket.ref.id);
  }

  /** Forgets idle buckets (their starts are kept until then only for `perSecond`). */
  private sweep(): void {
    const now = this.clock.now();
    for (const [id, bucket] of this.buckets) {
      if (bucket.running > 0 || bucket.queue.length > 0 || bucket.wake !== undefined) continue;
      prune(bucket.starts, now);
      if (bucket.starts.length === 0) this.buckets.delete(id);
    }
  }
}

/** Drops the start times that left the rolling second ending at `now`. */
function prune(starts: number[], now: number): void {
  let drop = 0;
  while (drop < starts.length && (starts[drop] as number) <= now - SECOND) drop++;
  if (drop > 0) starts.splice(0, drop);
}
