/**
 * Every change made from this process. A write (`storeMany`), delete or clear goes, in this order:
 * 1. invalidate the work in flight on its keys (`InFlightWork`: running loads will not store, lookups will
 *    not backfill; races (1) and (4) in read-path.ts), synchronously, before anything is awaited;
 * 2. take a write version (`VersionClock`): a peer keeps a copy at least as new as the announcement;
 * 3. change every layer (`LayerSet`: a shared layer that fails replays the invalidation on recovery);
 * 4. announce it to the peers (`StackBus`, in the background), only after the authoritative write;
 * 5. emit its event (`set`, `delete`; a clear has none).
 * Under `writePolicy: 'strict'` (strict-writes.ts), a set some layer did not confirm is deleted again from every
 * layer between 3 and 4, announced, and rejected (no `set` event); a delete is announced and emitted, then
 * rejected. With write-behind (write-behind.ts), step 3 of a set writes the local layers and queues the entries
 * for the shared ones, and step 4 happens after their flush; a delete or clear first cancels the queued writes
 * of its keys.
 * A layer that cannot clear by prefix (`clearsByPrefix: false`, Memcached) makes a clear also bump the scope's
 * generation, and a pattern invalidation reject before it changes anything.
 * A pattern invalidation (`invalidateMatching`) first lists the keys in every layer that can, and changes
 * nothing when that fails or finds too many; then it deletes them as `delete` does (for a bare prefix, the
 * work in flight and the peers' copies are dropped by prefix: theirs may hold keys no layer here listed).
 * A tag invalidation
 * gives the tags new versions (in the tag store, and here at once) instead of touching entries; a
 * generation bump moves a namespace's keys to new names, then drops this process's copies under it
 * (`LocalInvalidation.dropScope`); both are announced. A closed stack rejects every one (`StackClosedError`).
 */
import type { CacheLayer } from '../core/layer.js';
import { InvalidationLimitError, InvalidationScanError } from '../core/errors.js';
import type { TagMatchMode } from '../core/tag-store.js';
import type { VersionClock } from '../core/version-clock.js';
import type { EntryPolicy } from './cache-stack.options.js';
import type { EntryFactory } from './entry-builder.js';
import type { Generations } from './generations.js';
import type { InFlightWork } from './in-flight-work.js';
import type { KeyedEntry, LayerSet } from './layer-set.js';
import type { Announce } from './stack-bus.js';
import type { StackEvents } from './stack-events.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';
import type { StrictWrites } from './strict-writes.js';
import type { WriteBehind } from './write-behind.js';

/** What `StackWrites` works on (given by `StackCore`). */
export interface StackWriteParts {
  readonly lifecycle: StackLifecycle;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly generations: Generations;
  readonly versions: VersionClock;
  readonly inFlight: InFlightWork;
  readonly entries: EntryFactory;
  readonly events: StackEvents;
  readonly announce: Announce;
  /** Drops this process's copies and running work under a scope (`LocalInvalidation.dropScope`). */
  readonly dropScope: (scope: string) => void;
  /** `writePolicy: 'strict'`, `undefined` for best-effort. */
  readonly strict: StrictWrites | undefined;
  /** Write-behind's queue, `undefined` without it. */
  readonly writeBehind: WriteBehind | undefined;
}

/** One entry of a bulk write, resolved. */
export interface EngineWrite {
  readonly key: string;
  /** The key as the caller wrote it (without namespace): for a ttl function and log lines. */
  readonly userKey: string;
  readonly value: unknown;
  readonly policy: EntryPolicy;
}

export class StackWrites {
  constructor(private readonly parts: StackWriteParts) {}

