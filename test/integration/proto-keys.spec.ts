import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';

/**
 * Values with own `__proto__` keys (as `JSON.parse` makes them from a client's payload) are the same on every
 * tier: the writer's memory layer, Redis read by another instance, and that instance's memory layer after
 * the backfill. No tier renames the key, and none sets a prototype.
 */
describe('own __proto__ keys on every tier', () => {
  let client: Redis;
  const stacks: CacheStack[] = [];
  const text = '{"id":1,"__proto__":{"isAdmin":true},"items":[{"__proto__":"a"},{"n":{"__proto__":[{"__proto__":0}]}}],"__proto_":"kept"}';

  beforeAll(() => {
    client = testRedisClient();
  });
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });
  afterAll(async () => {
    await client.quit();
  });

  function instance(prefix: string) {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix })], { logger: new RecordingLogger() });
    stacks.push(stack);
    return { stack, l1 };
  }

  function expectKept(value: unknown): void {
    expect(JSON.stringify(value)).toBe(text);
    const record = value as Record<string, unknown>;
    expect(Object.hasOwn(record, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(record['isAdmin']).toBeUndefined();
  }

  it('memory, Redis and the backfilled memory copy all keep them (get, getMany, a loader)', async () => {
    const prefix = uniquePrefix('proto');
    const writer = instance(prefix);
    await writer.stack.set('k', JSON.parse(text));
    expectKept(await writer.stack.get('k')); // memory tier

    const reader = instance(prefix);
    expectKept(await reader.stack.get('k')); // Redis tier
    expect(reader.l1.get('k')).toBeDefined();
    expectKept(reader.l1.get('k')?.value); // the backfilled copy
    const bulk = instance(prefix);
    expectKept((await bulk.stack.getMany(['k']))[0]);

    await writer.stack.get('loaded', () => JSON.parse(text) as unknown);
    expectKept(await instance(prefix).stack.get('loaded'));
  });

  it('the bytes in Redis hold the key itself, not the renamed __proto_ msgpackr would give', async () => {
    const prefix = uniquePrefix('proto-raw');
    const writer = instance(prefix);
    await writer.stack.set('k', JSON.parse('{"__proto__":1}'));
    const raw = await client.getBuffer(`${prefix}k`);
    expect(raw?.includes(Buffer.from('__proto__\u0000'))).toBe(true); // escaped, see proto-keys.ts
    expect(JSON.stringify(await instance(prefix).stack.get('k'))).toBe('{"__proto__":1}');
  });
});
