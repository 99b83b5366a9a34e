/**
 * Reading entries out of a stack's layers: the walk through the layers below L1 for one key (`lookup`,
 * shared by its concurrent callers through `InFlightWork`), the re-read of distributed loads (`reread`) and
 * bulk reads (`readMany`, no loader).
 *
 * An entry of a layer is usable when it has not expired and its tags are valid: checked against the tag
 * mirror for a local layer (no I/O), against the tag store for a shared one (one round trip per read, for
 * all the entries it returned; a tagged entry is a miss when the store cannot say). A layer counts a usable
 * entry as its hit, anything else (nothing, expired, invalid, a failure) as its miss.
 *
 * Backfill: an entry found in a slower layer is copied into the faster ones with its own deadlines (a
 * backfill never extends life). A stale entry is copied only over an older copy, and nothing is copied when
 * the key was invalidated while the lookup read (`Lookup.floor`): an old value read then must not land
 * in L1 (race (4) in read-path.ts).
 *
 * Data a layer could not decode (an `undecodableEntry` marker) is a miss, counted and logged by
 * `UndecodableEntries`.
 */
import type { Clock } from '../core/clock.js';
import { expiresAt, type CacheEntry } from '../core/entry.js';
import type { BurstLogger } from '../core/logger.js';
import type { LayerMetrics, StackMetrics } from '../core/metrics.js';
import type { VersionClock } from '../core/version-clock.js';
import type { Lookup, LookupResult } from './in-flight-work.js';
import type { KeyedEntry, LayerSet } from './layer-set.js';
import type { StackEvents } from './stack-events.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';
import type { Renewals } from './renewals.js';
import { UndecodableEntries } from './undecodable-entries.js';

/** What `LayerReader` works on (given by `StackCore`). */
export interface LayerReaderParts {
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly lifecycle: StackLifecycle;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly versions: VersionClock;
  readonly metrics: StackMetrics;
  readonly events: StackEvents;
  /** Sliding and adaptive extensions of the fresh entries a bulk read returns. */
  readonly renewals: Pick<Renewals, 'onFreshRead'>;
}

/** The floor of a read nobody can invalidate (a re-read for a distributed load is not shared): backfill anything. */
const NOT_INVALIDATED: Pick<Lookup, 'floor'> = Object.freeze({ floor: 0 });

export class LayerReader {
  private readonly undecodable: UndecodableEntries;

  constructor(private readonly parts: LayerReaderParts) {
    this.undecodable = new UndecodableEntries(parts.clock, parts.log);
  }

  /**
   * Reads layers `from` onwards once for every concurrent caller of `key`: the first fresh entry, else the
   * stale one fresh the longest. Backfills the faster layers (a stale entry only over an older copy) unless
   * the key was invalidated while it read (`lookup.floor`).
   */
  async lookup(key: string, from: number, lookup: Pick<Lookup, 'floor'>): Promise<LookupResult> {
    const { clock, layers } = this.parts;
    let stale: CacheEntry | undefined;
    let staleLayer = -1;
    for (let i = from; i < layers.size; i++) {
      const read = await layers.get(i, key);
      // Checked without another await unless a shared layer's entry carries tags (their state is a round trip).
      const entry = read?.tags !== undefined && layers.guards[i] !== undefined ? await this.usableTagged(i, key, read) : this.usable(i, key, read);
      if (entry === undefined) continue;
      if (clock.now() < entry.freshUntil) {
        if ((entry.version ?? 0) >= lookup.floor) this.backfill(key, entry, i);
        return { entry, layer: i };
      }
      if (stale === undefined || entry.freshUntil > stale.freshUntil) {
        stale = entry;
        staleLayer = i;
      }
    }
    if (stale !== undefined && staleLayer > 0 && (stale.version ?? 0) >= lookup.floor) {
      const upper = layers.l1?.get(key);
      if (upper === undefined || upper.freshUntil < stale.freshUntil) this.backfill(key, stale, staleLayer);
    }
    return { entry: stale, layer: staleLayer };
  }

  /** The shared layers' fresh, valid entry of `key` (backfilled into L1), for distributed loads. */
  async reread(key: string): Promise<CacheEntry | undefined> {
    const from = this.parts.layers.l1 === undefined ? 0 : 1;
    const found = await this.lookup(key, from, NOT_INVALIDATED);
    const entry = found.entry;
    return entry !== undefined && this.parts.clock.now() < entry.freshUntil && this.parts.tags.isValid(entry) ? entry : undefined;
  }

