/**
 * Extensions of fresh entries on read (docs/freshness.md): sliding expiry (`slidingTtl`, capped by `maxTtl`) and
 * adaptive ttls (`adaptiveTtl`). The read path calls `onFreshRead` for every fresh read of an entry that carries
 * `freshness` (a plain entry costs one property check, nothing here); the writers ask `levelFor` the ttl of a hot key.
 *
 * An extension re-stamps the entry: a new object with later deadlines (the stale windows keep their lengths after
 * the new `freshUntil`) and, for an adaptive raise, the new level as `freshness.ttl`. It replaces the copy in the
 * local layers synchronously (`CacheLayer.touch`: same version, later deadline only) and, in the background through
 * their guards, in the shared ones. No deadline moves past `createdAt` + the stack's `maxLifetime` (entries the
 * stack builds carry it as `freshness.maxUntil` already; the check here also holds for entries written without it).
 *
 * Hard parts:
 * - cost: the L1 hit path stays synchronous; a read that does not move the deadline (several reads within one ms, a
 *   non-sliding entry whose key is not proving hot) allocates nothing;
 * - the shared-layer throttle: per key, this process remembers the latest `freshUntil` it knows the shared layers
 *   hold (what it wrote there, or read from there) and extends them only when the new deadline is at least a tenth
 *   of the ttl later. So after any read at `t` the shared copy is fresh until at least `t + 0.9 * ttl`;
 * - the per-process state (`KeyTrack`: the throttle and the adaptive read counts) lives in a bounded LRU map: a key
 *   it forgot is tracked anew (its shared copy is then assumed as written, which at worst costs one more extension).
 */
import { LRUCache } from 'lru-cache';
import type { AdaptiveRamp, CacheEntry, EntryFreshness } from '../core/entry.js';
import type { StackMetrics } from '../core/metrics.js';
import type { EntryPolicy } from './cache-stack.options.js';
import type { LayerSet } from './layer-set.js';
import { shiftCapped } from './max-lifetime.js';
import type { StackLifecycle } from './stack-lifecycle.js';

/** Most keys whose extensions and adaptive read counts one stack tracks (least recently read forgotten first). */
export const TRACKED_KEYS = 10_000;

/** A shared layer is extended when the new deadline is later than the one it holds by this fraction of the ttl. */
export const SHARED_TOUCH_FRACTION = 0.1;

/** What this process knows of one key (mutated in place: no allocation per read). */
interface KeyTrack {
  /** The version of the entry last seen. */
  version: number;
  /** The latest `freshUntil` of that version the shared layers are known to hold. */
  sharedUntil: number;
  /** Adaptive: the ttl the key was last raised to here; `0` for its base ttl (never raised, or cooled). */
  level: number;
  /** Adaptive: fresh reads in the current window. */
  count: number;
  /** Adaptive: end of the current window (one ttl after its first read); `0` before the first. */
  windowEnd: number;
}

/** What `Renewals` works on (given by `StackCore`). */
export interface RenewalParts {
  readonly layers: LayerSet;
  readonly lifecycle: StackLifecycle;
  readonly metrics: StackMetrics;
  /** The stack's `maxLifetime` (ms): no extension moves a deadline past `createdAt` + this (max-lifetime.ts). */
  readonly maxLifetime: number;
}

export class Renewals {
  private readonly tracks = new LRUCache<string, KeyTrack>({ max: TRACKED_KEYS });

  constructor(private readonly parts: RenewalParts) {}

