/**
 * The bounds on the counters of peers' bus messages: a message is applied only when its counter is one that
 * the peers' clocks and the shared store can have produced. Without them, one forged message (an unsigned bus
 * trusts whoever can PUBLISH on the Redis) with a counter of 2^53−1 did lasting harm: a version froze the
 * version clock (peers' later writes no longer evicted L1 copies), a tag sequence made the tag's entries
 * invalid until restart, a generation made `bumpGeneration()` a no-op.
 *
 * Rules (docs/bus-security.md):
 * - Versions ("keys", "clear") are hybrid-clock microseconds: a peer's version is at most its wall clock (or
 *   the largest version it saw, itself bounded the same way). One more than {@link MAX_PEER_CLOCK_SKEW_MS}
 *   ahead of this process's clock is rejected: the message is not applied and the version never reaches the
 *   `VersionClock`.
 * - Tag sequences come from the store's counter, which the announcing peer incremented *before* publishing. A
 *   sequence at most the one known here is applied at once; a greater one after one read of the store's
 *   counter (a read issued after the message arrived, so after the peer's increment): applied when the store
 *   reached it, else rejected. When the store cannot answer (an outage, when peers fall back to local
 *   sequences), it is applied capped at known + 1: one step, as this process's own fallback does.
 * - Generations likewise: greater than the one known here, applied after one read of the store's generation
 *   (the store's value is learned), rejected when beyond it; without an answer, only known + 1 is applied.
 *
 * Hard parts: checks that wait for a read must not pile up under a flood. Tag messages share one read at a
 * time (those arriving meanwhile wait for the next one), at most {@link MAX_PENDING_TAG_CHECKS} of them (more
 * are treated as unverifiable); a scope has one read at a time and remembers only the highest generation
 * waiting, for at most {@link MAX_PENDING_SCOPES} scopes being checked at once (more are unverifiable). A rejection is counted (`bus.rejected` in the
 * metrics) and logged once per burst.
 */
import type { Clock } from '../core/clock.js';
import type { BurstLogger } from '../core/logger.js';
import type { TagMatchMode } from '../core/tag-store.js';
import { MAX_CLOCK_SKEW_MS, type VersionClock } from '../core/version-clock.js';
import type { Generations } from './generations.js';
import type { StackTags } from './stack-tags.js';

/** How far ahead of this process's clock a peer's write version may be: the bound on clock skew, 60 s. */
export const MAX_PEER_CLOCK_SKEW_MS = MAX_CLOCK_SKEW_MS;

/** Most tag messages waiting for a check against the store. */
export const MAX_PENDING_TAG_CHECKS = 10_000;

/** Most scopes whose generation waits for a check against the store. */
export const MAX_PENDING_SCOPES = 1_000;

const LOG_SOURCE = 'invalidation bus counters';

interface PendingTags {
  readonly tags: readonly string[];
  readonly mode: TagMatchMode;
  readonly seq: number;
}

/** What the checks read (given by `StackCore` through `LocalInvalidation`). */
export interface PeerCounterParts {
  readonly clock: Clock;
  readonly versions: Pick<VersionClock, 'ceiling'>;
  readonly tags: Pick<StackTags, 'knownSeq' | 'storeSeq'>;
  readonly generations: Pick<Generations, 'of' | 'learn' | 'stored'>;
  readonly log: BurstLogger;
  /** Keeps a check's promise for `idle()`. */
  readonly lifecycle: { track(work: Promise<void>): void };
  /** Counts a rejected message (`bus.rejected`). */
  readonly countRejected: () => void;
}

export class PeerCounters {
  private pendingTags: PendingTags[] = [];
  private readingTags = false;
  /** Scope → highest generation waiting for its check. */
  private readonly pendingScopes = new Map<string, number>();
  private readonly readingScopes = new Set<string>();

  constructor(
    private readonly parts: PeerCounterParts,
    /** Applies a tag invalidation (with the sequence to record). */
    private readonly applyTags: (tags: readonly string[], mode: TagMatchMode, seq: number) => void,
    /** Applies a generation found newer than the one known (learned already). */
    private readonly newGeneration: (scope: string) => void,
  ) {}

  /** Whether the write version `version` of a "keys" or "clear" message may be applied (else rejected, counted). */
  acceptsVersion(kind: 'keys' | 'clear', version: number): boolean {
    if (version <= this.parts.versions.ceiling()) return this.accepted();
    const ahead = Math.round(version / 1000 - this.parts.clock.now());
    return this.reject(`a "${kind}" message with version ${version}, ${ahead} ms ahead of this clock (the bound is ${MAX_PEER_CLOCK_SKEW_MS} ms)`);
  }

