/**
 * The in-process `RevalidationLock`: leases in a map with their expiry on the injected clock, for several stacks
 * of one process that share their data. Hard part: an expired lease is taken over, and only its owner renews or
 * releases it.
 */
import { systemClock, type Clock } from './clock.js';
import { checkOptionKeys } from './option-keys.js';
import type { LockLease, RevalidationLock } from './revalidation-lock.js';

/** Options of {@link MemoryRevalidationLock}. */
export interface MemoryRevalidationLockOptions {
  /** Time source of the leases' expiry. @default the system clock */
  clock?: Clock;
}

/**
 * An in-process revalidation lock: a map of leases with their expiry (ms on `clock`). A stack does not need
 * one — its in-process single-flight already refreshes a key once per process, so memory-only stacks run
 * without a lock. Pass one as `revalidationLock` to several stacks of one process that share their data
 * (e.g. over one shared layer without a lock of its own) to refresh a key once among them.
 */
export class MemoryRevalidationLock implements RevalidationLock {
  readonly shared = false;
  private readonly clock: Clock;
  private readonly leases = new Map<string, { owner: object; until: number }>();

  constructor(options: MemoryRevalidationLockOptions = {}) {
    if (options !== null && typeof options === 'object') checkOptionKeys(options, ['clock'], { at: 'MemoryRevalidationLock' });
    this.clock = options.clock ?? systemClock;
  }

  acquire(key: string, ttlMs: number): LockLease | undefined {
    const now = this.clock.now();
    const held = this.leases.get(key);
    if (held !== undefined && held.until > now) return undefined;
    const owner = {};
    this.leases.set(key, { owner, until: now + ttlMs });
    const owns = (): boolean => {
      const current = this.leases.get(key);
      return current !== undefined && current.owner === owner && current.until > this.clock.now();
    };
    return {
      key,
      renew: (renewTtlMs: number) => {
        if (!owns()) return false;
        this.leases.set(key, { owner, until: this.clock.now() + renewTtlMs });
        return true;
      },
      release: () => {
        if (!owns()) return false;
        this.leases.delete(key);
        return true;
      },
    };
  }

  /** Whether a live lease is held on `key`. */
  isHeld(key: string): boolean {
    const held = this.leases.get(key);
    return held !== undefined && held.until > this.clock.now();
  }
}
