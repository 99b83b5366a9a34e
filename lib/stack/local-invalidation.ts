/**
 * What a change made elsewhere does to this process's own state: the `BusTarget` of the stack's `StackBus`
 * (peers' announcements, see stack-bus.ts for the messages), and `dropScope` after a namespace moved to a new
 * generation (a peer's, or `bumpGeneration` here).
 *
 * Only what no other process can reach is dropped: the copies in the local layers (L1) and the work in
 * flight here (`InFlightWork`: loads do not store, lookups do not backfill). The shared layers are the
 * writer's to change. Versions make a late message harmless: a key's L1 copy at least as new as the
 * message's version is kept, and so is the work in flight for it. Dropping a copy never fails the caller:
 * a local layer that throws is logged. A peer's counters are checked first (`PeerCounters`): a version, tag
 * version or generation beyond what the peers' clocks and the store can have produced is rejected, never
 * adopted.
 */
import type { CacheLayer } from '../core/layer.js';
import type { BurstLogger } from '../core/logger.js';
import type { TagMatchMode } from '../core/tag-store.js';
import type { VersionClock } from '../core/version-clock.js';
import type { Generations } from './generations.js';
import type { InFlightWork } from './in-flight-work.js';
import type { LayerSet } from './layer-set.js';
import { PeerCounters, type PeerCounterParts } from './peer-counters.js';
import type { BusTarget } from './stack-bus.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';
import type { WriteBehind } from './write-behind.js';

/** What `LocalInvalidation` works on (given by `StackCore`). */
export interface LocalInvalidationParts extends PeerCounterParts {
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly versions: VersionClock;
  readonly inFlight: InFlightWork;
  readonly generations: Generations;
  readonly log: BurstLogger;
  readonly lifecycle: StackLifecycle;
  /** Write-behind's queue: a peer's newer write, delete or clear cancels the older queued writes. */
  readonly pendingWrites: Pick<WriteBehind, 'cancelOlder' | 'cancelPrefix'> | undefined;
}

export class LocalInvalidation implements BusTarget {
  /** The layers only this process reads (not shared). */
  private readonly locals: readonly CacheLayer[];
  private readonly counters: PeerCounters;

  constructor(private readonly parts: LocalInvalidationParts) {
    this.locals = parts.layers.layers.filter((layer) => !layer.shared);
    this.counters = new PeerCounters(
      parts,
      (tags, mode, versions) => parts.tags.apply(tags, mode, versions),
      (scope) => this.dropScope(scope),
    );
  }

  /** A peer wrote or deleted `keys` at `version`: drop the older copies here and the work on them. */
  dropKeys(keys: readonly string[], version: number): void {
    const { versions, layers, inFlight } = this.parts;
    if (!this.counters.acceptsVersion('keys', version)) return;
    versions.observe(version);
    this.parts.pendingWrites?.cancelOlder(keys, version);
    const l1 = layers.l1;
    const doomed = l1 === undefined ? keys : keys.filter((key) => (l1.get(key)?.version ?? 0) < version);
    if (doomed.length === 0) return;
    inFlight.invalidateKeys(doomed, version);
    this.dropLocal((layer) => layer.delete(doomed), 'an invalidated copy');
  }

  /** A peer invalidated tags: recorded (no I/O), entries carrying them fail validation from then on. */
  applyTags(tags: readonly string[], mode: TagMatchMode, versions: readonly number[]): void {
    this.counters.tags(tags, mode, versions);
  }

  /** A peer cleared `prefix` (everything when `undefined`). */
  clearPrefix(prefix: string | undefined, version: number): void {
    if (!this.counters.acceptsVersion('clear', version)) return;
    this.parts.versions.observe(version);
    this.parts.pendingWrites?.cancelPrefix(prefix, version);
    this.dropPrefix(prefix);
  }

  /** A peer bumped `scope` to `generation`: when news here (checked against the store), what is under it is dropped. */
  generation(scope: string, generation: number): void {
    this.counters.generation(scope, generation);
  }

  /**
   * The bus resubscribed (messages may have been lost): drop everything local, read the tags' states and the
   * generations from the store again.
   */
  resync(): void {
    this.parts.tags.forgetKnowledge();
    this.dropPrefix(undefined);
    this.parts.lifecycle.track(this.parts.generations.refetch());
  }

  /** Forgets this process's copies and running work under `scope` (after a generation change). */
  dropScope(scope: string): void {
    this.dropPrefix(scope === '' ? undefined : scope);
  }

  /** Forgets this process's copies and running work under `prefix` (everything when `undefined`). */
  private dropPrefix(prefix: string | undefined): void {
    this.parts.inFlight.invalidatePrefix(prefix);
    this.dropLocal((layer) => layer.clear(prefix), 'invalidated copies');
  }

  /** Runs `drop` on every local layer; a failure (thrown or rejected) is logged as failing to drop `what`. */
  private dropLocal(drop: (layer: CacheLayer) => void | Promise<void>, what: string): void {
    for (const layer of this.locals) {
      try {
        void Promise.resolve(drop(layer)).catch((error: unknown) => this.parts.log.warn(`Layer "${layer.name}" failed to drop ${what}`, error));
      } catch (error) {
        this.parts.log.warn(`Layer "${layer.name}" failed to drop ${what}`, error);
      }
    }
  }
}
