/**
 * Once-per-cluster loads (docs/distributed.md, "Distributed single-flight"; the protocol is a `LoadCoordinator`,
 * e.g. `RedisSingleFlightCoordinator`). The engine's in-process single-flight already collapses a process's
 * concurrent misses of a key into one flight; with a coordinator that flight first asks for the key's load lease:
 *
 * 1. Leader: it reads the shared layers once more (a peer may have filled the key between this process's miss
 *    and its lease: then that value is served and nothing loads), else it loads. The lease is renewed every
 *    third of its ttl while the loader runs; the entry is written with the lease's fencing version as "write
 *    if newer", then peers are told `filled`, then the lease is released — on failure too. Renewals and the
 *    release are sent even while the guard is in its back-off window (bounded by the layer timeout): skipped,
 *    they would leave the lease to nobody until its ttl ends, or let it lapse under a running load.
 * 2. Follower: it waits for `filled` (pub/sub; polling of the lease only as a fallback), then reads the shared
 *    layers. Found: served (and backfilled into L1). Not found (the leader failed, died, or its value was not
 *    cacheable): it asks again, and may become the leader.
 * 3. The coordinator fails (Redis down, in back-off) or a follower has waited the loader timeout: the load
 *    runs locally. A cache failure never stops a load; at worst every process loads once, as without it.
 * 4. An acquire that timed out (the guard's `layerTimeout`) is not forgotten: Redis may still run it (paused
 *    Redis, stalled event loop) and grant a lease nobody would renew or release, which every peer missing the
 *    key would then follow until its ttl ends. When its late answer is "leader", the lease is released at once,
 *    straight through the coordinator: the guard is in its back-off window right after that timeout and would
 *    skip the command.
 * Every acquire passes the stack's write clock as the lease version's floor, so a lease's version is above
 * every version this process has seen (the coordinator need not keep released records to order versions).
 *
 * Races, as interleavings (A, B: processes; L: a lease; W: the write of a loaded value):
 *  (1) A's miss, B fills k and releases L, A takes L: A's re-read finds B's value, A loads nothing.
 *  (2) A holds L and stalls past its ttl (no renewal reached Redis), B takes L' (version v' > v) and writes
 *      at v'; A's late W at v is "write if newer": a no-op in Redis. A's callers still get A's value.
 *  (3) A dies holding L: followers wake when the lease expires (poll) and one of them takes it.
 *  (4) A's acquire times out, A loads locally; Redis grants L to A's late acquire; B misses: B follows L, A's
 *      release (point 4) wakes B with `released`, B asks again and leads. Or A's release came first: B leads.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import type { LoadCoordinator, LoadLease, LoadTicket } from '../core/load-coordinator.js';
import type { SingleFlightMetrics } from '../core/metrics.js';
import type { VersionClock } from '../core/version-clock.js';
import type { LayerGuard } from './layer-guard.js';
import { guarded, guardedEvenInBackoff, keepRenewing } from './lease-keeper.js';

/** The outcome of {@link DistributedLoads.begin}. */
export type LoadTurn =
  /** Load now; `lease` is set when this process holds the cluster-wide lease. */
  | { readonly entry: undefined; readonly lease: LoadLease | undefined }
  /** A peer's value, read from the shared layers: serve it, load nothing. */
  | { readonly entry: CacheEntry; readonly lease: undefined };

export class DistributedLoads {
  readonly metrics: Omit<SingleFlightMetrics, 'errors' | 'skipped'> = { leads: 0, follows: 0, servedFromPeer: 0, localFallbacks: 0 };
  private readonly renewEvery: number;

  constructor(
    private readonly coordinator: LoadCoordinator,
    /** The guard of the coordinator's commands (its own: it has connections of its own). */
    private readonly guard: LayerGuard | undefined,
    /** Lease ttl in ms. */
    private readonly leaseTtl: number,
    private readonly clock: Clock,
    /** The stack's write clock: each acquire's version floor. */
    private readonly versions: VersionClock,
  ) {
    this.renewEvery = Math.max(1, Math.floor(leaseTtl / 3));
  }

  /**
   * Decides who loads `key`: this process (with or without a lease) or a peer whose value `reread` finds.
   * @param reread reads the shared layers: a fresh, valid entry or `undefined`.
   * @param maxWaitMs longest this process waits for peers before loading itself (the loader timeout).
   */
  async begin(key: string, reread: () => Promise<CacheEntry | undefined>, maxWaitMs: number): Promise<LoadTurn> {
    const deadline = this.clock.now() + maxWaitMs;
    for (;;) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) break;
      let ticket: LoadTicket;
      let attempt: Promise<LoadTicket> | undefined;
      try {
        ticket = await this.command('load-acquire', () => (attempt = this.coordinator.acquire(key, this.leaseTtl, remaining, this.versions.next())));
      } catch {
        // Counted and logged by the guard. A timed-out acquire may still be granted: release it then (point 4).
        attempt?.then((late) => (late.role === 'leader' ? late.lease.release() : undefined)).catch(() => undefined);
        break;
      }
      if (ticket.role === 'leader') {
        const entry = await reread();
        if (entry !== undefined) {
          this.metrics.servedFromPeer++;
          await this.release(ticket.lease);
          return { entry, lease: undefined };
        }
        this.metrics.leads++;
        return { entry: undefined, lease: ticket.lease };
      }
      this.metrics.follows++;
      const outcome = await ticket.wait;
      const entry = await reread();
      if (entry !== undefined) {
        this.metrics.servedFromPeer++;
        return { entry, lease: undefined };
      }
      if (outcome === 'timeout') break;
    }
    this.metrics.localFallbacks++;
    return { entry: undefined, lease: undefined };
  }

  /** Renews `lease` every third of its ttl until the returned function is called, even in the guard's window. */
  keepAlive(lease: LoadLease): () => void {
    return keepRenewing(this.clock, this.renewEvery, () => guardedEvenInBackoff(this.guard, 'load-renew', () => lease.renew(this.leaseTtl)));
  }

  /** Tells the followers the key is filled, then gives the lease up. Never rejects. */
  async finish(lease: LoadLease, filled: boolean): Promise<void> {
    if (filled) {
      try {
        await this.command('load-filled', () => lease.filled());
      } catch {
        // counted by the guard; followers wake on the release or by polling
      }
    }
    await this.release(lease);
  }

  async close(): Promise<void> {
    await this.coordinator.close();
  }

  /** Releases `lease`, even in the guard's back-off window (see `guardedEvenInBackoff`). Never rejects. */
  private async release(lease: LoadLease): Promise<void> {
    try {
      await guardedEvenInBackoff(this.guard, 'load-release', () => lease.release());
    } catch {
      // the lease expires by itself
    }
  }

  private command<T>(operation: string, run: () => T | Promise<T>): Promise<T> {
    return guarded(this.guard, operation, run);
  }
}
