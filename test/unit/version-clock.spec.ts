/**
 * VersionClock's bound on observed versions (fake clock): a version beyond the wall clock + the skew bound is
 * never adopted, so a forged 2^53−1 (from the bus or planted in Redis) cannot freeze the clock.
 */
import { MAX_CLOCK_SKEW_MS, VersionClock } from '../../lib/core/version-clock.js';
import { FakeClock } from '../support/fake-clock.js';

describe('VersionClock', () => {
  it('ignores a version of 2^53−1: next() keeps producing distinct, increasing versions', () => {
    const clock = new FakeClock();
    const versions = new VersionClock(clock);
    versions.observe(Number.MAX_SAFE_INTEGER);
    const first = versions.next();
    const second = versions.next();
    expect(first).toBe(clock.now() * 1000);
    expect(second).toBeGreaterThan(first);
    expect(Number.isSafeInteger(second)).toBe(true);
  });

  it('adopts a version ahead within the skew bound, not one beyond it', async () => {
    const clock = new FakeClock();
    const versions = new VersionClock(clock);
    const bound = (clock.now() + MAX_CLOCK_SKEW_MS) * 1000;
    versions.observe(bound + 1);
    expect(versions.next()).toBe(clock.now() * 1000);
    versions.observe(bound);
    expect(versions.next()).toBe(bound + 1);
    await clock.advance(2 * MAX_CLOCK_SKEW_MS);
    expect(versions.next()).toBe(clock.now() * 1000); // the wall clock caught up
  });
});
