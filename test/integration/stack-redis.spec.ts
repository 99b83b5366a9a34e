import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { countRoundTrips, testRedisClient, uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';

/** Two "processes": each its own L1, both on the same Redis prefix. */
describe('CacheStack on memory + a real Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));

  function instance(prefix: string, options: CacheStackOptions = {}) {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix })], { logger: new RecordingLogger(), ...options });
    stacks.push(stack);
    return { stack, l1 };
  }

  it('a value written by one instance is read by another from L2, with every type intact', async () => {
    const prefix = uniquePrefix('types');
    const a = instance(prefix);
    const b = instance(prefix);
    const value = {
      date: new Date('2026-11-24T10:00:00Z'),
      map: new Map<string, unknown>([['k', { nested: [1, 2] }]]),
      set: new Set([1, 'two']),
      big: 2n ** 70n,
      buffer: Buffer.from('bytes'),
      u8: new Uint8Array([1, 2, 3]),
      missing: undefined,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      nul: null,
      list: [undefined, 1],
    };
    await a.stack.set('k', value);
    const fromL2 = await b.stack.get<typeof value>('k');
    expect(fromL2).toEqual(value);
    expect(fromL2?.u8).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(fromL2?.u8)).toBe(false);
    expect(Buffer.isBuffer(fromL2?.buffer)).toBe(true);
    expect(fromL2 !== undefined && 'missing' in fromL2).toBe(true);
    expect(b.l1.get('k')).toBeDefined(); // backfilled
    expect(await a.stack.get('k')).toBe(value); // L1 of the writer: the object itself
  });

  it("a tag invalidation on one instance keeps L2's copy from every other instance whose L1 misses", async () => {
    const prefix = uniquePrefix('tags');
    const a = instance(prefix);
    const b = instance(prefix);
    await a.stack.set('user:1', { id: 1 }, { tags: ['users', 'user:1'] });
    expect(await b.stack.get('user:1')).toEqual({ id: 1 });
    await a.stack.invalidateByTag('user:1');
    expect(await a.stack.get('user:1')).toBeUndefined();
    b.l1.delete(['user:1']); // B's L1 copy is the bus's job (next part); its L2 read must miss
    const loader = jest.fn(() => ({ id: 1, fresh: true }));
    expect(await b.stack.get('user:1', loader)).toEqual({ id: 1, fresh: true });
    expect(loader).toHaveBeenCalledTimes(1);
    const c = instance(prefix);
    expect(await c.stack.get('user:1')).toEqual({ id: 1, fresh: true }); // B's reload is valid for everyone
  });

  it("'all' mode across instances", async () => {
    const prefix = uniquePrefix('all');
    const a = instance(prefix);
    await a.stack.set('both', 1, { tags: ['a', 'b'] });
    await a.stack.set('onlyA', 2, { tags: ['a'] });
    await a.stack.invalidateByTags(['b', 'a'], 'all');
    const b = instance(prefix);
    expect(await b.stack.getMany(['both', 'onlyA'])).toEqual([undefined, 2]);
  });

  it('100 concurrent misses run the loader once, and the value lands in Redis', async () => {
    const prefix = uniquePrefix('stampede');
    const a = instance(prefix);
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 'v';
    };
    const all = await Promise.all(Array.from({ length: 100 }, () => a.stack.get('hot', loader)));
    expect(new Set(all)).toEqual(new Set(['v']));
    expect(calls).toBe(1);
    expect(await client.exists(`${prefix}hot`)).toBe(1);
  });

  it('getMany, setMany and deleteMany cost one Redis round trip each', async () => {
    const prefix = uniquePrefix('bulk');
    const a = instance(prefix);
    const counter = countRoundTrips(client);
    try {
      await a.stack.setMany(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: i })));
      expect(counter.roundTrips).toBe(1);
      const b = instance(prefix);
      counter.reset();
      expect(await b.stack.getMany(Array.from({ length: 20 }, (_, i) => `k${i}`))).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(counter.roundTrips).toBe(1);
      counter.reset();
      await a.stack.deleteMany(Array.from({ length: 20 }, (_, i) => `k${i}`));
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['unlink']);
    } finally {
      counter.restore();
    }
  });

  it('foreign data under a key is a miss, then overwritten', async () => {
    const prefix = uniquePrefix('foreign');
    const a = instance(prefix);
    await client.set(`${prefix}k`, 'not an envelope');
    expect(await a.stack.get('k', () => 'loaded')).toBe('loaded');
    const b = instance(prefix);
    expect(await b.stack.get('k')).toBe('loaded');
  });

  it('a namespace clear in Redis leaves siblings and other prefixes alone', async () => {
    const prefix = uniquePrefix('ns');
    const a = instance(prefix);
    await a.stack.namespace('a').set('x', 1);
    await a.stack.namespace('ab').set('x', 2);
    await a.stack.set('a:x', 3);
    await a.stack.namespace('a').clear();
    const b = instance(prefix);
    expect(await b.stack.namespace('a').get('x')).toBeUndefined();
    expect(await b.stack.namespace('ab').get('x')).toBe(2);
    expect(await b.stack.get('a:x')).toBe(3);
  });
});

describe('a value the serializer cannot encode', () => {
  it('is served from L1, removes the older L2 copy, and does not put Redis in back-off', async () => {
    const client = testRedisClient();
    const prefix = uniquePrefix('encode');
    const picky = { encode: (v: unknown) => { if (v === 'unencodable') throw new Error('nope'); return new MsgpackSerializer().encode(v); }, decode: (b: Uint8Array) => new MsgpackSerializer().decode(b) };
    const make = () => new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix, serializer: picky })], { logger: new RecordingLogger() });
    const a = make();
    const b = make();
    try {
      await a.set('k', 'v1');
      await a.set('k', 'unencodable');
      expect(await a.get('k')).toBe('unencodable');
      expect(await b.get('k')).toBeUndefined(); // never the older v1
      await a.set('j', 'fine');
      expect(await b.get('j')).toBe('fine');
      expect(a.getMetrics().layers['redis']).toMatchObject({ errors: 0, skipped: 0 });
    } finally {
      await a.close();
      await b.close();
      await client.quit();
    }
  });
});
