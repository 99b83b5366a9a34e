/**
 * The tag side of a stack: the tag store (shared in Redis, or in process), its guard and recovery queue, and the
 * `TagMirror` that validates entries without I/O. See lib/core/tag-store.ts for the version scheme.
 *
 * Round trips: a load of a tagged value reads its tags' versions before the loader runs, and an L2 read of a
 * tagged entry needs their current states. With an invalidation bus subscribed, a tag read once is followed by the
 * mirror (the bus brings every later invalidation), so both are answered here without I/O, exactly as an L1 hit is;
 * without a bus, or while it is interrupted, every such read asks the store (one round trip for all the tags).
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import type { BurstLogger } from '../core/logger.js';
import { invalidationTags, type TagMatchMode, type TagState, type TagStore } from '../core/tag-store.js';
import { MAX_CLOCK_SKEW_MS } from '../core/version-clock.js';
import type { LayerGuard } from './layer-guard.js';
import { RecoveryQueue } from './recovery-queue.js';
import { TagMirror } from './tag-mirror.js';

/**
 * How far apart the clocks of this process and of the tag store may be for tags computed from a loaded value: such a
 * load cannot read their versions before it runs. After it, an invalidation of one of them that this process learns
 * only then (from the store: it did not know it when the load started) is taken as possibly made during the load when
 * its version is less than this before the load started, or later: the result is then not stored.
 */
export const VALUE_TAGS_SKEW_MS = 1_000;

/**
 * How long an invalidation (and, twice that, a generation) is kept, for a stack whose entries live at most
 * `maxLifetimeMs`: that, plus a margin for the clocks of the processes judging entries' deadlines (the bound on clock
 * skew, 60 s, or the lifetime itself when shorter).
 */
export function tagKeepMs(maxLifetimeMs: number): number {
  return maxLifetimeMs + Math.min(MAX_CLOCK_SKEW_MS, maxLifetimeMs);
}

export class StackTags {
  private readonly mirror: TagMirror;
  private readonly recovery: RecoveryQueue;
  /** Whether the bus is subscribed now (set by the stack when it has one). */
  private authority: () => boolean = () => false;

  constructor(
    private readonly store: TagStore,
    /** The guard of a shared store (its layer's guard when the store lives beside a layer), else `undefined`. */
    readonly guard: LayerGuard | undefined,
    recoveryQueueSize: number,
    private readonly log: BurstLogger,
    private readonly clock: Clock,
    /** How long an invalidation is kept, in the store and here (the stack's `maxLifetime` and a margin), ms. */
    readonly keepMs: number,
  ) {
    this.recovery = new RecoveryQueue(recoveryQueueSize);
    this.mirror = new TagMirror(clock, keepMs);
  }

  /** Lets the mirror answer for the tags it read while `subscribed()` (the invalidation bus) holds. */
  followBus(subscribed: () => boolean): void {
    this.authority = subscribed;
  }

  /** The bus resubscribed: invalidations may have been missed, every tag is read from the store once again. */
  forgetKnowledge(): void {
    this.mirror.forgetKnowledge();
  }

  /** Whether `entry` survives every invalidation known to this process (no I/O: the L1 hot path). */
  isValid(entry: CacheEntry): boolean {
    return entry.tags === undefined || this.mirror.isValid(entry);
  }

  /** A mark of the invalidations known now, for {@link versionsAfterLoad}. */
  changeMark(): number {
    return this.mirror.changes;
  }

  /**
   * The versions an entry carrying `tags` records: read before its loader runs. When the store cannot answer, those
   * known here (an entry then recorded too low is only invalid too early, never valid too long).
   */
  async versionsOf(tags: readonly string[]): Promise<number[]> {
    if (this.guard !== undefined && this.authority()) {
      const known = this.mirror.knownVersions(tags);
      if (known !== undefined) return known;
    }
    await this.read(tags);
    return this.mirror.versions(tags);
  }

  /** `entries` with the current versions of their tags recorded (a write of given values: `set`, `setMany`). */
  async stamp<T extends { readonly entry: CacheEntry }>(entries: T[]): Promise<T[]> {
    const tags = new Set<string>();
    for (const { entry } of entries) if (entry.tags !== undefined) for (const tag of entry.tags) tags.add(tag);
    if (tags.size === 0) return entries;
    const list = [...tags];
    const versions = await this.versionsOf(list);
    const of = new Map<string, number>();
    for (let i = 0; i < list.length; i++) of.set(list[i] as string, versions[i] ?? 0);
    return entries.map((item) => {
      const entryTags = item.entry.tags;
      return entryTags === undefined ? item : { ...item, entry: { ...item.entry, tagVersions: entryTags.map((tag) => of.get(tag) ?? 0) } };
    });
  }

