/**
 * Tag invalidation without scanning keys and without a global counter (docs/entry-states.md, "Tags").
 *
 * Each tag has its own record with a **version**: invalidating the tag gives it a new version,
 * `max(previous + 1, now in µs)` (the Redis store takes `now` from the Redis server holding the record). A load reads
 * the versions of its tags *before* its loader runs and the entry records them (`CacheEntry.tagVersions`, in the
 * order of its tags); the entry is valid only while none of its tags was invalidated with a version greater than
 * the one it recorded (nor a group all of whose tags it carries, recorded on the group's first tag). Because the
 * versions are read before the loader, an invalidation during a load makes the late result invalid. Versions of
 * one tag are compared only with versions of the same tag, so no clocks are compared: the time only keeps a
 * record that expired and was created again above every version it had before.
 *
 * Records expire: an invalidation is kept `keepMs` after it was made (the stack passes its `maxLifetime` and a margin
 * for clock skew), after which no entry read before it can still exist. A tag's record lives in its own key, so a
 * Redis Cluster spreads them over its slots; an invalidation is atomic per tag.
 */

/** How several tags are invalidated together. */
export type TagMatchMode = 'any' | 'all';

/** What is known of one tag: its version, its last "any" invalidation and the "all" groups recorded on it. */
export interface TagState {
  /** The tag's current version: the one an entry records when it is loaded now (0 = never invalidated). */
  readonly version: number;
  /** Version of the last invalidation of this tag alone (0 = none kept). */
  readonly any: number;
  /** Groups (sorted tag lists, this tag first) invalidated together, with their version. */
  readonly groups: ReadonlyMap<string, TagGroup> | undefined;
}

/** A group of tags invalidated in "all" mode. */
export interface TagGroup {
  readonly tags: readonly string[];
  readonly version: number;
}

/** The contract of a tag-invalidation store: in process (memory) or shared (Redis). */
export interface TagStore {
  /** True when other processes see the same invalidations (Redis). */
  readonly shared: boolean;
  /**
   * A cheap health check (Redis: PING), resolving when the store answers. While its guard is in the back-off
   * window after a failure, the stack calls it in the background (one at a time, about twice a second, bounded by
   * `layerTimeout`); its first success closes the window. Optional: without it, the first command after the
   * window is the check. A store that shares a layer's connection is checked through that layer instead.
   */
  probe?(): void | Promise<unknown>;
  /** The states of `tags` (`undefined` for a tag with no record), in order. */
  fetch(tags: readonly string[]): (TagState | undefined)[] | Promise<(TagState | undefined)[]>;
  /**
   * Records an invalidation, kept at least `keepMs`. Returns the versions it wrote: "any" mode, one per tag of
   * `tags` in order; "all" mode with several tags, one: the group's version (recorded on its first sorted tag).
   * "all" with a single tag is "any".
   * @param tags checked, de-duplicated tag names.
   */
  invalidate(tags: readonly string[], mode: TagMatchMode, keepMs: number): number[] | Promise<number[]>;
  /**
   * The generations of `scopes` (0 = never bumped, or expired), in order: see `CacheStack.bumpGeneration`. A scope
   * is a namespace's key prefix (`''` for the root). Optional for custom stores; without it, generations stay local.
   */
  generations?(scopes: readonly string[]): number[] | Promise<number[]>;
  /** Increments the generation of `scope`, kept at least `keepMs`; returns the new one. */
  bumpGeneration?(scope: string, keepMs: number): number | Promise<number>;
  /**
   * Keeps the generation of `scope` at least `generation` for `keepMs` more (raising it, or writing it again after
   * it expired): a process using a bumped namespace calls it periodically, so the generation outlives every entry
   * written under it. Optional (without it, a generation lives as the store keeps it).
   */
  keepGeneration?(scope: string, generation: number, keepMs: number): void | Promise<unknown>;
  /** Releases what the store opened itself. */
  close?(): void | Promise<void>;
}

/** The key of a group inside {@link TagState.groups}: its sorted tags joined with U+001F. */
export function groupKey(sortedTags: readonly string[]): string {
  return sortedTags.join('\u001f');
}

/**
 * The tags an invalidation writes, in the order a store takes them: "all" mode, its distinct tags sorted (a group
 * recorded on the first when there are several, a plain "any" invalidation of the one otherwise); "any" as given.
 */
export function invalidationTags(tags: readonly string[], mode: TagMatchMode): readonly string[] {
  return mode === 'all' ? [...new Set(tags)].sort() : tags;
}

/** An invalidation that rejects an entry: a tag alone, or an "all" group, with its version. */
export interface Rejection {
  readonly tags: readonly string[];
  readonly version: number;
}

/**
 * The invalidation in `state` (the state of `tag`) that rejects an entry carrying `tags` which recorded `recorded` for
 * `tag`: the tag's own ("any") newer than that, or a newer "all" group all of whose tags the entry carries;
 * `undefined` when none does. What the tag mirror validates entries by, and what the CLI reports.
 */
export function rejection(tag: string, state: Pick<TagState, 'any' | 'groups'>, tags: readonly string[], recorded: number): Rejection | undefined {
  if (state.any > recorded) return { tags: [tag], version: state.any };
  if (state.groups !== undefined) {
    for (const group of state.groups.values()) {
      if (group.version > recorded && group.tags.every((t) => tags.includes(t))) return group;
    }
  }
  return undefined;
}

/** The version an invalidation gives a tag whose version is `previous`, at `nowUs` (µs). */
export function nextTagVersion(previous: number, nowUs: number): number {
  return nowUs > previous ? nowUs : previous + 1;
}
