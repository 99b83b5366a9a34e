/**
 * The entry envelope every layer stores (docs/entry-states.md, "The envelope"). Deadlines are absolute wall-clock
 * milliseconds; both stale windows start when freshness ends (RFC 5861):
 *
 *   createdAt ──fresh── freshUntil ──stale (SWR)── staleUntil
 *                                  └─────stale-if-error───── errorUntil
 *
 * The physical lifetime of a copy is the time to the latest deadline ({@link expiresAt}), capped by
 * the layer's own ttl. A backfilled copy keeps the same deadlines: a backfill never extends life.
 */
export interface CacheEntry<T = unknown> {
  /** The cached value; `undefined` only for a negative ("not found") entry. */
  readonly value: T;
  /** When the value was produced (ms). */
  readonly createdAt: number;
  /** Fresh before this instant (ms). */
  readonly freshUntil: number;
  /** Served stale (and refreshed in the background) before this instant (ms). */
  readonly staleUntil: number;
  /** Served stale when a reload fails before this instant (ms). */
  readonly errorUntil: number;
  /** The tags of the entry, or `undefined` when it has none. */
  readonly tags: readonly string[] | undefined;
  /**
   * The tag-invalidation sequence observed before the value was loaded: the entry is invalid when one of
   * its tags was invalidated with a greater sequence (see `TagStore`).
   */
  readonly tagSeq: number;
  /**
   * The write version (µs-based logical clock, see `VersionClock`): a copy older than a bus message's version
   * is dropped, and a loaded value is stored only over an older one. `undefined` = 0, older than any write.
   */
  readonly version?: number;
}

/** Where an entry stands at an instant. */
export const enum EntryState {
  /** now < freshUntil: a HIT. */
  Fresh = 0,
  /** now < staleUntil: served at once, refreshed in the background. */
  Stale = 1,
  /** now < errorUntil: served only when the reload fails. */
  ErrorWindow = 2,
  /** Past every deadline: a MISS. */
  Expired = 3,
}

/** The state of `entry` at `now`. */
export function entryState(entry: CacheEntry, now: number): EntryState {
  if (now < entry.freshUntil) return EntryState.Fresh;
  if (now < entry.staleUntil) return EntryState.Stale;
  if (now < entry.errorUntil) return EntryState.ErrorWindow;
  return EntryState.Expired;
}

/** The instant after which no state of the entry is of use: the latest deadline. */
export function expiresAt(entry: CacheEntry): number {
  return entry.staleUntil > entry.errorUntil ? entry.staleUntil : entry.errorUntil;
}

/**
 * Milliseconds a layer should keep its copy of `entry` at `now`: the time to the entry's latest deadline,
 * capped by the layer's own ttl (`layerTtl`, ms, `undefined` = no cap). `0` or less: do not store.
 */
export function physicalTtl(entry: CacheEntry, now: number, layerTtl: number | undefined): number {
  const remaining = expiresAt(entry) - now;
  return layerTtl !== undefined && layerTtl < remaining ? layerTtl : remaining;
}
