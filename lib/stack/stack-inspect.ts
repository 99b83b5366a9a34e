/**
 * `CacheStack.ttl(key)` and `CacheStack.inspect(key)`: where an entry stands, read from the layers without
 * loading, backfilling, extending (sliding) or counting a hit or a miss. The layers are read in order (L1, then the
 * shared ones) and the entry chosen as a read would choose it: the first fresh copy, else the copy fresh the
 * longest among those still within a stale or error window. A copy whose tags were invalidated is absent (checked
 * against the tag mirror for a local layer, the tag store for a shared one: one round trip, as a read). A layer
 * that fails is skipped (its guard counts and logs the failure as for any read).
 *
 * Units: the remaining windows are seconds (the library's duration unit) with millisecond precision (`29.5`);
 * the instants are epoch milliseconds, as in the entry envelope (lib/core/entry.ts).
 */
import type { Clock } from '../core/clock.js';
import { entryState, EntryState, expiresAt, type CacheEntry } from '../core/entry.js';
import type { LayerSet } from './layer-set.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';

/** Where an entry stands: `fresh` (served as a hit), `stale` (served while refreshed), `error-window` (served only when a reload fails), `absent`. */
export type CacheEntryState = 'fresh' | 'stale' | 'error-window' | 'absent';

/** What `CacheStack.inspect(key)` returns. */
export interface CacheEntryInspection {
  readonly state: CacheEntryState;
  /** The name of the layer whose copy this describes (e.g. `memory`, `redis`); `undefined` when absent. */
  readonly layer: string | undefined;
  /**
   * Seconds left in each window (ms precision, `0` once a window has passed): `fresh` until `freshUntil`, `stale`
   * until `staleUntil` (stale-while-revalidate), `error` until `errorUntil` (stale-if-error). All `0` when absent.
   */
  readonly remaining: { readonly fresh: number; readonly stale: number; readonly error: number };
  /** When the value was produced (epoch ms); `undefined` when absent. */
  readonly createdAt: number | undefined;
  /** The window deadlines (epoch ms); `undefined` when absent. */
  readonly freshUntil: number | undefined;
  readonly staleUntil: number | undefined;
  readonly errorUntil: number | undefined;
  /** The entry's tags (`[]` for none or when absent). */
  readonly tags: readonly string[];
  /** The entry's write version (a µs-based logical clock), `undefined` for none or when absent. */
  readonly version: number | undefined;
}

/** What `StackInspector` reads (given by `StackCore`). */
export interface StackInspectorParts {
  readonly clock: Clock;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly lifecycle: StackLifecycle;
}

const ABSENT: CacheEntryInspection = Object.freeze({
  state: 'absent',
  layer: undefined,
  remaining: Object.freeze({ fresh: 0, stale: 0, error: 0 }),
  createdAt: undefined,
  freshUntil: undefined,
  staleUntil: undefined,
  errorUntil: undefined,
  tags: Object.freeze([]) as readonly string[],
  version: undefined,
});

const STATES: Record<EntryState, CacheEntryState> = {
  [EntryState.Fresh]: 'fresh',
  [EntryState.Stale]: 'stale',
  [EntryState.ErrorWindow]: 'error-window',
  [EntryState.Expired]: 'absent',
};

export class StackInspector {
  constructor(private readonly parts: StackInspectorParts) {}

  /** The state and windows of the entry under the physical key `key` (see the file header). */
  async inspect(key: string): Promise<CacheEntryInspection> {
    const { layers, lifecycle } = this.parts;
    lifecycle.assertOpen();
    let best: CacheEntry | undefined;
    let bestLayer = -1;
    for (let i = 0; i < layers.size; i++) {
      const entry = await this.usable(i, key);
      if (entry === undefined) continue;
      if (this.parts.clock.now() < entry.freshUntil) {
        best = entry;
        bestLayer = i;
        break;
      }
      if (best === undefined || entry.freshUntil > best.freshUntil) {
        best = entry;
        bestLayer = i;
      }
    }
    return best === undefined ? ABSENT : this.describe(best, layers.name(bestLayer));
  }

  /** Seconds of freshness left: `> 0` fresh, `0` stale or in its error window, `undefined` absent. */
  async ttl(key: string): Promise<number | undefined> {
    const found = await this.inspect(key);
    return found.state === 'absent' ? undefined : found.remaining.fresh;
  }

  /** Layer `index`'s copy of `key` when it is live and its tags valid; nothing is counted as a hit or miss. */
  private async usable(index: number, key: string): Promise<CacheEntry | undefined> {
    const { clock, layers, tags } = this.parts;
    const entry = await layers.get(index, key);
    if (entry === undefined || clock.now() >= expiresAt(entry)) return undefined;
    if (entry.tags === undefined) return entry;
    const valid = layers.guards[index] === undefined ? tags.isValid(entry) : (await tags.validateShared([entry]))[0] === true;
    return valid ? entry : undefined;
  }

  private describe(entry: CacheEntry, layer: string): CacheEntryInspection {
    const now = this.parts.clock.now();
    const state = STATES[entryState(entry, now)];
    if (state === 'absent') return ABSENT;
    const left = (until: number): number => Math.max(0, until - now) / 1000;
    return {
      state,
      layer,
      remaining: { fresh: left(entry.freshUntil), stale: left(entry.staleUntil), error: left(entry.errorUntil) },
      createdAt: entry.createdAt,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      errorUntil: entry.errorUntil,
      tags: entry.tags ?? [],
      version: entry.version,
    };
  }
}
