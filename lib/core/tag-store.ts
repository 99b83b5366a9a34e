/**
 * Tag invalidation without scanning keys (docs/entry-states.md, "Tags").
 *
 * A tag store keeps one monotonic sequence number. Invalidating tags takes the next number `s` and records
 * it on each tag ("any" mode) or, for "all" mode, records the sorted group of tags on its first tag. A load
 * takes a {@link TagStore.snapshot} `S` *before* it runs and the entry records `S` as its `tagSeq`; the
 * entry is valid only while none of its tags (nor a group all of whose tags it carries) was invalidated with
 * a number greater than `S`. Because the snapshot precedes the loader, an invalidation during a load makes
 * the late result invalid: invalidation beats in-flight work, for tags that are known only from the result
 * too. Numbers come from one counter (in Redis when shared), so no clocks are compared.
 */

/** How several tags are invalidated together. */
export type TagMatchMode = 'any' | 'all';

/** What is known of one tag: the last "any" invalidation and the "all" groups recorded on it. */
export interface TagState {
  /** Sequence of the last invalidation of this tag alone (0 = never). */
  readonly seq: number;
  /** Groups (sorted tag lists, this tag first) invalidated together, with their sequence. */
  readonly groups: ReadonlyMap<string, TagGroup> | undefined;
}

/** A group of tags invalidated in "all" mode. */
export interface TagGroup {
  readonly tags: readonly string[];
  readonly seq: number;
}

/** The contract of a tag-invalidation store: in process (memory) or shared (Redis). */
export interface TagStore {
  /** True when other processes see the same sequence and invalidations (Redis). */
  readonly shared: boolean;
  /**
   * A cheap health check (Redis: PING), resolving when the store answers. While its guard is in the back-off
   * window after a failure, the stack calls it in the background (one at a time, about twice a second, bounded by
   * `layerTimeout`); its first success closes the window. Optional: without it, the first command after the
   * window is the check. A store that shares a layer's connection is checked through that layer instead.
   */
  probe?(): void | Promise<unknown>;
  /** The current sequence, taken before a loader runs. */
  snapshot(): number | Promise<number>;
  /**
   * Records an invalidation; returns the sequence it took. "all" with a single tag is "any".
   * @param tags checked, de-duplicated tag names.
   */
  invalidate(tags: readonly string[], mode: TagMatchMode): number | Promise<number>;
  /** The states of `tags` (`undefined` for a tag never invalidated), in order. */
  fetch(tags: readonly string[]): (TagState | undefined)[] | Promise<(TagState | undefined)[]>;
  /**
   * The generations of `scopes` (0 = never bumped), in order: see `CacheStack.bumpGeneration`. A scope is a
   * namespace's key prefix (`''` for the root). Optional for custom stores; without it, generations stay local.
   */
  generations?(scopes: readonly string[]): number[] | Promise<number[]>;
  /** Increments the generation of `scope`; returns the new one. */
  bumpGeneration?(scope: string): number | Promise<number>;
  /** Releases what the store opened itself. */
  close?(): void | Promise<void>;
}

/** The key of a group inside {@link TagState.groups}: its sorted tags joined with U+001F. */
export function groupKey(sortedTags: readonly string[]): string {
  return sortedTags.join('\u001f');
}
