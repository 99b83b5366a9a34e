/**
 * The process's synchronous view of tag invalidations, against which entries are validated without I/O (an L1 hit
 * must not wait for Redis). It learns from this process's own invalidations, from peers' (the invalidation bus) and
 * from every tag state fetched from the tag store. States only grow (max-merge), so a late or repeated update is a
 * no-op.
 *
 * It also knows which tags it follows *authoritatively*: a tag whose state was fetched while the bus was subscribed
 * (and has not dropped since: `forgetKnowledge()` starts a new epoch) is kept current by the bus, so a load can read
 * its version here and an L2 read can be validated here, without a round trip. Such knowledge is bounded in number
 * ({@link MAX_KNOWN_TAGS}; past it, every tag is fetched once again) and in age ({@link MAX_KNOWLEDGE_AGE_MS}: a
 * followed tag is read again that long after it was last read, so a bus message lost without the bus noticing — a
 * peer's failed PUBLISH — hides an invalidation from this process's L2 reads for at most that long).
 *
 * Memory: one small record per tag invalidated within the last `keepMs` (older invalidations cannot concern a live
 * entry: every entry lives at most the stack's `maxLifetime`, and `keepMs` exceeds it), plus the known tags.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { groupKey, rejection, type TagGroup, type TagMatchMode, type TagState } from '../core/tag-store.js';

/** Most tags followed authoritatively at once (a new epoch starts past it). */
export const MAX_KNOWN_TAGS = 100_000;

/** How long a tag read from the store is followed through the bus before it is read again (ms). */
export const MAX_KNOWLEDGE_AGE_MS = 10_000;

/** Updates between two sweeps of expired records. */
export const SWEEP_EVERY = 4096;

interface MirrorState {
  version: number;
  any: number;
  groups: Map<string, TagGroup> | undefined;
  /** When the record may be forgotten (ms); 0 for knowledge alone (nothing invalidated). */
  keepUntil: number;
  /** The epoch in which the state was fetched (known); -1 when not known. */
  knownIn: number;
  /** When it was last fetched in that epoch (ms). */
  knownAt: number;
  /** The mirror's change count when an invalidation of the tag was last learned. */
  changed: number;
}

export class TagMirror {
  private readonly states = new Map<string, MirrorState>();
  /** Counts the invalidations learned (a mark for `changedSince`). */
  changes = 0;
  private epoch = 0;
  private knownCount = 0;
  private updates = 0;

  constructor(
    private readonly clock: Clock,
    /** How long an invalidation is kept (ms). */
    private readonly keepMs: number,
  ) {}

  /** The current knowledge epoch: a fetch started in it may mark its tags known (see `merge`). */
  get knowledgeEpoch(): number {
    return this.epoch;
  }

  /** Forgets which tags are known (the bus dropped: peers' invalidations may have been missed). */
  forgetKnowledge(): void {
    this.epoch++;
    this.knownCount = 0;
  }