  /**
   * A fresh read of `entry` under `key`, found in layer `layer` at `now`: extends the entry where it slides or ramps.
   * Synchronous for the caller: never throws, never makes the read wait for a shared layer.
   */
  onFreshRead(key: string, entry: CacheEntry, layer: number, now: number): void {
    const f = entry.freshness;
    if (f === undefined) return;
    let track: KeyTrack | undefined;
    let ttl = f.ttl;
    if (f.adaptive !== undefined) {
      track = this.trackOf(key, entry, f, layer);
      ttl = this.count(track, f, f.adaptive, now);
    }
    const raised = ttl > f.ttl;
    if (!f.sliding && !raised) return;
    const limit = entry.createdAt + this.parts.maxLifetime;
    let freshUntil = (f.sliding ? now : entry.createdAt) + ttl;
    if (freshUntil > f.maxUntil) freshUntil = f.maxUntil;
    if (freshUntil > limit) freshUntil = limit;
    if (!(freshUntil > entry.freshUntil)) return;
    const shift = freshUntil - entry.freshUntil;
    const next: CacheEntry = {
      ...entry,
      freshUntil,
      staleUntil: shiftCapped(entry.staleUntil, shift, limit),
      errorUntil: shiftCapped(entry.errorUntil, shift, limit),
      freshness: raised ? { ...f, ttl } : f,
    };
    const { layers, lifecycle, metrics } = this.parts;
    if (f.sliding) metrics.slidingExtensions++;
    layers.touchLocal(key, next, now);
    if (!layers.touchesShared) return;
    track ??= this.trackOf(key, entry, f, layer);
    if (!raised && freshUntil - track.sharedUntil < ttl * SHARED_TOUCH_FRACTION) return;
    if (track.version === (entry.version ?? 0)) track.sharedUntil = freshUntil;
    lifecycle.track(layers.touchShared(key, next, now));
  }

  /**
   * The fresh duration a write of `key` at `now` under `policy` (which has `adaptive`) gets: the level the key was
   * raised to here while it is still hot, else `undefined` (the base ttl). A key whose last window ended with fewer
   * than `hits` reads has cooled: its level falls back to the base ttl (counted in `adaptiveResets`).
   */
  levelFor(key: string, policy: EntryPolicy, now: number): number | undefined {
    const adaptive = policy.adaptive;
    const track = this.tracks.peek(key);
    if (adaptive === undefined || track === undefined || track.level === 0) return undefined;
    if (now >= track.windowEnd) {
      this.cool(track);
      return undefined;
    }
    return track.level > policy.ttl ? Math.min(track.level, adaptive.max) : undefined;
  }

  /** The track of `key`, created or brought up to `entry` (found in layer `layer`). */
  private trackOf(key: string, entry: CacheEntry, f: EntryFreshness, layer: number): KeyTrack {
    const version = entry.version ?? 0;
    // Read from a shared layer: what it holds. Read from a local copy (maybe extended here since): a lower bound
    // of what the shared layers were written with (at worst one extension too many).
    const seen = this.parts.layers.guards[layer] !== undefined ? entry.freshUntil : Math.min(entry.freshUntil, entry.createdAt + f.ttl);
    let track = this.tracks.get(key);
    if (track === undefined) {
      track = { version, sharedUntil: seen, level: 0, count: 0, windowEnd: 0 };
      this.tracks.set(key, track);
    } else if (version > track.version) {
      track.version = version;
      track.sharedUntil = seen;
    } else if (version === track.version && seen > track.sharedUntil) {
      track.sharedUntil = seen;
    }
    return track;
  }

  /**
   * Counts a fresh read in the key's window; returns the entry's ttl, or the raised level when this read is the
   * `hits`-th of the window (then a new window starts, one new ttl long). A window that ended with fewer reads cools.
   */
  private count(track: KeyTrack, f: EntryFreshness, ramp: AdaptiveRamp, now: number): number {
    if (now >= track.windowEnd) {
      if (track.windowEnd !== 0) this.cool(track);
      track.windowEnd = now + f.ttl;
      track.count = 0;
    }
    if (++track.count < ramp.hits) return f.ttl;
    const level = Math.min(ramp.max, f.ttl + ramp.step);
    track.count = 0;
    track.windowEnd = now + level;
    track.level = level > ramp.base ? level : 0;
    if (level > f.ttl) this.parts.metrics.adaptiveRaises++;
    return level;
  }

  /** The key cooled: its next write uses the base ttl. */
  private cool(track: KeyTrack): void {
    if (track.level === 0) return;
    track.level = 0;
    this.parts.metrics.adaptiveResets++;
  }
}
