/**
 * The in-process `TagStore`: a local sequence and one state per invalidated tag (and per namespace generation).
 * Hard part: states are replaced, never mutated (copy on write), so readers hold them without copies.
 */
import { groupKey, type TagGroup, type TagMatchMode, type TagState, type TagStore } from './tag-store.js';

/**
 * The in-process tag store (see `TagStore` in core for the semantics), used by stacks without a shared
 * store: a local sequence counter and one state per invalidated tag. Synchronous.
 *
 * States are replaced, never mutated, on invalidation (copy on write), so `fetch` hands out the stored
 * objects without copying them and a state a caller holds never changes under it.
 */
export class MemoryTagStore implements TagStore {
  readonly shared = false;
  private seq = 0;
  private readonly states = new Map<string, TagState>();
  private readonly gens = new Map<string, number>();

  snapshot(): number {
    return this.seq;
  }

  invalidate(tags: readonly string[], mode: TagMatchMode): number {
    if (tags.length === 0) return this.seq;
    if (mode === 'all') {
      const sorted = [...new Set(tags)].sort();
      if (sorted.length > 1) {
        const seq = ++this.seq;
        const first = sorted[0] as string;
        const key = groupKey(sorted);
        const previous = this.states.get(first);
        const groups = new Map<string, TagGroup>(previous?.groups);
        groups.set(key, { tags: sorted, seq });
        this.states.set(first, { seq: previous?.seq ?? 0, groups });
        return seq;
      }
      tags = sorted;
    }
    const seq = ++this.seq;
    for (const tag of tags) {
      const previous = this.states.get(tag);
      this.states.set(tag, { seq, groups: previous?.groups });
    }
    return seq;
  }

  fetch(tags: readonly string[]): (TagState | undefined)[] {
    const out = new Array<TagState | undefined>(tags.length);
    for (let i = 0; i < tags.length; i++) out[i] = this.states.get(tags[i] as string);
    return out;
  }

  generations(scopes: readonly string[]): number[] {
    return scopes.map((scope) => this.gens.get(scope) ?? 0);
  }

  bumpGeneration(scope: string): number {
    const next = (this.gens.get(scope) ?? 0) + 1;
    this.gens.set(scope, next);
    return next;
  }

  /** Number of tags with a recorded invalidation. */
  get size(): number {
    return this.states.size;
  }
}
