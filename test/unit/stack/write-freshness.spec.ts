import { jest } from '@jest/globals';
import { nextBoundary, processTimeZone } from '../../../lib/core/calendar-boundary.js';
import { InvalidOptionError } from '../../../lib/core/errors.js';
import { BurstLogger } from '../../../lib/core/logger.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { basePolicy, resolvePolicy, type CacheEntryOptions } from '../../../lib/stack/cache-stack.options.js';
import { EntryFactory } from '../../../lib/stack/entry-builder.js';
import { FakeClock } from '../../support/fake-clock.js';
import { prng } from '../../support/prng.js';
import { buildStack, RecordingLogger } from '../../support/stack-builder.js';

const BASE = basePolicy(60_000);

/** An entry factory on a fake clock and a seeded random source. */
function factory(seed = 42) {
  const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
  const logger = new RecordingLogger();
  return { clock, logger, entries: new EntryFactory(clock, new BurstLogger(logger), undefined, prng(seed)) };
}

function ttlsOf(options: CacheEntryOptions, count: number, value: unknown = 'v') {
  const { clock, entries } = factory();
  const policy = resolvePolicy(options, BASE);
  return Array.from({ length: count }, (_, i) => {
    const entry = entries.build(`k${i}`, `k${i}`, value, policy, undefined, 1);
    if (entry === undefined) throw new Error('not built');
    return entry.freshUntil - clock.now();
  });
}

describe('ttlJitter', () => {
  it('a fraction spreads each write uniformly within ±that share of the ttl', () => {
    const ttls = ttlsOf({ ttl: 100, ttlJitter: 0.1 }, 2_000);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(110_000);
    // Spread over the whole range: both tenths at the ends are reached, and hardly two writes share a ttl.
    expect(ttls.some((t) => t < 92_000)).toBe(true);
    expect(ttls.some((t) => t > 108_000)).toBe(true);
    expect(new Set(ttls).size).toBeGreaterThan(1_800); // ~1,906 expected of 2,000 draws among 20,001 values
    const mean = ttls.reduce((a, b) => a + b, 0) / ttls.length;
    expect(Math.abs(mean - 100_000)).toBeLessThan(500);
  });

  it('a duration spreads within ± that much, whatever the ttl', () => {
    const ttls = ttlsOf({ ttl: 100, ttlJitter: '5s' }, 1_000);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(95_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(105_000);
    expect(ttls.some((t) => t < 96_000) && ttls.some((t) => t > 104_000)).toBe(true);
  });

  it('never gives a ttl below 0, and a ttl of 0 stays 0', () => {
    expect(Math.min(...ttlsOf({ ttl: '2s', ttlJitter: '10s' }, 500))).toBe(0);
    expect(ttlsOf({ ttl: 0, ttlJitter: '10s' }, 50).every((t) => t === 0)).toBe(true);
  });

  it('the stale windows count from the jittered freshness, so the physical expiry follows it', () => {
    const { clock, entries } = factory(7);
    const policy = resolvePolicy({ ttl: 100, ttlJitter: 0.2, staleWhileRevalidate: 30, staleIfError: 60 }, BASE);
    const built = Array.from({ length: 200 }, (_, i) => entries.build(`k${i}`, `k${i}`, 'v', policy, undefined, 1)!);
    for (const entry of built) {
      expect(entry.staleUntil - entry.freshUntil).toBe(30_000);
      expect(entry.errorUntil - entry.freshUntil).toBe(60_000);
    }
    expect(new Set(built.map((e) => e.errorUntil - clock.now())).size).toBeGreaterThan(150);
  });

  it('applies to negativeTtl writes too', () => {
    const ttls = ttlsOf({ ttl: 100, negativeTtl: 10, ttlJitter: 0.5 }, 500, null);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(5_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(15_000);
    expect(new Set(ttls).size).toBeGreaterThan(400);
  });

  it('is resolved from the stack and turned off per call with 0', async () => {
    const clock = new FakeClock();
    const { stack } = buildStack([new MemoryLayer()], { ttl: 100, ttlJitter: 0.3, clock });
    const freshUntil = async (key: string, options?: CacheEntryOptions) =>
      (await stack.getDetailed(key, () => 'v', options)).freshUntil! - clock.now();
    const jittered = await Promise.all(Array.from({ length: 100 }, (_, i) => freshUntil(`j${i}`)));
    expect(new Set(jittered).size).toBeGreaterThan(50);
    expect(jittered.every((t) => t >= 70_000 && t <= 130_000)).toBe(true);
    const off = { ttlJitter: 0 };
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => freshUntil(`o${i}`, off)))).toEqual(Array(20).fill(100_000));
  });

  it.each([
    [1, /fraction of the ttl in \[0, 1\).*write '1s'/],
    [5, /for ±5 seconds write '5s'/],
    [-0.1, /fraction of the ttl/],
    [Number.NaN, /fraction of the ttl/],
    ['5x', /ttlJitter/], // a string is a duration ('5': 5 s, test/unit/configuration.spec.ts)
    ['-5s', /ttlJitter/],
    [{}, /ttlJitter/],
  ])('rejects ttlJitter %p with an InvalidOptionError naming it', (value, message) => {
    const resolve = () => resolvePolicy({ ttlJitter: value as number }, BASE);
    expect(resolve).toThrow(InvalidOptionError);
    expect(resolve).toThrow(/Invalid option "ttlJitter"/);
    expect(resolve).toThrow(message);
  });
});

