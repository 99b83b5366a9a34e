/**
 * The layer contract (`CacheLayer`) the stack talks to, the synchronous variant it reads without an `await`, and
 * what a stack hands its layers. Hard part: a layer stores envelopes and knows nothing of freshness or tags;
 * undecodable data must read as a miss (or the `undecodableEntry` marker), never throw.
 */
import type { Clock } from './clock.js';
import type { RevalidationLock } from './revalidation-lock.js';
import type { CacheEntry } from './entry.js';
import type { CacheLogger } from './logger.js';
import type { TagStore } from './tag-store.js';

/**
 * The contract of a cache layer. A layer stores envelopes under already-validated, namespaced keys; it
 * knows nothing of freshness, loaders or tags — the stack decides. Layers may answer synchronously
 * (memory) or asynchronously (Redis, disk); a layer that throws or times out is degraded by the stack,
 * never by the caller.
 */
export interface CacheLayer {
  /** A short name used in metrics, events and log lines, e.g. `memory` or `redis`. */
  readonly name: string;
  /**
   * True when the layer is shared between processes (Redis). Shared layers are guarded by a command
   * timeout and a back-off window; local layers are called directly.
   */
  readonly shared: boolean;
  /** The layer's own ttl cap in ms, or `undefined` when it has none. */
  readonly ttl: number | undefined;
  /**
   * `false` when the layer cannot find its entries by key prefix (Memcached lists no keys): the stack then clears a
   * scope (`clear()`, a namespace's `clear()`) by also moving it to a new generation (`bumpGeneration`), which makes
   * the layer's old entries unreachable in every process; and `invalidateByPrefix` / `invalidateByPattern` reject
   * with `InvalidationScanError` instead of deleting what the other layers list and leaving this one's copies.
   * @default true
   */
  readonly clearsByPrefix?: boolean;

  /**
   * The entry under `key`, or `undefined`. Undecodable data is a miss, never an error: `undefined`, or the
   * `undecodableEntry(reason)` marker of entry-codec (an entry expired since 1970), which the stack also
   * counts in the layer's `undecodable` metric and logs (`RedisLayer` returns it).
   */
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** The entries under `keys`, in order, in one round trip where the layer can. */
  getMany(keys: readonly string[]): (CacheEntry | undefined)[] | Promise<(CacheEntry | undefined)[]>;
  /**
   * Stores `entry` for `ttlMs` milliseconds (already capped by the stack; always > 0). With `ifNewer`, only
   * when the layer holds no copy of `key` or an older one (by `entry.version`), atomically: a load that
   * finishes late never overwrites a newer value (fencing).
   */
  set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): void | Promise<void>;
  /** Stores many entries in one round trip where the layer can. */
  setMany(items: readonly LayerWrite[]): void | Promise<void>;
  /** Removes the entries under `keys` (one round trip where the layer can). */
  delete(keys: readonly string[]): void | Promise<void>;
  /**
   * Removes every entry whose key starts with `prefix`, or every entry of this layer when `prefix` is
   * `undefined`. Only entries written through this layer's own prefix are touched.
   */
  clear(prefix: string | undefined): void | Promise<void>;
  /**
   * Lists keys for `invalidateByPrefix` / `invalidateByPattern`: the keys starting with `prefix` whose rest
   * matches `glob` (`*` any run of characters, `?` one character, everything else literal; `undefined` = any)
   * and contains no control character (keys of nested namespaces, hashed keys and the library's own keys are
   * never listed). Stops after `limit + 1` keys, so the caller can tell that the limit was exceeded. Optional:
   * a layer without it is only cleared by its own deletes.
   */
  findKeys?(prefix: string, glob: string | undefined, limit: number): string[] | Promise<string[]>;
  /**
   * A cheap health check of a shared layer (Redis: PING), resolving when the layer answers. While the layer
   * is in its back-off window after a failure, the stack calls it in the background (one at a time, about
   * twice a second, bounded by `layerTimeout`); its first success closes the window, so the layer is used
   * again as soon as it is back. Optional: without it, the first command after the window is the check.
   * Local layers need none.
   */
  probe?(): void | Promise<unknown>;
  /**
   * Extends the copy of `key` in place to the deadlines of `entry` (a fresh read of a sliding or adaptive entry,
   * docs/freshness.md): only when the copy held has `entry.version` and an earlier `freshUntil` than `entry`, so an
   * extension never overwrites a newer write nor shortens a later extension, atomically with respect to writes of
   * the key. It rewrites the three deadlines and `freshness.ttl`, never the value, and keeps the copy `ttlMs` more
   * milliseconds (the time to the new latest deadline, capped by the layer's ttl as for a write; > 0). Resolves to
   * whether the copy was extended. Optional: a layer without it is simply not extended (its copy keeps the deadlines
   * it was written with; sliding and adaptive entries still extend in the other layers).
   */
  touch?(key: string, entry: CacheEntry, ttlMs: number): boolean | Promise<boolean>;
  /** Releases what the layer opened itself (not clients the user passed in). */
  close(): void | Promise<void>;
  /**
   * A tag store kept beside the layer's data (Redis). The stack uses the first shared layer's store, so
   * tag invalidations reach every process that shares the layer.
   */
  createTagStore?(): TagStore;
  /**
   * A revalidation lock kept beside the layer's data (Redis). Unless told otherwise (`revalidationLock`),
   * the stack uses the first shared layer's lock, so a stale entry is refreshed once per cluster.
   */
  createRevalidationLock?(): RevalidationLock;
  /** Called once by the stack that owns the layer, before any other call: the stack's clock and logger. */
  attach?(context: LayerContext): void;
}

/** What a stack hands its layers. */
export interface LayerContext {
  readonly clock: Clock;
  readonly logger: CacheLogger;
}

/** A synchronous layer: the stack reads it without an `await` on the hot path. */
export interface SyncCacheLayer extends CacheLayer {
  get(key: string): CacheEntry | undefined;
}

/** One write of a bulk {@link CacheLayer.setMany}. */
export interface LayerWrite {
  readonly key: string;
  readonly entry: CacheEntry;
  /** Milliseconds to keep the copy (> 0). */
  readonly ttlMs: number;
  /** Store only over no copy or an older one (see {@link CacheLayer.set}). @default false */
  readonly ifNewer?: boolean;
}

/** Whether a layer answers `get` synchronously (declared by the layer, e.g. MemoryLayer). */
export function isSyncLayer(layer: CacheLayer): layer is SyncCacheLayer {
  return (layer as { readonly synchronous?: boolean }).synchronous === true;
}
