/**
 * `maxLifetime` on a real Redis (docs/freshness.md, "Maximum lifetime"): the Redis copy of an entry is written with
 * capped deadlines and a PX that follows them; sliding extensions sent to Redis (the touch script) stop at
 * createdAt + maxLifetime, stale windows included, so another instance reading Redis sees the same capped entry.
 * Entry deadlines follow the fake clock, Redis's own expiry real time (as in stack-redis-freshness.spec.ts).
 */
import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';

const DAY = 86_400_000;

describe('maxLifetime on a real Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));

  function instance(prefix: string, clock: FakeClock, options: CacheStackOptions = {}) {
    const l1 = new MemoryLayer();
    const l2 = new RedisLayer({ client, prefix });
    const logger = new RecordingLogger();
    const stack = new CacheStack([l1, l2], { logger, clock, ...options });
    stacks.push(stack);
    return { stack, l1, l2, logger };
  }

  it('a 30-day entry is stored in Redis for 7 days (the default), its deadlines capped, and warned of once', async () => {
    const prefix = uniquePrefix('lifetime');
    const clock = new FakeClock();
    const a = instance(prefix, clock);
    await a.stack.set('k', 'v', { ttl: '30d', staleWhileRevalidate: '1d' });
    const createdAt = clock.now();
    expect(await a.l2.get('k')).toMatchObject({ createdAt, freshUntil: createdAt + 7 * DAY, staleUntil: createdAt + 7 * DAY, errorUntil: createdAt + 7 * DAY });
    const pttl = await client.pttl(`${prefix}k`);
    expect(pttl).toBeGreaterThan(7 * DAY - 60_000);
    expect(pttl).toBeLessThanOrEqual(7 * DAY);
    expect(a.logger.lines.filter((line) => line.message.startsWith('maxLifetime:'))).toHaveLength(1);
  });

  it("sliding reads extend the Redis copy up to createdAt + maxLifetime, stale window included; the key's PTTL follows", async () => {
    const prefix = uniquePrefix('lifetime-slide');
    const clock = new FakeClock();
    const options = { slidingTtl: true, ttl: 60, staleWhileRevalidate: 60, maxLifetime: 150 };
    const a = instance(prefix, clock, options);
    await a.stack.set('k', 'v');
    const createdAt = clock.now();
    await clock.advance(50_000);
    expect(await a.stack.get('k')).toBe('v'); // fresh until 110 s, stale until 170 s: capped at 150 s
    await a.stack.idle();
    expect(await a.l2.get('k')).toMatchObject({ freshUntil: createdAt + 110_000, staleUntil: createdAt + 150_000 });
    await clock.advance(50_000);
    expect(await a.stack.get('k')).toBe('v'); // fresh until 160 s without the cap
    await a.stack.idle();
    expect(await a.l2.get('k')).toMatchObject({ freshUntil: createdAt + 150_000, staleUntil: createdAt + 150_000, errorUntil: createdAt + 150_000 });
    // Redis keeps it for what is left of its lifetime (50 s), not a ttl + the stale window (120 s) from now.
    const pttl = await client.pttl(`${prefix}k`);
    expect(pttl).toBeGreaterThan(45_000);
    expect(pttl).toBeLessThanOrEqual(50_000);
    // Another instance reads the capped copy from Redis, and cannot extend it further either.
    const b = instance(prefix, clock, options);
    await clock.advance(40_000);
    expect(await b.stack.get('k')).toBe('v');
    await b.stack.idle();
    expect(b.l1.get('k')).toMatchObject({ freshUntil: createdAt + 150_000 });
    expect(await a.l2.get('k')).toMatchObject({ freshUntil: createdAt + 150_000 });
    await clock.advance(10_000);
    expect(await b.stack.get('k')).toBeUndefined();
  });
});