describe('calendar ttls', () => {
  it("'until-midnight' ends freshness at the next local midnight of timeZone, stale windows after it", () => {
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const { stack } = buildStack([new MemoryLayer()], { clock });
    return (async () => {
      await stack.set('tokyo', 'v', { ttl: 'until-midnight', timeZone: 'Asia/Tokyo', staleWhileRevalidate: 60 });
      const read = await stack.getDetailed('tokyo');
      expect(new Date(read.freshUntil!).toISOString()).toBe('2026-06-01T15:00:00.000Z'); // 00:00 JST
      await clock.advance(5 * 3_600_000 - 1);
      expect((await stack.getDetailed('tokyo')).status).toBe('hit');
      await clock.advance(1);
      expect((await stack.getDetailed('tokyo')).status).toBe('stale');
      await clock.advance(60_000);
      expect(await stack.get('tokyo')).toBeUndefined();
    })();
  });

  it("'next-hour' in a :45 zone; a call's calendar ttl uses the stack's timeZone", async () => {
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const { stack } = buildStack([new MemoryLayer()], { clock, timeZone: 'Asia/Kathmandu' });
    await stack.set('k', 'v', { ttl: 'next-hour' });
    expect(new Date((await stack.getDetailed('k')).freshUntil!).toISOString()).toBe('2026-06-01T10:15:00.000Z');
    await stack.set('utc', 'v', { ttl: 'next-hour', timeZone: 'UTC' });
    expect(new Date((await stack.getDetailed('utc')).freshUntil!).toISOString()).toBe('2026-06-01T11:00:00.000Z');
  });

  it("a stack's calendar ttl is re-targeted by a call's timeZone alone, and replaced by a call's fixed ttl", async () => {
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const { stack } = buildStack([new MemoryLayer()], { clock, ttl: 'until-midnight' });
    await stack.set('local', 'v');
    await stack.set('kolkata', 'v', { timeZone: 'Asia/Kolkata' });
    await stack.set('fixed', 'v', { ttl: 30 });
    const freshUntil = async (key: string) => new Date((await stack.getDetailed(key)).freshUntil!).toISOString();
    // No timeZone anywhere: the process's.
    expect(await freshUntil('local')).toBe(new Date(nextBoundary(clock.now(), processTimeZone(), 'day')).toISOString());
    expect(await freshUntil('kolkata')).toBe('2026-06-01T18:30:00.000Z');
    expect(await freshUntil('fixed')).toBe('2026-06-01T10:00:30.000Z');
  });

  it('each write computes its own boundary as the clock moves on', async () => {
    const clock = new FakeClock(Date.parse('2026-06-01T10:59:59.000Z'));
    const { stack } = buildStack([new MemoryLayer()], { clock, timeZone: 'UTC' });
    await stack.set('a', 'v', { ttl: 'next-hour' });
    await clock.advance(1_000);
    await stack.set('b', 'v', { ttl: 'next-hour' });
    expect((await stack.getDetailed('a')).status).toBe('miss');
    expect(new Date((await stack.getDetailed('b')).freshUntil!).toISOString()).toBe('2026-06-01T12:00:00.000Z');
  });

  it('rejects an unknown timeZone eagerly, naming it', () => {
    expect(() => resolvePolicy({ timeZone: 'Mars/Olympus' }, BASE)).toThrow(/Invalid option "timeZone": unknown time zone "Mars\/Olympus"/);
    expect(() => buildStack([new MemoryLayer()], { timeZone: 'Europe/Nowhere' })).toThrow(InvalidOptionError);
    expect(() => resolvePolicy({ ttl: 'tomorrow' as never }, BASE)).toThrow(/Invalid option "ttl".*'until-midnight', 'next-hour'/);
  });
});

describe('ttl functions', () => {
  it('are called at each write with the value and the key as the caller wrote it (no namespace)', async () => {
    const clock = new FakeClock();
    const { stack } = buildStack([new MemoryLayer()], { clock });
    const ttl = jest.fn((value: { plan: string }, _key: string) => (value.plan === 'pro' ? '1h' : 60));
    const users = stack.namespace('users');
    await users.set('u:1', { plan: 'pro' }, { ttl });
    expect(await users.get('u:2', () => ({ plan: 'free' }), { ttl })).toEqual({ plan: 'free' });
    expect(ttl.mock.calls).toEqual([
      [{ plan: 'pro' }, 'u:1'],
      [{ plan: 'free' }, 'u:2'],
    ]);
    expect((await users.getDetailed('u:1')).freshUntil).toBe(clock.now() + 3_600_000);
    expect((await users.getDetailed('u:2')).freshUntil).toBe(clock.now() + 60_000);
  });

  it.each([
    ['throws', () => { throw new Error('no ttl for you'); }, /no ttl for you/],
    ['returns a non-duration', () => 'soon', /the ttl function returned "soon" for key "k"/],
    ['returns a negative number', () => -1, /ttl/],
    ['returns a calendar ttl', () => 'until-midnight', /returned "until-midnight"/],
  ])('that %s: the value is handed to the caller, not cached, and one warning is logged', async (_what, fn, message) => {
    const { stack, logger } = buildStack([new MemoryLayer()]);
    const loader = jest.fn(() => 'v');
    const options = { ttl: fn as () => number };
    expect(await stack.get('k', loader, options)).toBe('v');
    expect(await stack.get('k', loader, options)).toBe('v');
    expect(loader).toHaveBeenCalledTimes(2);
    await expect(stack.set('k', 'w', options)).resolves.toBeUndefined();
    expect(await stack.get('k')).toBeUndefined();
    expect(logger.lines).toHaveLength(3); // one per write, each naming the key and the cause
    expect(logger.lines[0]?.message).toMatch(/Not caching "k"/);
    expect(logger.lines[0]?.message).toMatch(message);
  });

  it('combine with jitter', () => {
    const ttls = ttlsOf({ ttl: () => 100, ttlJitter: 0.1 }, 300);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(110_000);
    expect(new Set(ttls).size).toBeGreaterThan(250);
  });
});
