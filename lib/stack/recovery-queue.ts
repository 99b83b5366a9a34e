/**
 * What a shared layer (or the shared tag store) missed while it was failing, replayed when it answers
 * again, so that an outage never leaves an invalidated value alive in Redis:
 * - a failed delete, or a failed write (Redis may still hold the previous value), queues the key;
 * - a failed clear queues its prefix; a failed tag invalidation queues the tags.
 * The queue is bounded: past `maxItems` keys it collapses into "clear the whole layer", which is always
 * correct (everything is reloaded) if costly; tag invalidations past the bound are dropped with an error log.
 */
import type { TagMatchMode } from '../core/tag-store.js';

/** One queued tag invalidation. */
export interface QueuedTagInvalidation {
  readonly tags: readonly string[];
  readonly mode: TagMatchMode;
}

/** Everything queued, taken at once by the replay. */
export interface RecoveryWork {
  /** Clear the whole layer (the key queue overflowed, or a root `clear()` failed). */
  readonly clearAll: boolean;
  readonly prefixes: readonly string[];
  readonly keys: readonly string[];
  readonly tags: readonly QueuedTagInvalidation[];
}

export class RecoveryQueue {
  private keys = new Set<string>();
  private prefixes = new Set<string>();
  private tags = new Map<string, QueuedTagInvalidation>();
  private clearAll = false;

  constructor(private readonly maxItems: number) {}

  /** True when nothing is queued. */
  get empty(): boolean {
    return !this.clearAll && this.keys.size === 0 && this.prefixes.size === 0 && this.tags.size === 0;
  }

  addKeys(keys: Iterable<string>): void {
    if (this.clearAll) return;
    for (const key of keys) this.keys.add(key);
    if (this.keys.size > this.maxItems) this.addClear(undefined);
  }

  addClear(prefix: string | undefined): void {
    if (prefix === undefined) {
      this.clearAll = true;
      this.keys.clear();
      this.prefixes.clear();
    } else if (!this.clearAll) {
      this.prefixes.add(prefix);
    }
  }

  /** Queues a tag invalidation; false when the queue is full and it was dropped. */
  addTags(tags: readonly string[], mode: TagMatchMode): boolean {
    const id = `${mode}\u001e${[...tags].sort().join('\u001f')}`;
    if (!this.tags.has(id) && this.tags.size >= this.maxItems) return false;
    this.tags.set(id, { tags, mode });
    return true;
  }

  /** Takes and empties the queue. */
  take(): RecoveryWork {
    const work: RecoveryWork = {
      clearAll: this.clearAll,
      prefixes: [...this.prefixes],
      keys: [...this.keys],
      tags: [...this.tags.values()],
    };
    this.keys = new Set();
    this.prefixes = new Set();
    this.tags = new Map();
    this.clearAll = false;
    return work;
  }
}