  /** Reads many keys (no loader): values in order, `undefined` for misses. */
  async readMany(keys: readonly string[]): Promise<unknown[]> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    const values = new Array<unknown>(keys.length);
    let missing = keys.map((_, i) => i);
    for (let layer = 0; layer < parts.layers.size && missing.length > 0; layer++) {
      const found = await this.usableMany(layer, missing.map((i) => keys[i] as string));
      const stillMissing: number[] = [];
      const backfills: KeyedEntry[] = [];
      const extend: KeyedEntry[] = [];
      const now = parts.clock.now();
      missing.forEach((keyIndex, j) => {
        const entry = found[j];
        // Without a loader, an entry past its stale window is a miss (as for `get`); a slower layer may do better.
        if (entry === undefined || now >= entry.staleUntil) {
          stillMissing.push(keyIndex);
          return;
        }
        values[keyIndex] = entry.value;
        if (now < entry.freshUntil) {
          parts.metrics.hits++;
          if (entry.freshness !== undefined) extend.push({ key: keys[keyIndex] as string, entry });
        } else parts.metrics.stale++;
        if (layer > 0) backfills.push({ key: keys[keyIndex] as string, entry });
      });
      if (backfills.length > 0) parts.lifecycle.track(parts.layers.write(backfills, layer));
      // After the backfill (synchronous into L1), so that the extension applies to the copy just written there.
      for (const { key, entry } of extend) parts.renewals.onFreshRead(key, entry, layer, now);
      missing = stillMissing;
    }
    parts.metrics.misses += missing.length;
    return values;
  }

  /**
   * The usable entry (not expired, tags valid) of what layer `index` answered for `key`, or `undefined` for a miss
   * or a failure; counted as the layer's hit or miss. Synchronous: the tags of a shared layer's entry are checked
   * by {@link usableTagged}, and a local layer's against the mirror here.
   */
  private usable(index: number, key: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    const ok = this.live(index, key, entry) && (entry?.tags === undefined || this.parts.tags.isValid(entry));
    return this.count(index, ok, entry);
  }

  /** `usable` for a shared layer's entry that carries tags: their state is fetched from the tag store. */
  private async usableTagged(index: number, key: string, entry: CacheEntry): Promise<CacheEntry | undefined> {
    const ok = this.live(index, key, entry) && ((await this.parts.tags.validateShared([entry]))[0] ?? false);
    return this.count(index, ok, entry);
  }

  /** Whether a read answer is an entry not expired yet (its version observed, an undecodable one counted). */
  private live(index: number, key: string, entry: CacheEntry | undefined): boolean {
    const { clock, layers } = this.parts;
    if (entry !== undefined) this.parts.versions.observe(entry.version);
    this.undecodable.check(layers.name(index), layers.metrics[index] as LayerMetrics, key, entry);
    return entry !== undefined && clock.now() < expiresAt(entry);
  }

  /** Counts layer `index`'s hit or miss: `entry` when `ok`, else `undefined`. */
  private count(index: number, ok: boolean, entry: CacheEntry | undefined): CacheEntry | undefined {
    const metrics = this.parts.layers.metrics[index] as LayerMetrics;
    if (ok) metrics.hits++;
    else metrics.misses++;
    return ok ? entry : undefined;
  }

  /** `usable` for many keys of one layer: one bulk read, one tag fetch. */
  private async usableMany(index: number, keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    const { clock, layers, tags } = this.parts;
    const entries = (await layers.getMany(index, keys)) ?? keys.map(() => undefined);
    const metrics = layers.metrics[index] as LayerMetrics;
    entries.forEach((entry, i) => this.undecodable.check(layers.name(index), metrics, keys[i] as string, entry));
    const now = clock.now();
    const live = entries.map((entry) => (entry !== undefined && now < expiresAt(entry) ? entry : undefined));
    const valid = layers.guards[index] === undefined ? live.map((e) => e !== undefined && tags.isValid(e)) : await tags.validateShared(live);
    return live.map((entry, i) => {
      if (valid[i] === true) metrics.hits++;
      else metrics.misses++;
      return valid[i] === true ? entry : undefined;
    });
  }

  /** Copies an entry found in layer `index` into the faster layers, keeping its deadlines. */
  private backfill(key: string, entry: CacheEntry, index: number): void {
    const { events, layers } = this.parts;
    if (index === 0) return;
    for (let i = 0; i < index; i++) {
      (layers.metrics[i] as LayerMetrics).backfills++;
      if (events.listened.backfill === true) events.emit('backfill', { key, from: layers.name(index), to: layers.name(i) });
    }
    this.parts.lifecycle.track(layers.write([{ key, entry }], index, true));
  }
}
