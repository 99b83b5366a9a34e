/**
 * The replay window of signed pub/sub messages (lib/distributed/message-signing.ts) on the fake clock: a stamp
 * is accepted once inside the window, a nonce never twice, and the nonce memory stays bounded without letting
 * a forgotten nonce through again.
 */
import { hmac, newStamp, readStamp, ReplayGuard, STAMP_BYTES, verifyHmac, type MessageStamp } from '../../lib/redis/message-signing.js';
import { FakeClock } from '../support/fake-clock.js';

const WINDOW = 30_000;
let nonces = 0;
const stampAt = (timestampMs: number, nonce = `n${++nonces}`): MessageStamp => ({ timestampMs, nonce });

describe('stamps', () => {
  it('carry the clock\'s milliseconds and 8 random bytes, and read back', () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 3, 18));
    const first = newStamp(clock);
    const second = newStamp(clock);
    expect(first).toHaveLength(STAMP_BYTES);
    expect(readStamp(first).timestampMs).toBe(Date.UTC(2026, 11, 3, 18));
    expect(readStamp(first).nonce).not.toBe(readStamp(second).nonce);
    expect(readStamp(Buffer.concat([Buffer.from('xx'), first]).subarray(2)).timestampMs).toBe(clock.now()); // at an offset
  });

  it('HMAC verification is bound to every part', () => {
    const key = Buffer.from('k');
    const signature = hmac(key, 'a', Buffer.from('b'));
    expect(verifyHmac(key, signature, 'a', 'b')).toBe(true);
    expect(verifyHmac(key, signature, 'a', 'c')).toBe(false);
    expect(verifyHmac(Buffer.from('other'), signature, 'a', 'b')).toBe(false);
    expect(verifyHmac(key, signature.subarray(1), 'a', 'b')).toBe(false);
  });
});

describe('ReplayGuard', () => {
  it('accepts a fresh stamp once; the same nonce again inside the window is a replay', () => {
    const clock = new FakeClock();
    const guard = new ReplayGuard(clock, WINDOW);
    const stamp = stampAt(clock.now());
    expect(guard.check(stamp)).toBeUndefined();
    expect(guard.check(stamp)).toMatch(/a replay/);
    expect(guard.check({ ...stamp })).toMatch(/a replay/);
    expect(guard.stats()).toEqual({ outsideWindow: 0, replayed: 2 });
  });

  it('refuses stamps older than the window, or further ahead than the window (the sender\'s clock skew)', () => {
    const clock = new FakeClock();
    const guard = new ReplayGuard(clock, WINDOW);
    expect(guard.check(stampAt(clock.now() - WINDOW))).toBeUndefined(); // at the edge
    expect(guard.check(stampAt(clock.now() - WINDOW - 1))).toMatch(/outside the replay window/);
    expect(guard.check(stampAt(clock.now() + WINDOW))).toBeUndefined();
    expect(guard.check(stampAt(clock.now() + WINDOW + 1))).toMatch(/ahead of this clock/);
    expect(guard.stats()).toEqual({ outsideWindow: 2, replayed: 0 });
  });

  it('a captured message replayed after the window has passed is refused as too old, and its nonce is forgotten', async () => {
    const clock = new FakeClock();
    const guard = new ReplayGuard(clock, WINDOW);
    const captured = stampAt(clock.now());
    expect(guard.check(captured)).toBeUndefined();
    await clock.advance(WINDOW + 1);
    expect(guard.check(captured)).toMatch(/outside the replay window/);
    expect(guard.size).toBe(0);
  });

  it('keeps at most maxNonces; a forgotten nonce is still refused (the floor rises with it), newer stamps pass', async () => {
    const clock = new FakeClock();
    const guard = new ReplayGuard(clock, WINDOW, 3);
    const stamps = [0, 1, 2, 3, 4].map((i) => stampAt(clock.now() + i));
    for (const stamp of stamps) expect(guard.check(stamp)).toBeUndefined();
    expect(guard.size).toBe(3);
    expect(guard.check(stamps[0] as MessageStamp)).toMatch(/narrowed by a flood/); // evicted, but not let through
    expect(guard.check(stamps[1] as MessageStamp)).toMatch(/narrowed by a flood/);
    expect(guard.check(stamps[4] as MessageStamp)).toMatch(/a replay/);
    expect(guard.check(stampAt(clock.now() + 5))).toBeUndefined();
    expect(guard.size).toBe(3);
  });

  it('a clock stepping back does not let an aged-out nonce through again', async () => {
    let now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const guard = new ReplayGuard(clock, WINDOW);
    const captured = stampAt(now);
    expect(guard.check(captured)).toBeUndefined();
    now += WINDOW + 1;
    expect(guard.check(stampAt(now))).toBeUndefined(); // ages the captured nonce out
    now -= 10_000; // NTP steps the clock back: the captured stamp is inside the window again
    expect(guard.check(captured)).toMatch(/outside the replay window/);
  });
});
