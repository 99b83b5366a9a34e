/**
 * Data under a key of a layer that is not an entry (another program's bytes, another format version, a
 * truncated write, a value the serializer cannot read): the layer returns an `undecodableEntry` marker,
 * which is a miss like any expired entry (the next write replaces it). This counts each one in the layer's
 * `undecodable` metric and logs them once per burst: the first one with its key and reason, the following
 * ones only counted, until one comes a minute or more after the last line, which is logged again with the
 * number of those that were not. (Not a failure of the layer: its back-off window is untouched.)
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { undecodableReason } from '../core/entry-codec.js';
import type { BurstLogger } from '../core/logger.js';
import type { LayerMetrics } from '../core/metrics.js';

/** Shortest time between two log lines about undecodable data of one layer (ms). */
export const UNDECODABLE_LOG_INTERVAL_MS = 60_000;

export class UndecodableEntries {
  /** Per layer name: when its last line was logged, and how many were counted since without a line. */
  private readonly bursts = new Map<string, { at: number; unlogged: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly log: BurstLogger,
  ) {}

  /** Counts and logs `entry` read from `layer` under `key` when it is an undecodable marker. */
  check(layer: string, metrics: LayerMetrics, key: string, entry: CacheEntry | undefined): void {
    const reason = undecodableReason(entry);
    if (reason === undefined) return;
    metrics.undecodable++;
    const now = this.clock.now();
    const burst = this.bursts.get(layer);
    if (burst !== undefined && now - burst.at < UNDECODABLE_LOG_INTERVAL_MS) {
      burst.unlogged++;
      return;
    }
    const unlogged = burst === undefined || burst.unlogged === 0 ? '' : `; ${burst.unlogged} more since the last such line`;
    this.bursts.set(layer, { at: now, unlogged: 0 });
    this.log.warn(
      `Layer "${layer}" holds undecodable data under "${key}", read as a miss until the next write replaces it ` +
        `(counted in its "undecodable" metric, logged at most once a minute${unlogged})`,
      reason,
    );
  }
}
