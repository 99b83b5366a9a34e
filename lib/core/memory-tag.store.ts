/**
 * The in-process `TagStore`: one state per invalidated tag (and per namespace generation), each kept `keepMs`.
 * Hard part: states are replaced, never mutated (copy on write), so readers hold them without copies.
 */
import { systemClock, type Clock } from './clock.js';
import { groupKey, invalidationTags, nextTagVersion, type TagGroup, type TagMatchMode, type TagState, type TagStore } from './tag-store.js';

interface KeptState {
  readonly state: TagState;
  /** When the record may be forgotten (ms, `clock.now()`). */
  readonly keepUntil: number;
}

/**
 * The in-process tag store (see `TagStore` in core for the semantics), used by stacks without a shared
 * store. Synchronous. Versions come from `clock` (µs), so a store created again after a restart gives versions
 * above every one it gave before (as long as the wall clock did not step back).
 *
 * States are replaced, never mutated, on invalidation (copy on write), so `fetch` hands out the stored
 * objects without copying them and a state a caller holds never changes under it. An expired record is dropped
 * when met, and all expired ones every {@link SWEEP_EVERY} invalidations.
 */
export class MemoryTagStore implements TagStore {
  readonly shared = false;
  private readonly states = new Map<string, KeptState>();
  private readonly gens = new Map<string, number>();
  private invalidations = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  invalidate(tags: readonly string[], mode: TagMatchMode, keepMs: number): number[] {
    if (tags.length === 0) return [];
    const now = this.clock.now();
    if (++this.invalidations % SWEEP_EVERY === 0) this.sweep(now);
    const keepUntil = now + keepMs;
    const targets = invalidationTags(tags, mode);
    if (mode === 'all' && targets.length > 1) {
      const first = targets[0] as string;
      const previous = this.live(first, now);
      const version = nextTagVersion(previous?.version ?? 0, now * 1000);
      const groups = new Map<string, TagGroup>();
      const oldest = version - keepMs * 1000;
      if (previous?.groups !== undefined) for (const [key, group] of previous.groups) if (group.version >= oldest) groups.set(key, group);
      groups.set(groupKey(targets), { tags: targets, version });
      this.states.set(first, { state: { version, any: previous?.any ?? 0, groups }, keepUntil });
      return [version];
    }
    return targets.map((tag) => {
      const previous = this.live(tag, now);
      const version = nextTagVersion(previous?.version ?? 0, now * 1000);
      this.states.set(tag, { state: { version, any: version, groups: previous?.groups }, keepUntil });
      return version;
    });
  }

  fetch(tags: readonly string[]): (TagState | undefined)[] {
    const now = this.clock.now();
    const out = new Array<TagState | undefined>(tags.length);
    for (let i = 0; i < tags.length; i++) out[i] = this.live(tags[i] as string, now);
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

  /** Number of tags with a recorded invalidation not yet expired. */
  get size(): number {
    this.sweep(this.clock.now());
    return this.states.size;
  }

  private live(tag: string, now: number): TagState | undefined {
    const kept = this.states.get(tag);
    if (kept === undefined) return undefined;
    if (kept.keepUntil > now) return kept.state;
    this.states.delete(tag);
    return undefined;
  }

  private sweep(now: number): void {
    for (const [tag, kept] of this.states) if (kept.keepUntil <= now) this.states.delete(tag);
  }
}

/** Invalidations between two sweeps of the expired records. */
const SWEEP_EVERY = 1024;
