/**
 * Events a stack emits. Listeners run synchronously and must not throw (a throwing listener is logged and
 * ignored). When nobody listens, an event costs one boolean check.
 */
export interface CacheEventMap {
  /** A fresh entry was served by `layer`. */
  hit: { key: string; layer: string };
  /** No usable entry was found in any layer. */
  miss: { key: string };
  /** A stale entry was served by `layer` (a background refresh may follow). */
  stale: { key: string; layer: string };
  /** A value was stored (by `set` or after a load). */
  set: { key: string };
  /** Keys were deleted. */
  delete: { keys: readonly string[] };
  /** A background refresh stored a new value. */
  refresh: { key: string };
  /** A background refresh failed; the stale entry is still served. */
  'refresh-error': { key: string; error: unknown };
  /** An entry found in `from` was copied into the faster layer `to`. */
  backfill: { key: string; from: string; to: string };
  /** A caller joined a load already running for the key instead of starting its own. */
  'stampede-dedupe': { key: string };
  /** A layer failed (timed out, threw, or was skipped in its back-off window). */
  'layer-error': { layer: string; operation: string; error: unknown };
  /**
   * A loader circuit opened (`circuitBreaker`): `failures` loader failures within its window, or a failed probe
   * (`probe: true`). Loads of it fail fast (or serve stale values) until `until` (ms), then one probe runs.
   */
  'circuit-open': { circuit: string; failures: number; probe: boolean; until: number };
  /** A loader circuit closed: its probe load succeeded. */
  'circuit-close': { circuit: string };
  /** Tags were invalidated. */
  invalidate: { tags: readonly string[]; mode: 'any' | 'all' };
}

/** The name of a stack event. */
export type CacheEventName = keyof CacheEventMap;

/** A listener of event `E`. */
export type CacheEventListener<E extends CacheEventName> = (payload: CacheEventMap[E]) => void;
