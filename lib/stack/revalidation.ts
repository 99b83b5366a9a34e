/**
 * Once-per-cluster stale-while-revalidate (docs/distributed.md, "Revalidation lock"): `LoadRunner.revalidate()`
 * hands a background refresh to a `RevalidationCoordinator` when the stack has a `RevalidationLock`.
 *
 * 1. While the lease is being acquired, the key is `pending` here: further stale reads of it in this process
 *    start nothing (the in-process single-flight covers the refresh itself once it runs).
 * 2. Lease taken: the refresh starts (unless a load of the key started meanwhile or the key was invalidated:
 *    then the lease is released at once; a refresh whose lease arrives after `close()` began is started and
 *    aborted at once, as `close()` aborts every running refresh). A timer on the stack's clock renews the lease
 *    every third of `revalidationTimeout` until the refresh settles; then the lease is released
 *    (compare-and-delete), on success and on failure alike.
 * 3. A peer holds the lease: nothing runs here, `refreshesSkipped` counts it; the stale value keeps being
 *    served until the peer's result reaches the shared layer (or the lease expires and a stale read here
 *    takes it).
 * 4. The lock fails (Redis down or slow, or in its back-off window): the refresh runs locally, as without a
 *    lock. A cache failure never stops a refresh; at worst each process refreshes once.
 * 5. The acquire times out (Redis paused, or an event loop stalled by a burst of work) but Redis runs it later and
 *    grants the lease: nobody here holds it, and every peer would skip refreshing the key until
 *    `revalidationTimeout` ends. So the attempt is kept, and a lease it yields late is released at once.
 * Renewals and releases go out even while the lock's guard is in its back-off window (bounded by the layer
 * timeout, see `LayerGuard.runEvenIfOpen`): a window opened by other keys' failures must not strand a held lease.
 * Those that fail are counted by the guard and otherwise ignored: the lease expires by itself after
 * `revalidationTimeout`.
 */
import type { Clock } from '../core/clock.js';
import type { StackMetrics } from '../core/metrics.js';
import type { LockLease, RevalidationLock } from '../core/revalidation-lock.js';
import type { LayerGuard } from './layer-guard.js';
import { guarded, guardedEvenInBackoff, keepRenewing } from './lease-keeper.js';

/** What `acquire` yields when the lock could not be asked: refresh without a lease. */
const LOCAL: unique symbol = Symbol('nestjs-layercache:local-refresh');

/** Runs background refreshes under a {@link RevalidationLock}. */
export class RevalidationCoordinator {
  /** Keys whose lease is being acquired, with whether they were invalidated meanwhile. */
  private readonly acquiring = new Map<string, { invalidated: boolean }>();
  private readonly renewEvery: number;

  constructor(
    private readonly lock: RevalidationLock,
    /** The guard of the lock's commands (its layer's, or its own for a shared lock), `undefined` for a local lock. */
    private readonly guard: LayerGuard | undefined,
    /** The lease ttl in ms (`revalidationTimeout`). */
    private readonly ttl: number,
    private readonly clock: Clock,
    private readonly metrics: StackMetrics,
  ) {
    this.renewEvery = Math.max(1, Math.floor(ttl / 3));
  }

  /** Whether the lease of `key` is being acquired (a refresh of it is about to start or be skipped). */
  pending(key: string): boolean {
    return this.acquiring.size > 0 && this.acquiring.has(key);
  }

  /**
   * Acquires the lease of `key`, then calls `start`, which starts the refresh and returns its settled
   * promise, or `undefined` when it does not start one (a load of the key runs already). Never rejects.
   */
  async revalidate(key: string, start: () => Promise<void> | undefined): Promise<void> {
    const ticket = { invalidated: false };
    this.acquiring.set(key, ticket);
    let lease: LockLease | typeof LOCAL | undefined;
    let attempt: Promise<LockLease | undefined> | undefined;
    try {
      lease = await this.command('lock-acquire', () => (attempt = Promise.resolve(this.lock.acquire(key, this.ttl))));
    } catch {
      lease = LOCAL; // counted and logged by the guard; refresh locally
      // A timed-out acquire may still be granted: give that lease back at once (point 5).
      attempt?.then((late) => (late === undefined ? undefined : late.release())).catch(() => undefined);
    } finally {
      if (this.acquiring.get(key) === ticket) this.acquiring.delete(key);
    }
    if (lease === undefined) {
      this.metrics.refreshesSkipped++;
      return;
    }
    const refresh = ticket.invalidated ? undefined : start();
    if (lease === LOCAL) {
      await refresh;
      return;
    }
    if (refresh === undefined) {
      await this.release(lease);
      return;
    }
    const stop = this.keepAlive(lease);
    try {
      await refresh;
    } finally {
      stop();
      await this.release(lease);
    }
  }

  /** Keys deleted, overwritten or cleared: a refresh whose lease is being acquired will not start. */
  invalidate(keys: readonly string[]): void {
    if (this.acquiring.size === 0) return;
    for (const key of keys) {
      const ticket = this.acquiring.get(key);
      if (ticket !== undefined) ticket.invalidated = true;
    }
  }

  /** Like {@link invalidate} for every key starting with `prefix` (all when `undefined`). */
  invalidatePrefix(prefix: string | undefined): void {
    for (const [key, ticket] of this.acquiring) if (prefix === undefined || key.startsWith(prefix)) ticket.invalidated = true;
  }

  /** Closes the lock (a lock from a layer or given by the user may hold resources of its own). */
  async close(): Promise<void> {
    await this.lock.close?.();
  }

  /** Renews `lease` every third of its ttl until the returned function is called. */
  private keepAlive(lease: LockLease): () => void {
    return keepRenewing(this.clock, this.renewEvery, () =>
      guardedEvenInBackoff(this.guard, 'lock-renew', () => lease.renew(this.ttl)),
    );
  }

  private async release(lease: LockLease): Promise<void> {
    try {
      await guardedEvenInBackoff(this.guard, 'lock-release', () => lease.release());
    } catch {
      // counted by the guard; the lease expires by itself
    }
  }

  private command<T>(operation: string, run: () => T | Promise<T>): Promise<T> {
    return guarded(this.guard, operation, run);
  }
}
