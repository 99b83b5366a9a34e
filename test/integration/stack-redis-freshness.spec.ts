import { jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';

/**
 * Two "processes" (each its own L1) on one Redis prefix and one injected clock: the entries' deadlines follow the
 * fake clock, Redis's own expiry (PX / PEXPIRE) real time, so a test over minutes of fake time takes milliseconds and
 * the key's PTTL shows what the extension asked Redis for.
 */
describe('sliding and adaptive ttls across instances on a real Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));

  function instance(prefix: string, clock: FakeClock, options: CacheStackOptions = {}) {
    const l1 = new MemoryLayer();
    const l2 = new RedisLayer({ client, prefix });
    const stack = new CacheStack([l1, l2], { logger: new RecordingLogger(), clock, ...options });
    stacks.push(stack);
    return { stack, l1, l2 };
  }

  it("a key read by A every half ttl stays fresh for B after 5 ttls: A's reads extend the Redis copy and its PTTL", async () => {
    const prefix = uniquePrefix('slide');
    const clock = new FakeClock();
    const options = { slidingTtl: true, ttl: 60 };
    const a = instance(prefix, clock, options);
    await a.stack.set('k', 'v');
    for (let i = 0; i < 10; i++) {
      await clock.advance(30_000);
      expect(await a.stack.get('k')).toBe('v');
      await a.stack.idle();
    }
    const stored = await a.l2.get('k');
    expect(stored?.freshUntil).toBe(clock.now() + 60_000);
    // Redis was asked to keep the key one ttl from the last extension (real ms), not one ttl from the write.
    const pttl = await client.pttl(`${prefix}k`);
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const b = instance(prefix, clock, options);
    const loader = jest.fn(() => 'reloaded');
    expect(await b.stack.get('k', loader)).toBe('v');
    expect(loader).not.toHaveBeenCalled();
    // B's reads keep it alive for A too (A's L1 copy dropped: it reads Redis).
    await clock.advance(40_000);
    expect(await b.stack.get('k', loader)).toBe('v');
    await b.stack.idle();
    a.l1.delete(['k']);
    await clock.advance(40_000);
    expect(await a.stack.get('k', loader)).toBe('v');
    expect(loader).not.toHaveBeenCalled();
  });

  it('the extension never overwrites a write that landed in Redis after the read (version check in the script)', async () => {
    const prefix = uniquePrefix('slide-race');
    const clock = new FakeClock();
    const a = instance(prefix, clock, { slidingTtl: true, ttl: 60 });
    const b = instance(prefix, clock, { slidingTtl: true, ttl: 60 });
    await a.stack.set('k', 'v1');
    await clock.advance(10_000);
    expect(await b.stack.get('k')).toBe('v1'); // B holds v1 in its L1
    await a.stack.set('k', 'v2', { ttl: 30 }); // a newer write, fresh for less than v1 extended
    await clock.advance(7_000);
    expect(await b.stack.get('k')).toBe('v1'); // B's L1 copy slides (60 s from now); its extension of Redis is refused
    await b.stack.idle();
    expect(await a.l2.get('k')).toMatchObject({ value: 'v2', freshUntil: clock.now() + 23_000 });
    expect(await client.pttl(`${prefix}k`)).toBeLessThanOrEqual(30_000);
  });

  it("an adaptive level raised by A is in the Redis entry's metadata B reads,, fresh past the base ttl", async () => {
    const prefix = uniquePrefix('adaptive');
    const clock = new FakeClock();
    const options = { ttl: 10, adaptiveTtl: { max: 60, hits: 3, step: 20 } };
    const a = instance(prefix, clock, options);
    const b = instance(prefix, clock, options);
    await a.stack.set('k', 'v');
    const createdAt = clock.now();
    await clock.advance(1_000);
    for (let i = 0; i < 3; i++) await a.stack.get('k');
    await a.stack.idle();
    expect(await b.stack.get('k')).toBe('v');
    expect(b.l1.get('k')).toMatchObject({ freshUntil: createdAt + 30_000, freshness: { ttl: 30_000, adaptive: { base: 10_000, max: 60_000 } } });
    expect(await client.pttl(`${prefix}k`)).toBeGreaterThan(25_000);
    // Past the base ttl, B still reads it fresh from Redis.
    b.l1.delete(['k']);
    await clock.advance(15_000);
    const loader = jest.fn(() => 'reloaded');
    expect(await b.stack.get('k', loader)).toBe('v');
    expect(loader).not.toHaveBeenCalled();
  });
});
