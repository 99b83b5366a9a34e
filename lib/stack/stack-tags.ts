/**
 * The tag side of a stack: the tag store (shared in Redis, or in process), its guard and recovery queue, and
 * the `TagMirror` that validates entries without I/O. See lib/core/tag-store.ts for the sequence scheme.
 */
import type { CacheEntry } from '../core/entry.js';
import type { BurstLogger } from '../core/logger.js';
import type { TagMatchMode, TagStore } from '../core/tag-store.js';
import type { LayerGuard } from './layer-guard.js';
import { RecoveryQueue } from './recovery-queue.js';
import { TagMirror } from './tag-mirror.js';

export class StackTags {
  private readonly mirror = new TagMirror();
  private readonly recovery: RecoveryQueue;

  constructor(
    private readonly store: TagStore,
    /** The guard of a shared store (its layer's guard when the store lives beside a layer), else `undefined`. */
    readonly guard: LayerGuard | undefined,
    recoveryQueueSize: number,
    private readonly log: BurstLogger,
  ) {
    this.recovery = new RecoveryQueue(recoveryQueueSize);
  }

  /** Whether `entry` survives every invalidation known to this process (no I/O: the L1 hot path). */
  isValid(entry: CacheEntry): boolean {
    return entry.tags === undefined || this.mirror.isValid(entry);
  }

  /** The sequence a load records before its loader runs; the last one seen when the shared store fails. */
  async snapshot(): Promise<number> {
    return (await this.storeSeq()) ?? this.mirror.maxSeq;
  }

  /**
   * The store's current sequence (recorded as known), or `undefined` when the store cannot answer: what a
   * peer's announced sequence is checked against (lib/stack/peer-counters.ts).
   */
  async storeSeq(): Promise<number | undefined> {
    let seq: number;
    try {
      seq = this.guard === undefined ? await this.store.snapshot() : Math.max(await this.guard.run('snapshot', () => this.store.snapshot()), 0);
    } catch (error) {
      if (this.guard === undefined) throw error;
      return undefined;
    }
    if (Number.isSafeInteger(seq) && seq > this.mirror.maxSeq) this.mirror.maxSeq = seq;
    return seq;
  }

  /** The highest sequence known here to have been taken (from the store, this process, or checked peers). */
  get knownSeq(): number {
    return this.mirror.maxSeq;
  }

  /**
   * Invalidates tags everywhere the store reaches; recorded here at once. When the shared store is
   * unreachable, this process stops serving the tagged entries anyway and the invalidation is replayed on
   * the store when it answers again. Returns the sequence recorded (for the invalidation bus).
   */
  async invalidate(tags: readonly string[], mode: TagMatchMode): Promise<number> {
    let seq: number;
    if (this.guard === undefined) {
      seq = await this.store.invalidate(tags, mode);
    } else {
      try {
        seq = await this.guard.run('invalidate', () => this.store.invalidate(tags, mode));
      } catch {
        seq = this.mirror.maxSeq + 1;
        if (!this.recovery.addTags(tags, mode)) {
          this.log.warn(`Tag invalidation of ${tags.join(', ')} could not be queued for replay (queue full)`, undefined);
        }
      }
    }
    this.mirror.record(tags, mode, seq);
    return seq;
  }

  /** Records a peer's invalidation announced on the bus (no I/O; a late or repeated one is a no-op). */
  apply(tags: readonly string[], mode: TagMatchMode, seq: number): void {
    this.mirror.record(tags, mode, seq);
  }

  /** Replays the invalidations the shared store missed. */
  async replay(): Promise<void> {
    const guard = this.guard;
    if (guard === undefined) return;
    for (const { tags, mode } of this.recovery.take().tags) {
      try {
        this.mirror.record(tags, mode, await guard.run('replay', () => this.store.invalidate(tags, mode)));
      } catch {
        this.recovery.addTags(tags, mode);
      }
    }
  }

  /**
   * Validates entries read from a shared layer: fetches the current states of their tags from the shared
   * store (one round trip for all), then checks each. A tagged entry is invalid when the store cannot say.
   */
  async validateShared(entries: readonly (CacheEntry | undefined)[]): Promise<boolean[]> {
    const known = await this.fetchStates(entries);
    return entries.map((entry) => entry !== undefined && (entry.tags === undefined || (known && this.mirror.isValid(entry))));
  }

  private async fetchStates(entries: readonly (CacheEntry | undefined)[]): Promise<boolean> {
    const guard = this.guard;
    if (guard === undefined) return true;
    const tags = new Set<string>();
    for (const entry of entries) if (entry?.tags !== undefined) for (const tag of entry.tags) tags.add(tag);
    if (tags.size === 0) return true;
    const list = [...tags];
    try {
      this.mirror.merge(list, await guard.run('fetch', () => this.store.fetch(list)));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }
}
