/**
 * Latency distributions of the metrics (`getMetrics()`): a fixed set of log-scale buckets in milliseconds and
 * the recorder that fills them in place (one add and a short scan per duration, no allocation). The snapshot
 * derives the mean and the percentiles from the buckets, so reading them costs nothing on the hot path.
 */
import { monotonicOf, type Clock } from './clock.js';

/**
 * The upper bounds (ms, inclusive) of the latency buckets: from 50 µs (an in-process read) to 5 s (a slow loader).
 * A duration above the last bound lands in the +Inf slot. Also the Prometheus histograms' `le` bounds (in seconds).
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]);

/** A latency distribution in milliseconds over fixed log-scale buckets ({@link LATENCY_BUCKETS_MS}). */
export interface LatencyMetrics {
  /** Durations recorded. */
  count: number;
  /** Their sum (ms). */
  sum: number;
  /** `sum / count` (0 when nothing was recorded). */
  mean: number;
  /** The longest (ms). */
  max: number;
  /**
   * Percentiles estimated from the buckets: the upper bound of the bucket holding the quantile, capped at `max`
   * (the exact value lies in that bucket; 0 when nothing was recorded).
   */
  p50: number;
  p90: number;
  p99: number;
  /**
   * `buckets[i]` counts durations `<= LATENCY_BUCKETS_MS[i]` and `>` the previous bound (NOT cumulative); the last
   * slot (index `LATENCY_BUCKETS_MS.length`) is +Inf.
   */
  buckets: readonly number[];
}

const BOUNDS = LATENCY_BUCKETS_MS;
const SLOTS = BOUNDS.length + 1;

/** Collects durations into buckets; reads as a {@link LatencyMetrics} (getters) and copies into a plain one. */
export class LatencyRecorder implements LatencyMetrics {
  count = 0;
  sum = 0;
  max = 0;
  readonly buckets: number[] = new Array<number>(SLOTS).fill(0);

  /** Records one duration in ms (a negative or non-finite one, e.g. a peer's clock ahead of ours, counts as 0). */
  record(ms: number): void {
    const value = ms >= 0 && ms !== Infinity ? ms : 0;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
    let i = 0;
    while (i < BOUNDS.length && value > (BOUNDS[i] as number)) i++;
    (this.buckets[i] as number)++;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  get p50(): number {
    return this.quantile(0.5);
  }

  get p90(): number {
    return this.quantile(0.9);
  }

  get p99(): number {
    return this.quantile(0.99);
  }

  /** The upper bound of the bucket holding quantile `q` (0..1), capped at `max`; `max` itself in the +Inf slot. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BOUNDS.length; i++) {
      seen += this.buckets[i] as number;
      if (seen >= rank) return Math.min(BOUNDS[i] as number, this.max);
    }
    return this.max;
  }

  /** A plain copy (what `getMetrics()` returns). */
  snapshot(): LatencyMetrics {
    return { count: this.count, sum: this.sum, mean: this.mean, max: this.max, p50: this.p50, p90: this.p90, p99: this.p99, buckets: this.buckets.slice() };
  }
}

/** Fresh recorders, one per key of `names`. */
export function newRecorders<K extends string>(names: readonly K[]): Record<K, LatencyRecorder> {
  const out = {} as Record<K, LatencyRecorder>;
  for (const name of names) out[name] = new LatencyRecorder();
  return out;
}

/** Plain copies of `recorders` (the snapshot of a `Record` of them). */
export function snapshotRecorders<K extends string>(recorders: Readonly<Record<K, LatencyMetrics>>): Record<K, LatencyMetrics> {
  const out = {} as Record<K, LatencyMetrics>;
  for (const name of Object.keys(recorders) as K[]) {
    const recorder = recorders[name];
    out[name] = recorder instanceof LatencyRecorder ? recorder.snapshot() : { ...recorder, buckets: recorder.buckets.slice() };
  }
  return out;
}

/** A recorder with its own time source (the clock's monotonic one): `stop(start())` records the time between. */
export class Stopwatch extends LatencyRecorder {
  private readonly elapsed: () => number;

  constructor(clock: Clock) {
    super();
    this.elapsed = monotonicOf(clock);
  }

  /** The current monotonic time, to pass to {@link Stopwatch.stop}. */
  start(): number {
    return this.elapsed();
  }

  /** Records the time since `started` (a value of {@link Stopwatch.start}). */
  stop(started: number): void {
    this.record(this.elapsed() - started);
  }
}
