/**
 * The bounds on the counters of peers' bus messages: a message is applied only when its counter is one that
 * the peers' clocks and the shared store can have produced. Without them, one forged message (an unsigned bus
 * trusts whoever can PUBLISH on the Redis) with a counter of 2^53−1 did lasting harm: a version froze the
 * version clock (peers' later writes no longer evicted L1 copies), a tag sequence (now a tag version) made the tag's entries
 * invalid until restart, a generation made `bumpGeneration()` a no-op.
 *
 * Rules (docs/bus-security.md):
 * - Versions ("keys", "clear") are hybrid-clock microseconds: a peer's version is at most its wall clock (or
 *   the largest version it saw, itself bounded the same way). One more than {@link MAX_PEER_CLOCK_SKEW_MS}
 *   ahead of this process's clock is rejected: the message is not applied and the version never reaches the
 *   `VersionClock`.
 * - Tag versions are microseconds of the clock of the server holding the tag (`max(previous + 1, now)`, see
 *   lib/core/tag-store.ts), so they obey the same bound: a message with a version more than
 *   {@link MAX_PEER_CLOCK_SKEW_MS} ahead of this process's clock is rejected whole. A version within the bound
 *   can do no lasting harm: the tag's entries are invalid here until reloaded, and loads here record at most that
 *   version, which the tag's real invalidations pass within the bound.
 * - Generations likewise: greater than the one known here, applied after one read of the store's generation
 *   (the store's value is learned), rejected when beyond it; without an answer, only known + 1 is applied.
 *
 * Hard parts: checks that wait for a read must not pile up under a flood. A scope has one read at a time and remembers only the highest generation
 * waiting, for at most {@link MAX_PENDING_SCOPES} scopes being checked at once (more are unverifiable). A rejection is counted (`bus.rejected` in the
 * metrics) and logged once per burst.
 */
import type { Clock } from '../core/clock.js';
import type { BurstLogger } from '../core/logger.js';
import type { TagMatchMode } from '../core/tag-store.js';
import { MAX_CLOCK_SKEW_MS, type VersionClock } from '../core/version-clock.js';
import type { Generations } from './generations.js';

/** How far ahead of this process's clock a peer's write version may be: the bound on clock skew, 60 s. */
export const MAX_PEER_CLOCK_SKEW_MS = MAX_CLOCK_SKEW_MS;

/** Most scopes whose generation waits for a check against the store. */
export const MAX_PENDING_SCOPES = 1_000;

const LOG_SOURCE = 'invalidation bus counters';

/** What the checks read (given by `StackCore` through `LocalInvalidation`). */
export interface PeerCounterParts {
  readonly clock: Clock;
  readonly versions: Pick<VersionClock, 'ceiling'>;
  readonly generations: Pick<Generations, 'of' | 'learn' | 'stored'>;
  readonly log: BurstLogger;
  /** Keeps a check's promise for `idle()`. */
  readonly lifecycle: { track(work: Promise<void>): void };
  /** Counts a rejected message (`bus.rejected`). */
  readonly countRejected: () => void;
}

export class PeerCounters {
  /** Scope → highest generation waiting for its check. */
  private readonly pendingScopes = new Map<string, number>();
  private readonly readingScopes = new Set<string>();

  constructor(
    private readonly parts: PeerCounterParts,
    /** Applies a tag invalidation (with the versions to record). */
    private readonly applyTags: (tags: readonly string[], mode: TagMatchMode, versions: readonly number[]) => void,
    /** Applies a generation found newer than the one known (learned already). */
    private readonly newGeneration: (scope: string) => void,
  ) {}

  /** Whether the write version `version` of a "keys" or "clear" message may be applied (else rejected, counted). */
  acceptsVersion(kind: 'keys' | 'clear', version: number): boolean {
    if (version <= this.parts.versions.ceiling()) return this.accepted();
    const ahead = Math.round(version / 1000 - this.parts.clock.now());
    return this.reject(`a "${kind}" message with version ${version}, ${ahead} ms ahead of this clock (the bound is ${MAX_PEER_CLOCK_SKEW_MS} ms)`);
  }

  /** Applies a peer's tag invalidation unless one of its versions is beyond the clock bound (see the header). */
  tags(tags: readonly string[], mode: TagMatchMode, versions: readonly number[]): void {
    const bound = (this.parts.clock.now() + MAX_PEER_CLOCK_SKEW_MS) * 1000;
    const beyond = versions.find((version) => version > bound);
    if (beyond !== undefined) {
      const ahead = Math.round(beyond / 1000 - this.parts.clock.now());
      this.reject(`a "tags" message with version ${beyond}, ${ahead} ms ahead of this clock (the bound is ${MAX_PEER_CLOCK_SKEW_MS} ms)`);
      return;
    }
    this.accepted();
    this.applyTags(tags, mode, versions);
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
