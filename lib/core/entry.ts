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
   * The versions of its tags read before the value was loaded, in the order of `tags` (`undefined` without tags):
   * the entry is invalid when one of its tags was invalidated with a greater version (see `TagStore`).
   */
  readonly tagVersions: readonly number[] | undefined;
  /**
   * The write version (µs-based logical clock, see `VersionClock`): a copy older than a bus message's version
   * is dropped, and a loaded value is stored only over an older one. `undefined` = 0, older than any write.
   */
  readonly version?: number;
  /**
   * The freshness policies the entry carries when it was written with `slidingTtl`, `maxTtl`, `adaptiveTtl` or
   * `refreshAhead` (docs/freshness.md); `undefined` for a plain entry. Readers act on it whatever options they
   * read with, so every process and every read path (decorators, HTTP, `get`) treats the entry alike.
   */
  readonly freshness?: EntryFreshness;
}

/**
 * Freshness policies carried by an entry (all durations and instants in ms). Stored in the envelope's extension
 * block (entry-codec.ts), so they travel with the entry to every layer and process.
 */
export interface EntryFreshness {
  /**
   * The fresh duration the entry was given at its last write or extension: what a sliding read extends it by,
   * the adaptive ttl's current level, and the span refresh-ahead takes its fraction of.
   */
  readonly ttl: number;
  /** Sliding expiry: each fresh read moves `freshUntil` to now + `ttl` (never past `maxUntil`). */
  readonly sliding: boolean;
  /** Freshness never extends past this instant (`createdAt` + `maxTtl`); `Infinity` without a cap. */
  readonly maxUntil: number;
  /**
   * Refresh-ahead: the fraction of the fresh window after which a read with a loader starts one background
   * refresh (the read itself is a hit); `0` for none. Due at `freshUntil - (1 - refreshAhead) * ttl`.
   */
  readonly refreshAhead: number;
  /** Adaptive ttl: how `ttl` ramps for a hot key; `undefined` without one. */
  readonly adaptive: AdaptiveRamp | undefined;
}

/** How an adaptive ttl ramps (ms; `hits` a count): see `adaptiveTtl`. */
export interface AdaptiveRamp {
  /** The ttl the entry falls back to when the key cools. */
  readonly base: number;
  /** The ceiling of the ramp. */
  readonly max: number;
  /** Reads within one ttl that make the key hot. */
  readonly hits: number;
  /** How much the ttl grows each time the key proves hot. */
  readonly step: number;
}

/** The instant at or after which a read of `entry` starts a refresh-ahead, or `Infinity` for never. */
export function refreshDueAt(entry: CacheEntry): number {
  const f = entry.freshness;
  return f === undefined || f.refreshAhead === 0 ? Infinity : entry.freshUntil - (1 - f.refreshAhead) * f.ttl;
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
