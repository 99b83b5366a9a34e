/**
 * Latency of a stack's layer commands (`LayerMetrics.latency`), for `LayerSet`: every command is timed with the
 * clock's monotonic source into its layer's recorder for the operation, from the call to the answer or failure
 * (a guard's timeout included), except a shared layer's commands the guard skips in its back-off window (they
 * cost nothing and would drag the distribution to 0).
 *
 * Hard part: the L1 hit path. A synchronous memory read costs less than two high-resolution clock reads, so timing
 * each one would blow the hit's budget (docs/benchmarks.md, section (l)). The synchronous L1's reads on the read
 * path (`l1Get`) and the local touches of sliding hits are sampled: one in `L1_READ_SAMPLE` is timed (a counter
 * and a mask for the others). A synchronous command is called synchronously and its answer returned as is: local
 * deletes must land before anything is awaited (races (2) and (4) in read-path.ts).
 */
import { monotonicOf, type Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import type { SyncCacheLayer } from '../core/layer.js';
import { L1_READ_SAMPLE, type LayerOperation, type LiveLayerMetrics } from '../core/metrics.js';
import type { LayerGuard } from './layer-guard.js';

const SAMPLE_MASK = L1_READ_SAMPLE - 1;

export class LayerTimer {
  /** The clock's monotonic time (ms). */
  private readonly elapsed: () => number;
  /** Synchronous L1 reads and sampled local touches so far: one in `L1_READ_SAMPLE` is timed. */
  private l1Reads = 0;
  private touches = 0;

  constructor(
    private readonly metrics: readonly LiveLayerMetrics[],
    private readonly guards: readonly (LayerGuard | undefined)[],
    private readonly l1: SyncCacheLayer | undefined,
    clock: Clock,
  ) {
    this.elapsed = monotonicOf(clock);
  }

  /** The synchronous L1's entry for `key` (one read in `L1_READ_SAMPLE` is timed). */
  l1Get(key: string): CacheEntry | undefined {
    if ((++this.l1Reads & SAMPLE_MASK) !== 0) return (this.l1 as SyncCacheLayer).get(key);
    return this.timedL1Get(key);
  }

  /** Whether this local touch is one of the sampled ones. */
  sampleTouch(): boolean {
    return (++this.touches & SAMPLE_MASK) === 0;
  }

  /**
   * Calls `command` on layer `index` — directly for a local layer, through its guard (`name`: the guard's
   * operation name) for a shared one — and records its duration under `operation`.
   */
  run<T>(index: number, operation: LayerOperation, name: string, command: () => T | Promise<T>): T | Promise<T> {
    const guard = this.guards[index];
    const recorder = (this.metrics[index] as LiveLayerMetrics).latency[operation];
    const started = this.elapsed();
    const done = (): void => recorder.record(this.elapsed() - started);
    // A shared layer's guard calls `done` in its own callbacks (no promise of ours on every L2 read); a command it
    // skips in its back-off window is not timed.
    if (guard !== undefined) return guard.run(name, command, done);
    let result: T | Promise<T>;
    try {
      result = command();
    } catch (error) {
      done();
      throw error;
    }
    if (!(result instanceof Promise)) {
      done();
      return result;
    }
    return result.then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  private timedL1Get(key: string): CacheEntry | undefined {
    const started = this.elapsed();
    try {
      return (this.l1 as SyncCacheLayer).get(key);
    } finally {
      (this.metrics[0] as LiveLayerMetrics).latency.get.record(this.elapsed() - started);
    }
  }
}
