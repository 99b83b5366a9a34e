/**
 * The shared contract suite of `RevalidationLock`, run against `MemoryRevalidationLock` and
 * `RedisRevalidationLock`: exclusive acquire, owner-only renew and release, takeover after expiry.
 */
import type { RevalidationLock } from '../../lib/core/revalidation-lock.js';

/** What a lock under test brings to {@link describeRevalidationLockContract}. */
export interface RevalidationLockHarness {
  /** A fresh lock: no lease held. */
  readonly lock: RevalidationLock;
  /** A second lock over the same leases (another process's view). */
  readonly peer: RevalidationLock;
  /** Lets `ms` milliseconds pass for the lock (a fake clock's advance, or a real wait for Redis). */
  pass(ms: number): Promise<void>;
  /** A ttl short enough to let pass in a test, long enough not to expire by itself during a few commands. */
  readonly shortTtl: number;
  /** Releases what setup created; called after each test. */
  teardown?(): Promise<void>;
}

/** The semantics of `RevalidationLock` (lib/core/revalidation-lock.ts), run by the spec of every lock. */
export function describeRevalidationLockContract(title: string, setup: () => RevalidationLockHarness | Promise<RevalidationLockHarness>): void {
  describe(`${title} (revalidation lock contract)`, () => {
    let h: RevalidationLockHarness;

    beforeEach(async () => {
      h = await setup();
    });

    afterEach(async () => {
      await h.teardown?.();
    });

    it('grants a free key, then refuses it to everyone else until released', async () => {
      const lease = await h.lock.acquire('k', 10_000);
      expect(lease?.key).toBe('k');
      expect(await h.peer.acquire('k', 10_000)).toBeUndefined();
      expect(await h.lock.acquire('k', 10_000)).toBeUndefined(); // not re-entrant: one lease per key
      expect(await h.peer.acquire('other', 10_000)).toBeDefined(); // keys are independent
      expect(await lease?.release()).toBe(true);
      expect(await h.peer.acquire('k', 10_000)).toBeDefined();
    });

    it('a lease expires after its ttl: a crashed holder blocks the key only that long', async () => {
      const lease = await h.lock.acquire('k', h.shortTtl);
      expect(lease).toBeDefined();
      expect(await h.peer.acquire('k', h.shortTtl)).toBeUndefined();
      await h.pass(h.shortTtl + 50);
      const taken = await h.peer.acquire('k', 10_000);
      expect(taken).toBeDefined();
      // The old holder lost it: it can neither extend nor release the peer's lease.
      expect(await lease?.renew(10_000)).toBe(false);
      expect(await lease?.release()).toBe(false);
      expect(await h.lock.acquire('k', 10_000)).toBeUndefined();
    });

    it('renew extends a held lease past its first ttl', async () => {
      const lease = await h.lock.acquire('k', h.shortTtl);
      await h.pass(h.shortTtl / 2);
      expect(await lease?.renew(h.shortTtl * 4)).toBe(true);
      await h.pass(h.shortTtl);
      expect(await h.peer.acquire('k', 10_000)).toBeUndefined(); // would have expired without the renewal
      expect(await lease?.release()).toBe(true);
    });

    it('release is compare-and-delete: only the owner frees the key, once', async () => {
      const lease = await h.lock.acquire('k', 10_000);
      expect(await lease?.release()).toBe(true);
      const peerLease = await h.peer.acquire('k', 10_000);
      expect(peerLease).toBeDefined();
      expect(await lease?.release()).toBe(false); // a second release must not free the peer's lease
      expect(await h.lock.acquire('k', 10_000)).toBeUndefined();
      expect(await peerLease?.release()).toBe(true);
    });
  });
}
