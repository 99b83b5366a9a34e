/**
 * Distributed single-flight (docs/distributed.md, "Distributed single-flight"): a cold key requested
 * concurrently on N processes runs its loader once in the whole cluster. The stack asks the coordinator before
 * it runs a loader after a miss
 * of every layer:
 *
 * - `{ role: 'leader', lease }`: this process loads; the stack renews the lease while the loader runs,
 *   writes the value (with the lease's `version`, so a late, stale leader cannot overwrite a newer value),
 *   calls `lease.filled()` so the waiters wake up, and releases the lease;
 * - `{ role: 'follower', wait }`: a peer is loading; `wait` resolves when the peer announces the key filled
 *   (or released without filling it, or the lease expired: its holder died), then the stack reads the shared
 *   layer again and, if the value is still missing, asks again;
 * - a rejection (Redis down): the stack loads locally, as without a coordinator.
 *
 * A caller that stops waiting for `acquire` (its timeout) keeps the promise and releases the lease if the late
 * answer is `leader`: otherwise that lease would have no holder until its ttl ends.
 */
export interface LoadCoordinator {
  /** True when other processes see the same leases (Redis). */
  readonly shared: boolean;
  /**
   * Takes the load of `key` or learns who has it.
   * @param key the stack's internal key.
   * @param ttlMs lifetime of a lease without renewal (> 0).
   * @param maxWaitMs longest a follower waits before `wait` resolves anyway (> 0).
   * @param versionFloor the lease's `version` is at least this (the caller's write clock, µs; default 0).
   */
  acquire(key: string, ttlMs: number, maxWaitMs: number, versionFloor?: number): Promise<LoadTicket>;
  /**
   * A cheap health check (Redis: PING), resolving when the coordinator answers. While its guard is in the back-off
   * window after a failure, the stack calls it in the background (one at a time, about twice a second, bounded by
   * `layerTimeout`); its first success closes the window. Optional: without it, the first command after the
   * window is the check. 
   */
  probe?(): void | Promise<unknown>;
  /** Stops listening and releases what the coordinator opened itself (never a client passed in). */
  close(): Promise<void>;
}

/** The answer of {@link LoadCoordinator.acquire}. */
export type LoadTicket =
  | { readonly role: 'leader'; readonly lease: LoadLease }
  | {
      readonly role: 'follower';
      /**
       * Resolves when the leader announced the key filled (`'filled'`), gave up (`'released'`: released without
       * filling, or its lease expired), or `maxWaitMs` passed (`'timeout'`). Never rejects.
       */
      readonly wait: Promise<'filled' | 'released' | 'timeout'>;
    };

/** A held load lease. */
export interface LoadLease {
  readonly key: string;
  /**
   * The fencing version of this lease: greater than the version of every lease of the same key granted before
   * it (see the coordinator for the bound it holds under), and at least the `versionFloor` asked for. The stack
   * writes the loaded entry with a version at least this one.
   */
  readonly version: number;
  /** Extends the lease to `ttlMs` from now if still held; false when it was lost. */
  renew(ttlMs: number): Promise<boolean>;
  /** Announces to the waiters that the key now holds a value (after the write). */
  filled(): Promise<void>;
  /** Releases the lease if still held (compare-and-delete); waiters that were not told `filled` retry. */
  release(): Promise<boolean>;
}
