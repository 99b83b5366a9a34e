import { MemoryRevalidationLock } from '../../lib/core/memory-revalidation.lock.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeRevalidationLockContract } from '../support/revalidation-lock-contract.js';

describeRevalidationLockContract('MemoryRevalidationLock', () => {
  const clock = new FakeClock();
  const lock = new MemoryRevalidationLock({ clock });
  // In process, "another process" is another caller of the same lock.
  return { lock, peer: lock, pass: (ms) => clock.advance(ms), shortTtl: 1_000 };
});

describe('MemoryRevalidationLock', () => {
  it('is not shared and reports live leases', async () => {
    const clock = new FakeClock();
    const lock = new MemoryRevalidationLock({ clock });
    expect(lock.shared).toBe(false);
    lock.acquire('k', 100);
    expect(lock.isHeld('k')).toBe(true);
    await clock.advance(100);
    expect(lock.isHeld('k')).toBe(false);
  });
});
