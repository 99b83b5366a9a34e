import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';

/** ttlJitter and calendar ttls on a real Redis: the key's PTTL follows each entry's own deadlines. */
describe('write-time freshness on memory + a real Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));

  function instance(prefix: string, options: CacheStackOptions = {}) {
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], { logger: new RecordingLogger(), ...options });
    stacks.push(stack);
    return stack;
  }

  it('1,000 keys written in one setMany get PTTLs spread within ±10% of the ttl (ttlJitter: 0.1)', async () => {
    const prefix = uniquePrefix('jitter');
    const stack = instance(prefix, { ttl: 100, ttlJitter: 0.1 });
    const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
    const started = Date.now();
    await stack.setMany(keys.map((key) => ({ key, value: key })));
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.pttl(prefix + key);
    const pttls = ((await pipeline.exec()) ?? []).map(([error, ttl]) => {
      if (error !== null) throw error;
      return ttl as number;
    });
    const elapsed = Date.now() - started;
    expect(Math.max(...pttls)).toBeLessThanOrEqual(110_000);
    expect(Math.min(...pttls)).toBeGreaterThanOrEqual(90_000 - elapsed - 1);
    // Spread: they do not expire together. Per one-second bucket, at most 15% of the keys (uniform: ~5%).
    const buckets = new Map<number, number>();
    for (const ttl of pttls) buckets.set(Math.floor(ttl / 1000), (buckets.get(Math.floor(ttl / 1000)) ?? 0) + 1);
    expect(Math.max(...buckets.values())).toBeLessThanOrEqual(150);
    expect(buckets.size).toBeGreaterThanOrEqual(18);
    expect(pttls.filter((ttl) => ttl < 95_000).length).toBeGreaterThan(100);
    expect(pttls.filter((ttl) => ttl > 105_000).length).toBeGreaterThan(100);
  });

  it('the stale windows follow the jittered freshness: PTTL = jittered ttl + staleWhileRevalidate', async () => {
    const prefix = uniquePrefix('jitter-swr');
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const stack = instance(prefix, { clock, ttl: 100, ttlJitter: '20s', staleWhileRevalidate: 50 });
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await stack.setMany(keys.map((key) => ({ key, value: key })));
    for (const key of keys) {
      const { freshUntil } = await stack.getDetailed(key);
      const pttl = await client.pttl(prefix + key);
      const expected = (freshUntil as number) - clock.now() + 50_000;
      expect(pttl).toBeLessThanOrEqual(expected);
      expect(pttl).toBeGreaterThan(expected - 2_000);
    }
  });

  it("a calendar ttl ends at the boundary: the Redis key lives until local midnight (plus its stale window)", async () => {
    const prefix = uniquePrefix('calendar');
    // 10:00 UTC = 19:00 in Tokyo: midnight JST is 5 hours away.
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const stack = instance(prefix, { clock, timeZone: 'Asia/Tokyo' });
    await stack.set('daily', { report: 1 }, { ttl: 'until-midnight', staleIfError: '1h' });
    await stack.set('hourly', { report: 2 }, { ttl: 'next-hour', timeZone: 'Asia/Kathmandu' });
    const daily = await client.pttl(prefix + 'daily');
    expect(daily).toBeLessThanOrEqual(6 * 3_600_000);
    expect(daily).toBeGreaterThan(6 * 3_600_000 - 2_000);
    const hourly = await client.pttl(prefix + 'hourly'); // 10:00 UTC = 15:45 in Kathmandu
    expect(hourly).toBeLessThanOrEqual(15 * 60_000);
    expect(hourly).toBeGreaterThan(15 * 60_000 - 2_000);
  });

  it('two stacks sharing Redis read the same deadlines (jittered and calendar), not recomputed ones', async () => {
    const prefix = uniquePrefix('shared-deadlines');
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const writer = instance(prefix, { clock, ttl: 100, ttlJitter: 0.2 });
    const reader = instance(prefix, { clock, ttl: 100, ttlJitter: 0.2, timeZone: 'UTC' });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await writer.setMany(keys.map((key) => ({ key, value: key })));
    await writer.set('midnight', 'v', { ttl: 'until-midnight', timeZone: 'Pacific/Auckland', ttlJitter: 0 });
    for (const key of [...keys, 'midnight']) {
      const written = await writer.getDetailed(key);
      const read = await reader.getDetailed(key);
      expect(read.status).toBe('hit');
      expect(read.freshUntil).toBe(written.freshUntil);
    }
    const jittered = await Promise.all(keys.map(async (key) => (await reader.getDetailed(key)).freshUntil));
    expect(new Set(jittered).size).toBeGreaterThan(15);
    // 10:00 UTC is 22:00 in Auckland (NZST, +12): midnight there is 12:00 UTC.
    expect(new Date((await reader.getDetailed('midnight')).freshUntil as number).toISOString()).toBe('2026-06-01T12:00:00.000Z');
  });
});