  /**
   * The versions for tags computed from a value loaded since `startedAt` (ms) / `mark` ({@link changeMark}), or
   * `undefined` when one of them may have been invalidated while the loader ran (the value is then not stored).
   */
  async versionsAfterLoad(tags: readonly string[], startedAt: number, mark: number): Promise<number[] | undefined> {
    // Learned while the loader ran (this process's own invalidation, or a peer's on the bus): made during the load.
    if (this.mirror.changedSince(tags, mark)) return undefined;
    const known = tags.map((tag) => this.mirror.latest([tag]));
    const versions = await this.versionsOf(tags);
    if (this.mirror.changedSince(tags, mark)) {
      // Learned only now: older than the load (by the clocks, with a margin), or the value is not stored.
      const floor = (startedAt - VALUE_TAGS_SKEW_MS) * 1000;
      for (let i = 0; i < tags.length; i++) {
        const latest = this.mirror.latest([tags[i] as string]);
        if (latest > (known[i] as number) && latest > floor) return undefined;
      }
    }
    return versions;
  }

  /**
   * Invalidates tags everywhere the store reaches; recorded here at once. When the shared store is unreachable,
   * this process stops serving the tagged entries anyway (with versions one above those known here) and the
   * invalidation is replayed on the store when it answers again. Returns the versions recorded (for the bus).
   */
  async invalidate(tags: readonly string[], mode: TagMatchMode): Promise<number[]> {
    let versions: number[];
    if (this.guard === undefined) {
      versions = await this.store.invalidate(tags, mode, this.keepMs);
    } else {
      try {
        versions = await this.guard.run('invalidate', () => this.store.invalidate(tags, mode, this.keepMs));
      } catch {
        versions = this.fallbackVersions(tags, mode);
        if (!this.recovery.addTags(tags, mode)) {
          this.log.warn(`Tag invalidation of ${tags.join(', ')} could not be queued for replay (queue full)`, undefined);
        }
      }
    }
    this.mirror.record(tags, mode, versions);
    return versions;
  }

  /** Records a peer's invalidation announced on the bus (no I/O; a late or repeated one is a no-op). */
  apply(tags: readonly string[], mode: TagMatchMode, versions: readonly number[]): void {
    this.mirror.record(tags, mode, versions);
  }

  /** Replays the invalidations the shared store missed; returns them with the versions the store gave. */
  async replay(): Promise<{ tags: readonly string[]; mode: TagMatchMode; versions: number[] }[]> {
    const guard = this.guard;
    const replayed: { tags: readonly string[]; mode: TagMatchMode; versions: number[] }[] = [];
    if (guard === undefined) return replayed;
    for (const { tags, mode } of this.recovery.take().tags) {
      try {
        const versions = await guard.run('replay', () => this.store.invalidate(tags, mode, this.keepMs));
        this.mirror.record(tags, mode, versions);
        replayed.push({ tags, mode, versions });
      } catch {
        this.recovery.addTags(tags, mode);
      }
    }
    return replayed;
  }

  /**
   * Validates entries read from a shared layer against the current states of their tags: those the mirror follows
   * are checked here, the others fetched from the store (one round trip for all). A tagged entry is invalid when
   * the store cannot say.
   */
  async validateShared(entries: readonly (CacheEntry | undefined)[]): Promise<boolean[]> {
    const known = await this.fetchStates(entries);
    return entries.map((entry) => entry !== undefined && (entry.tags === undefined || (known && this.mirror.isValid(entry))));
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }

  private async fetchStates(entries: readonly (CacheEntry | undefined)[]): Promise<boolean> {
    if (this.guard === undefined) return true;
    const tags = new Set<string>();
    for (const entry of entries) if (entry?.tags !== undefined) for (const tag of entry.tags) tags.add(tag);
    if (tags.size === 0) return true;
    const missing = this.authority() ? this.mirror.unknown(tags) : [...tags];
    return missing.length === 0 || (await this.read(missing));
  }

  /** Fetches `tags` from the store into the mirror; false when the store did not answer. */
  private async read(tags: readonly string[]): Promise<boolean> {
    const epoch = this.guard !== undefined && this.authority() ? this.mirror.knowledgeEpoch : undefined;
    let states: (TagState | undefined)[];
    try {
      states = this.guard === undefined ? await this.store.fetch(tags) : await this.guard.run('fetch', () => this.store.fetch(tags));
    } catch {
      return false;
    }
    this.mirror.merge(tags, states, epoch);
    return true;
  }

  /** The versions a failed invalidation records here: one above those known (the replay takes the store's). */
  private fallbackVersions(tags: readonly string[], mode: TagMatchMode): number[] {
    const targets = invalidationTags(tags, mode);
    if (mode === 'all' && targets.length > 1) return [(this.mirror.versions([targets[0] as string])[0] ?? 0) + 1];
    return this.mirror.versions(tags).map((version) => version + 1);
  }
}
