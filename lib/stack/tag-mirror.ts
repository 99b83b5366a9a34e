/**
 * The process's synchronous view of tag invalidations, against which entries are validated without I/O
 * (an L1 hit must not wait for Redis). It learns from this process's own invalidations and from every tag
 * state fetched from the tag store when a shared layer answers; peers' invalidations reach it through the
 * invalidation bus (a later part). States only grow (max-merge), so a late or repeated update is a no-op.
 *
 * Memory: one small record per tag that was ever invalidated (tags never invalidated cost nothing).
 */
import type { CacheEntry } from '../core/entry.js';
import { groupKey, type TagGroup, type TagMatchMode, type TagState } from '../core/tag-store.js';

interface MutableTagState {
  seq: number;
  groups: Map<string, TagGroup> | undefined;
}

export class TagMirror {
  private readonly states = new Map<string, MutableTagState>();
  /** The highest sequence seen; the snapshot to use when the shared store cannot be reached. */
  maxSeq = 0;

  /** Whether `entry` survives every invalidation known here. */
  isValid(entry: CacheEntry): boolean {
    const tags = entry.tags;
    if (tags === undefined || this.states.size === 0) return true;
    for (let i = 0; i < tags.length; i++) {
      const state = this.states.get(tags[i] as string);
      if (state === undefined) continue;
      if (state.seq > entry.tagSeq) return false;
      if (state.groups !== undefined) {
        for (const group of state.groups.values()) {
          if (group.seq > entry.tagSeq && group.tags.every((tag) => tags.includes(tag))) return false;
        }
      }
    }
    return true;
  }

  /** Records an invalidation made by this process with sequence `seq`. */
  record(tags: readonly string[], mode: TagMatchMode, seq: number): void {
    if (mode === 'all' && tags.length > 1) {
      const sorted = [...tags].sort();
      this.mergeGroup(sorted[0] as string, { tags: sorted, seq });
    } else {
      for (const tag of tags) this.state(tag).seq = Math.max(this.state(tag).seq, seq);
    }
    if (seq > this.maxSeq) this.maxSeq = seq;
  }

  /** Merges states fetched from the tag store (in the order of `tags`). */
  merge(tags: readonly string[], states: readonly (TagState | undefined)[]): void {
    for (let i = 0; i < tags.length; i++) {
      const fetched = states[i];
      if (fetched === undefined) continue;
      const tag = tags[i] as string;
      if (fetched.seq > 0) {
        const state = this.state(tag);
        if (fetched.seq > state.seq) state.seq = fetched.seq;
        if (fetched.seq > this.maxSeq) this.maxSeq = fetched.seq;
      }
      if (fetched.groups !== undefined) for (const group of fetched.groups.values()) this.mergeGroup(tag, group);
    }
  }

  private mergeGroup(tag: string, group: TagGroup): void {
    const state = this.state(tag);
    state.groups ??= new Map();
    const key = groupKey(group.tags);
    const known = state.groups.get(key);
    if (known === undefined || known.seq < group.seq) state.groups.set(key, group);
    if (group.seq > this.maxSeq) this.maxSeq = group.seq;
  }

  private state(tag: string): MutableTagState {
    let state = this.states.get(tag);
    if (state === undefined) {
      state = { seq: 0, groups: undefined };
      this.states.set(tag, state);
    }
    return state;
  }
}
