import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { FakeClock } from '../support/fake-clock.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';

/**
 * `ttl(key)` / `inspect(key)` across layers on a real Redis: two "processes" (each its own L1) share one prefix and
 * one tag store; what one wrote, the other inspects from Redis, without backfilling its L1 or counting a read.
 */
describe('CacheStack.ttl and inspect on a real Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));

  function instance(prefix: string, clock: FakeClock) {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix })], {
      logger: new RecordingLogger(),
      clock,
      tagStore: new RedisTagStore({ client, prefix }),
    });
    stacks.push(stack);
    return { stack, l1 };
  }

  it("reads a peer's entry from Redis (L1 then L2) with its windows, tags and version, backfilling nothing", async () => {
    const prefix = uniquePrefix('inspect');
    const clock = new FakeClock();
    const a = instance(prefix, clock);
    const b = instance(prefix, clock);
    await a.stack.set('user:1', { name: 'Ada' }, { ttl: 30, staleWhileRevalidate: 10, tags: ['users'] });
    const fromA = await a.stack.inspect('user:1');
    expect(fromA).toMatchObject({ state: 'fresh', layer: 'memory', remaining: { fresh: 30, stale: 40 }, tags: ['users'] });

    await clock.advance(12_000);
    const before = b.stack.getMetrics();
    const fromB = await b.stack.inspect('user:1');
    expect(fromB).toMatchObject({ state: 'fresh', layer: 'redis', remaining: { fresh: 18, stale: 28, error: 18 }, tags: ['users'] });
    expect(fromB.version).toBe(fromA.version);
    expect(fromB.createdAt).toBe(fromA.createdAt);
    expect(await b.stack.ttl('user:1')).toBe(18);
    const after = b.stack.getMetrics();
    expect([after.stack.hits, after.stack.misses, after.layers['redis']?.hits, after.layers['memory']?.misses]).toEqual([
      before.stack.hits,
      before.stack.misses,
      before.layers['redis']?.hits,
      before.layers['memory']?.misses,
    ]);
    expect(b.l1.get('user:1')).toBeUndefined(); // no backfill...
    await b.stack.get('user:1');
    expect(b.l1.get('user:1')).toBeDefined(); // ...where a read backfills
    expect(await b.stack.inspect('user:1')).toMatchObject({ state: 'fresh', layer: 'memory', remaining: { fresh: 18 } });

    await clock.advance(20_000); // 32 s: stale in both
    expect(await b.stack.inspect('user:1')).toMatchObject({ state: 'stale', remaining: { fresh: 0, stale: 8 } });
    expect(await b.stack.ttl('user:1')).toBe(0);
  });

  it("reads an entry whose tag a peer invalidated, or that a peer deleted, as absent", async () => {
    const prefix = uniquePrefix('inspect-tags');
    const clock = new FakeClock();
    const a = instance(prefix, clock);
    const b = instance(prefix, clock);
    await a.stack.set('p:1', 1, { ttl: 60, tags: ['products'] });
    await a.stack.set('p:2', 2, { ttl: 60 });
    expect(await b.stack.ttl('p:1')).toBe(60);
    await a.stack.invalidateByTag('products');
    await a.stack.delete('p:2');
    expect(await b.stack.inspect('p:1')).toMatchObject({ state: 'absent', layer: undefined });
    expect(await b.stack.ttl('p:2')).toBeUndefined();
  });
});
