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
  /** A `warm()` call finished: its totals and how long it took. */
  warm: WarmTotals;
}

/** The totals of one `CacheStack.warm()` call (its report's and its `warm` event's). */
export interface WarmTotals {
  /** Entries given. */
  readonly total: number;
  /** Entries whose loader ran here and whose value was stored. */
  readonly loaded: number;
  /** Entries not reloaded: a fresh value was cached already (or was cached meanwhile by a peer or a running load). */
  readonly skipped: number;
  /** Entries whose load failed (the loader threw or timed out, or the stack closed first). */
  readonly failed: number;
  /** Time from the call to its end, on the stack's clock (ms). */
  readonly durationMs: number;
}

/** The name of a stack event. */
export type CacheEventName = keyof CacheEventMap;

/** A listener of event `E`. */
export type CacheEventListener<E extends CacheEventName> = (payload: CacheEventMap[E]) => void;