  /** Whether `entry` survives every invalidation known here. */
  isValid(entry: CacheEntry): boolean {
    const tags = entry.tags;
    if (tags === undefined || this.states.size === 0) return true;
    const versions = entry.tagVersions;
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i] as string;
      const state = this.states.get(tag);
      if (state !== undefined && rejection(tag, state, tags, versions?.[i] ?? 0) !== undefined) return false;
    }
    return true;
  }

  /** The versions of `tags` when every one is known, else `undefined`. */
  knownVersions(tags: readonly string[]): number[] | undefined {
    const out = new Array<number>(tags.length);
    const now = this.clock.now();
    for (let i = 0; i < tags.length; i++) {
      const state = this.states.get(tags[i] as string);
      if (state === undefined || !this.followed(state, now)) return undefined;
      out[i] = state.version;
    }
    return out;
  }

  /** The tags of `tags` not known here. */
  unknown(tags: Iterable<string>): string[] {
    const out: string[] = [];
    const now = this.clock.now();
    for (const tag of tags) {
      const state = this.states.get(tag);
      if (state === undefined || !this.followed(state, now)) out.push(tag);
    }
    return out;
  }

  /** The versions known here of `tags` (0 for none): the fallback when the store cannot answer. */
  versions(tags: readonly string[]): number[] {
    return tags.map((tag) => this.states.get(tag)?.version ?? 0);
  }

  /** The version of the latest invalidation known here of any of `tags` (alone or in a group), 0 for none. */
  latest(tags: readonly string[]): number {
    let latest = 0;
    for (const tag of tags) {
      const state = this.states.get(tag);
      if (state === undefined) continue;
      if (state.any > latest) latest = state.any;
      if (state.groups !== undefined) for (const group of state.groups.values()) if (group.version > latest) latest = group.version;
    }
    return latest;
  }

  /** Whether an invalidation of one of `tags` was learned after `mark` (a value of {@link changes}). */
  changedSince(tags: readonly string[], mark: number): boolean {
    if (this.changes === mark) return false;
    for (const tag of tags) if ((this.states.get(tag)?.changed ?? 0) > mark) return true;
    return false;
  }

  /**
   * Records an invalidation (this process's, or a peer's announced on the bus) with the versions it wrote: "any", one
   * per tag; "all" with several tags, one for the group (on its first sorted tag).
   */
  record(tags: readonly string[], mode: TagMatchMode, versions: readonly number[]): void {
    const keepUntil = this.clock.now() + this.keepMs;
    if (mode === 'all' && tags.length > 1) {
      const sorted = [...tags].sort();
      const version = versions[0] ?? 0;
      const state = this.state(sorted[0] as string, keepUntil);
      if (version > state.version) state.version = version;
      if (this.mergeGroup(state, { tags: sorted, version })) state.changed = ++this.changes;
    } else {
      for (let i = 0; i < tags.length; i++) {
        const version = versions[i] ?? 0;
        const state = this.state(tags[i] as string, keepUntil);
        if (version > state.version) state.version = version;
        if (version > state.any) {
          state.any = version;
          state.changed = ++this.changes;
        }
      }
    }
    this.afterUpdate();
  }

  /**
   * Merges states fetched from the tag store (in the order of `tags`); marks the tags known when the fetch started in
   * the current epoch `epoch` (then the bus keeps them current).
   */
  merge(tags: readonly string[], states: readonly (TagState | undefined)[], epoch: number | undefined): void {
    const known = epoch === this.epoch;
    const keepUntil = this.clock.now() + this.keepMs;
    for (let i = 0; i < tags.length; i++) {
      const fetched = states[i];
      const tag = tags[i] as string;
      if (fetched === undefined) {
        if (known) this.markKnown(this.state(tag, 0));
        continue;
      }
      const state = this.state(tag, keepUntil);
      if (fetched.version > state.version) state.version = fetched.version;
      let changed = false;
      if (fetched.any > state.any) {
        state.any = fetched.any;
        changed = true;
      }
      if (fetched.groups !== undefined) for (const group of fetched.groups.values()) changed = this.mergeGroup(state, group) || changed;
      if (changed) state.changed = ++this.changes;
      if (known) this.markKnown(state);
    }
    this.afterUpdate();
  }

  /** Keeps the newer of `group` and the one known; true when `group` was new here. */
  private mergeGroup(state: MirrorState, group: TagGroup): boolean {
    state.groups ??= new Map();
    const key = groupKey(group.tags);
    const known = state.groups.get(key);
    if (known !== undefined && known.version >= group.version) return false;
    state.groups.set(key, group);
    return true;
  }

  /** Whether `state` was read from the store in this epoch, less than {@link MAX_KNOWLEDGE_AGE_MS} before `now`. */
  private followed(state: MirrorState, now: number): boolean {
    return state.knownIn === this.epoch && state.knownAt > now - MAX_KNOWLEDGE_AGE_MS;
  }

  private markKnown(state: MirrorState): void {
    state.knownAt = this.clock.now();
    if (state.knownIn === this.epoch) return;
    if (this.knownCount >= MAX_KNOWN_TAGS) this.forgetKnowledge();
    state.knownIn = this.epoch;
    this.knownCount++;
  }

  /** The state of `tag`, created when missing; kept at least until `keepUntil`. */
  private state(tag: string, keepUntil: number): MirrorState {
    let state = this.states.get(tag);
    if (state === undefined) {
      state = { version: 0, any: 0, groups: undefined, keepUntil, knownIn: -1, knownAt: 0, changed: 0 };
      this.states.set(tag, state);
    } else if (keepUntil > state.keepUntil) {
      state.keepUntil = keepUntil;
    }
    return state;
  }

  /**
   * Every {@link SWEEP_EVERY} updates, drops the records past their keep time that are not followed now (a followed one
   * stays: its version is what loads record; bounded by {@link MAX_KNOWN_TAGS}).
   */
  private afterUpdate(): void {
    if (++this.updates % SWEEP_EVERY !== 0) return;
    const now = this.clock.now();
    for (const [tag, state] of this.states) {
      if (state.keepUntil <= now && !this.followed(state, now)) this.states.delete(tag);
    }
  }
}
