/**
 * Stale-while-revalidate refreshes a stale entry once per key per **cluster** (docs/distributed.md,
 * "Revalidation lock"). Before a background refresh, the stack asks the lock for a lease on the key:
 *
 * - a lease: this process refreshes; the stack renews the lease every third of its ttl while the loader runs
 *   and releases it when the refresh settles (success or failure);
 * - `undefined`: a peer holds the lease and is refreshing; this process keeps serving the stale value;
 * - a failure (Redis down, timeout): the stack refreshes locally, as without a lock; a cache failure never
 *   stops a refresh.
 *
 * The lease's ttl is the stack's `revalidationTimeout` (default 30 s), not the stale window: a holder that
 * crashes blocks refreshes of that key for at most that long. Releasing and renewing are compare-and-set on
 * the owner: a lease that expired and was taken by a peer is never released or extended by its old holder.
 */
export interface RevalidationLock {
  /** True when other processes see the same leases (Redis); a shared lock is guarded like a shared layer. */
  readonly shared: boolean;
  /**
   * A cheap health check (Redis: PING), resolving when the lock answers. While its guard is in the back-off
   * window after a failure, the stack calls it in the background (one at a time, about twice a second, bounded by
   * `layerTimeout`); its first success closes the window. Optional: without it, the first command after the
   * window is the check. A lock that shares a layer's connection is checked through that layer instead.
   */
  probe?(): void | Promise<unknown>;
  /**
   * Takes the lease on `key` for `ttlMs` milliseconds if nobody holds it.
   * @param key the stack's internal key (namespaced).
   * @param ttlMs lifetime of the lease in milliseconds (> 0), extended by {@link LockLease.renew}.
   * @returns the lease, or `undefined` when another owner holds it; rejects/throws when the lock is unreachable.
   */
  acquire(key: string, ttlMs: number): LockLease | undefined | Promise<LockLease | undefined>;
  /** Releases what the lock opened itself (never a client passed in). */
  close?(): void | Promise<void>;
}

/** A held lease on one key, from {@link RevalidationLock.acquire}. */
export interface LockLease {
  /** The key the lease is on. */
  readonly key: string;
  /**
   * Extends the lease to `ttlMs` milliseconds from now if this owner still holds it.
   * @returns false when the lease was lost (expired, possibly taken by a peer).
   */
  renew(ttlMs: number): boolean | Promise<boolean>;
  /**
   * Gives the lease up if this owner still holds it (compare-and-delete).
   * @returns false when the lease was already lost.
   */
  release(): boolean | Promise<boolean>;
}