  /** Stores many values (`set`, `setMany`), one bulk write per layer; running loads of them will not overwrite. */
  async storeMany(writes: readonly EngineWrite[]): Promise<void> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    const keys = writes.map((w) => w.key);
    parts.inFlight.invalidateKeys(keys);
    const version = parts.versions.next();
    const built: KeyedEntry[] = [];
    for (const w of writes) {
      const entry = parts.entries.build(w.key, w.userKey, w.value, w.policy, undefined, version);
      if (entry !== undefined) built.push({ key: w.key, entry });
    }
    const entries = await parts.tags.stamp(built);
    const behind = parts.writeBehind;
    if (behind !== undefined) {
      await parts.layers.write(entries, parts.layers.size, false, 'local');
      const through = behind.enqueue(entries);
      if (through.length > 0) {
        await parts.layers.write(through, parts.layers.size, false, 'shared');
        parts.announce({ kind: 'keys', keys: through.map((t) => t.key), version });
      }
    } else {
      const failures = await parts.layers.write(entries);
      const error = await parts.strict?.undoSet(entries.map((e) => e.key), failures);
      parts.announce({ kind: 'keys', keys, version });
      if (error !== undefined) throw error;
    }
    if (parts.events.listened.set === true) for (const { key } of entries) parts.events.emit('set', { key });
  }

  /** Deletes keys from every layer and makes running loads of them discard their results. */
  async delete(keys: readonly string[]): Promise<void> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    parts.inFlight.invalidateKeys(keys);
    parts.writeBehind?.cancel(keys);
    const version = parts.versions.next();
    const failures = await parts.layers.delete(keys);
    parts.announce({ kind: 'keys', keys, version });
    parts.events.emit('delete', { keys });
    const error = parts.strict?.deleteError(keys, failures);
    if (error !== undefined) throw error;
  }

  /** Removes every entry under `prefix` (all when `undefined`) from every layer. */
  async clear(prefix: string | undefined): Promise<void> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    parts.inFlight.invalidatePrefix(prefix);
    parts.writeBehind?.cancelPrefix(prefix);
    const version = parts.versions.next();
    await parts.layers.clear(prefix);
    parts.announce({ kind: 'clear', prefix, version });
    // A layer that cannot clear by prefix (Memcached) is cleared by moving the scope to its next generation.
    if (parts.layers.layers.some((layer) => layer.clearsByPrefix === false)) await this.bumpGeneration(prefix ?? '');
  }

  /**
   * Deletes the keys under `prefix` whose rest matches `glob` (see `CacheLayer.findKeys`), in every layer and
   * instance, after listing them in every layer that can list: more than `limit` keys, or a layer that fails
   * while listing, and nothing is deleted (typed errors). Resolves to the number of keys deleted.
   * @param what the call, for error messages.
   */
  async invalidateMatching(prefix: string, glob: string | undefined, limit: number, what: string): Promise<number> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    const blind = parts.layers.layers.find((layer) => layer.clearsByPrefix === false);
    if (blind !== undefined) throw new InvalidationScanError(what, blind.name, new Error('the layer cannot list its keys (Memcached): invalidate by tags or bumpGeneration() instead'));
    const found = new Set<string>();
    for (let i = 0; i < parts.layers.size; i++) {
      const layer = parts.layers.layers[i] as CacheLayer;
      const find = layer.findKeys?.bind(layer);
      if (find === undefined) continue;
      const guard = parts.layers.guards[i];
      let keys: string[];
      try {
        keys = guard === undefined ? await find(prefix, glob, limit) : await guard.run('findKeys', () => find(prefix, glob, limit));
      } catch (error) {
        throw new InvalidationScanError(what, layer.name, error);
      }
      for (const key of keys) found.add(key);
      if (found.size > limit) throw new InvalidationLimitError(what, limit);
    }
    const keys = [...found];
    if (glob === undefined) {
      // A prefix: peers drop their copies by prefix (theirs may hold keys no layer here listed).
      parts.inFlight.invalidatePrefix(prefix);
      parts.writeBehind?.cancelPrefix(prefix);
      const version = parts.versions.next();
      await parts.layers.delete(keys);
      parts.announce({ kind: 'clear', prefix, version });
      parts.events.emit('delete', { keys });
    } else if (keys.length > 0) {
      await this.delete(keys);
    }
    return keys.length;
  }

  /** Invalidates tags everywhere the tag store reaches; recorded here at once. */
  async invalidateTags(tags: readonly string[], mode: TagMatchMode): Promise<void> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    const versions = await parts.tags.invalidate(tags, mode);
    parts.announce({ kind: 'tags', tags, mode, versions });
    parts.events.emit('invalidate', { tags, mode });
  }

  /** Moves every key under `scope` (a namespace's prefix, `''` for all) to a new generation, everywhere. */
  async bumpGeneration(scope: string): Promise<number> {
    const parts = this.parts;
    parts.lifecycle.assertOpen();
    const generation = await parts.generations.bump(scope);
    parts.dropScope(scope);
    parts.announce({ kind: 'generation', scope, generation });
    return generation;
  }
}
