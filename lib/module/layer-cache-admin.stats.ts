/**
 * The stats behind the admin endpoint: `getMetrics()` of one stack, derived hit ratios, and a time series kept in
 * memory — a point every `interval` on the stack's clock, in a bounded ring of the last `history` points.
 * Hard part: the timer is the stack clock's (unref'd on the system clock) and is stopped in `onModuleDestroy`,
 * before the stack closes; a point's hit ratio is over its interval (the deltas of the counters), `null` without reads.
 */
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { TimerHandle } from '../core/clock.js';
import type { CacheMetrics } from '../core/metrics.js';
import type { CacheStack } from '../stack/cache-stack.js';
import type { ResolvedAdminOptions } from './layer-cache-admin.options.js';

/** One point of the admin time series: the counters' changes over the interval that ended at `at`. */
export interface LayerCacheStatsPoint {
  /** When the point was taken (stack clock, ms since the epoch). */
  at: number;
  /** Reads answered from the cache (fresh or stale) over all reads of the interval; `null` without reads. */
  hitRatio: number | null;
  /** `get` calls of the interval (hits + stale + misses). */
  reads: number;
  /** Loader runs of the interval. */
  loads: number;
  /** Loader runs that failed in the interval. */
  loadErrors: number;
  /** Layer command failures of the interval (every layer). */
  layerErrors: number;
}

/** What `GET <admin.path>/stats` answers. */
export interface LayerCacheAdminStats {
  /** The registration's name. */
  name: string;
  /** Stack clock, ms since the epoch. */
  now: number;
  /** The sampling (and page polling) interval, ms. */
  intervalMs: number;
  /** Hit ratios since the stack started: the stack's and each layer's (`null` without reads). */
  derived: { hitRatio: number | null; layers: Record<string, { hitRatio: number | null }> };
  /** `CacheStack.getMetrics()` now. */
  metrics: CacheMetrics;
  /** The last points, oldest first. */
  series: LayerCacheStatsPoint[];
}

interface Totals {
  readonly hits: number;
  readonly misses: number;
  readonly loads: number;
  readonly loadErrors: number;
  readonly layerErrors: number;
}

/** Samples one stack for its admin routes (a provider of the registration). */
export class AdminStatsSampler implements OnModuleInit, OnModuleDestroy {
  private readonly points: LayerCacheStatsPoint[] = [];
  private last: Totals | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly stack: CacheStack,
    private readonly options: ResolvedAdminOptions,
    private readonly name: string,
  ) {}

  /** Takes the base counters and starts the timer. */
  onModuleInit(): void {
    this.last = totals(this.stack.getMetrics());
    this.schedule();
  }

  /** Stops the timer (before the stack closes in `onApplicationShutdown`). */
  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.stack.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The JSON of `GET <path>/stats`. */
  stats(): LayerCacheAdminStats {
    const metrics = this.stack.getMetrics();
    const layers: Record<string, { hitRatio: number | null }> = {};
    for (const [name, layer] of Object.entries(metrics.layers)) layers[name] = { hitRatio: ratio(layer.hits, layer.hits + layer.misses) };
    const { hits, stale, misses } = metrics.stack;
    return {
      name: this.name,
      now: this.stack.clock.now(),
      intervalMs: this.options.intervalMs,
      derived: { hitRatio: ratio(hits + stale, hits + stale + misses), layers },
      metrics,
      series: this.points.slice(),
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.stack.clock.setTimeout(() => this.sample(), this.options.intervalMs);
  }

  private sample(): void {
    this.timer = undefined;
    if (this.stopped) return;
    try {
      const now = totals(this.stack.getMetrics());
      const before = this.last ?? now;
      const hits = now.hits - before.hits;
      const reads = hits + now.misses - before.misses;
      this.points.push({
        at: this.stack.clock.now(),
        hitRatio: ratio(hits, reads),
        reads,
        loads: now.loads - before.loads,
        loadErrors: now.loadErrors - before.loadErrors,
        layerErrors: now.layerErrors - before.layerErrors,
      });
      if (this.points.length > this.options.history) this.points.splice(0, this.points.length - this.options.history);
      this.last = now;
    } finally {
      this.schedule();
    }
  }
}

function totals(metrics: CacheMetrics): Totals {
  let layerErrors = 0;
  for (const layer of Object.values(metrics.layers)) layerErrors += layer.errors;
  const { hits, stale, misses, loads, loadErrors } = metrics.stack;
  return { hits: hits + stale, misses, loads, loadErrors, layerErrors };
}

function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}