  /** Applies a peer's tag invalidation at once or after checking its sequence against the store (see the header). */
  tags(tags: readonly string[], mode: TagMatchMode, seq: number): void {
    const known = this.parts.tags.knownSeq;
    if (seq <= known) {
      this.accepted();
      this.applyTags(tags, mode, seq);
      return;
    }
    if (this.pendingTags.length >= MAX_PENDING_TAG_CHECKS) {
      this.unverifiedTags({ tags, mode, seq }, known, 'too many tag messages wait for a check');
      return;
    }
    this.pendingTags.push({ tags, mode, seq });
    if (!this.readingTags) this.parts.lifecycle.track(this.checkTags());
  }

  /** Learns a peer's generation of `scope` at once when old news, else after checking it against the store. */
  generation(scope: string, generation: number): void {
    if (generation <= this.parts.generations.of(scope)) return;
    const waiting = this.pendingScopes.get(scope);
    const busy = this.readingScopes.has(scope) || waiting !== undefined;
    if (!busy && this.readingScopes.size + this.pendingScopes.size >= MAX_PENDING_SCOPES) {
      this.unverifiedGeneration(scope, generation, 'too many scopes wait for a check');
      return;
    }
    if (waiting === undefined || generation > waiting) this.pendingScopes.set(scope, generation);
    if (!this.readingScopes.has(scope)) this.parts.lifecycle.track(this.checkGenerations(scope));
  }

  /** Checks the waiting tag messages, one store read per batch, until none waits. */
  private async checkTags(): Promise<void> {
    this.readingTags = true;
    try {
      while (this.pendingTags.length > 0) {
        const batch = this.pendingTags;
        this.pendingTags = [];
        let stored: number | undefined;
        try {
          stored = await this.parts.tags.storeSeq();
        } catch {
          stored = undefined;
        }
        const known = this.parts.tags.knownSeq;
        for (const message of batch) {
          if (stored === undefined) {
            this.unverifiedTags(message, known, 'the tag store did not answer');
          } else if (message.seq <= Math.max(stored, known)) {
            this.accepted();
            this.applyTags(message.tags, message.mode, message.seq);
          } else {
            this.reject(`a "tags" message with sequence ${message.seq}, beyond the tag store's ${stored}`);
          }
        }
      }
    } finally {
      this.readingTags = false;
    }
  }

  /** Checks the highest waiting generation of `scope`, one store read at a time, until none waits. */
  private async checkGenerations(scope: string): Promise<void> {
    this.readingScopes.add(scope);
    try {
      for (let generation = this.pendingScopes.get(scope); generation !== undefined; generation = this.pendingScopes.get(scope)) {
        this.pendingScopes.delete(scope);
        const stored = await this.parts.generations.stored(scope);
        if (stored === undefined) {
          this.unverifiedGeneration(scope, generation, 'the tag store did not answer');
          continue;
        }
        if (this.parts.generations.learn(scope, stored)) this.newGeneration(scope);
        if (generation <= stored) this.accepted();
        else this.reject(`a "generation" message for ${JSON.stringify(scope)} with generation ${generation}, beyond the tag store's ${stored}`);
      }
    } finally {
      this.readingScopes.delete(scope);
    }
  }

  /** A tag message whose sequence could not be checked: applied capped at one step past the known sequence. */
  private unverifiedTags(message: PendingTags, known: number, why: string): void {
    const capped = Math.min(message.seq, known + 1);
    if (capped < message.seq) this.reject(`a "tags" message with sequence ${message.seq} could not be checked (${why}); applied as ${capped}`);
    this.applyTags(message.tags, message.mode, capped);
  }

  /** A generation that could not be checked: only one step past the known one is learned. */
  private unverifiedGeneration(scope: string, generation: number, why: string): void {
    const known = this.parts.generations.of(scope);
    if (generation === known + 1) {
      if (this.parts.generations.learn(scope, generation)) this.newGeneration(scope);
      return;
    }
    if (generation > known) this.reject(`a "generation" message for ${JSON.stringify(scope)} with generation ${generation} could not be checked (${why}); this process knows ${known}`);
  }

  private accepted(): true {
    this.parts.log.success(LOG_SOURCE);
    return true;
  }

  private reject(reason: string): false {
    this.parts.countRejected();
    this.parts.log.failure(LOG_SOURCE, 'Rejected a peer\'s invalidation message with an out-of-range counter (forged, or a peer\'s clock is far ahead)', reason);
    return false;
  }
}
