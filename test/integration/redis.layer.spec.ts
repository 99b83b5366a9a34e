import type { Redis } from 'ioredis';
import type { CacheEntry } from '../../lib/core/entry.js';
import { encodeEntry, undecodableReason } from '../../lib/core/entry-codec.js';
import { InvalidOptionError } from '../../lib/core/errors.js';
import type { Serializer } from '../../lib/core/serializer.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { EntryEncodeError } from '../../lib/core/errors.js';
import { DEFAULT_REDIS_LAYER_OPTIONS, RedisLayer, type RedisLayerOptions } from '../../lib/redis/redis.layer.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';
import { countRoundTrips, keysUnder, testRedisClient, uniquePrefix } from '../support/redis-test-client.js';

let client: Redis;

beforeAll(async () => {
  client = testRedisClient();
  expect(await client.ping()).toBe('PONG');
});

afterAll(async () => {
  await client.quit();
});

describeLayerContract('RedisLayer', () => {
  const prefix = uniquePrefix('layer');
  const layer = new RedisLayer({ client, prefix });
  return {
    layer,
    now: () => Date.now(),
    async expectLifetime(key, ttlMs) {
      // PTTL is the server's own count-down: no clock of this process is compared.
      const pttl = await client.pttl(prefix + key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(ttlMs);
      expect(pttl).toBeGreaterThan(ttlMs - 5000);
    },
    async teardown() {
      await layer.clear(undefined);
      expect(await keysUnder(client, prefix)).toEqual([]);
    },
  };
});

describe('RedisLayer', () => {
  let prefix: string;
  let layer: RedisLayer;
  const now = Date.now();

  beforeEach(() => {
    prefix = uniquePrefix('layer');
    layer = new RedisLayer({ client, prefix });
  });

  afterEach(async () => {
    await layer.clear(undefined);
  });

  it('is shared, named, prefixed and uncapped by default', () => {
    expect(layer.shared).toBe(true);
    expect(new RedisLayer({ client })).toMatchObject({ name: 'redis', prefix: 'lc:', ttl: undefined });
    expect(DEFAULT_REDIS_LAYER_OPTIONS).toEqual({ prefix: 'lc:', name: 'redis' });
    expect(Object.isFrozen(DEFAULT_REDIS_LAYER_OPTIONS)).toBe(true);
    expect(new RedisLayer({ client, name: 'l2', ttl: '2m' })).toMatchObject({ name: 'l2', ttl: 120_000 });
  });

  it('stores prefix + key as a binary envelope with a PX expiry', async () => {
    const entry = makeEntry({ a: 1 }, now, { tags: ['t'], tagVersions: [3] });
    await layer.set('k', entry, 10_000);
    const raw = await client.getBuffer(`${prefix}k`);
    expect(raw).toEqual(encodeEntry(entry, new MsgpackSerializer()));
    expect(await client.pttl(`${prefix}k`)).toBeGreaterThan(5000);
    expect(await client.exists('k')).toBe(0);
  });

  it('rounds a fractional ttl up to whole milliseconds and keeps sub-millisecond ttls at 1 ms', async () => {
    await layer.set('frac', makeEntry(1, now), 2500.2);
    const pttl = await client.pttl(`${prefix}frac`);
    expect(pttl).toBeGreaterThan(2000);
    expect(pttl).toBeLessThanOrEqual(2501);
    await layer.set('tiny', makeEntry(1, now), 0.3);
    expect(await client.pttl(`${prefix}tiny`)).toBeLessThanOrEqual(1);
  });

  describe('foreign data is a miss and is overwritten by a set', () => {
    const header = encodeEntry(makeEntry('v', now), new MsgpackSerializer());
    const foreign: [string, Buffer][] = [
      ['a plain string', Buffer.from('hello')],
      ['an empty value', Buffer.alloc(0)],
      ['a truncated header', header.subarray(0, 20)],
      ['a header with a truncated payload', header.subarray(0, header.length - 1)],
      ['another format version', Buffer.concat([Buffer.from([0x4c, 0x43, 0x09, 0x00]), header.subarray(4)])],
      ['JSON', Buffer.from(JSON.stringify({ value: 1 }))],
    ];
    it.each(foreign)('%s', async (_, bytes) => {
      await client.set(`${prefix}f`, bytes);
      // The undecodable marker: an entry expired since 1970, a miss that the stack counts (see entry-codec).
      expect(undecodableReason(await layer.get('f'))).toEqual(expect.any(String));
      expect((await layer.getMany(['f', 'f'])).map(undecodableReason)).toEqual([expect.any(String), expect.any(String)]);
      await layer.set('f', makeEntry('mine', now), 60_000);
      expect((await layer.get('f'))?.value).toBe('mine');
    });

    it('a key of another Redis type', async () => {
      await client.hset(`${prefix}h`, 'field', 'x');
      await expect(layer.getMany(['h'])).resolves.toEqual([undefined]); // MGET answers nil for a hash
      await layer.set('h', makeEntry('mine', now), 60_000); // SET replaces any type
      expect((await layer.get('h'))?.value).toBe('mine');
    });
  });

  describe('one round trip per bulk call', () => {
    let counter: ReturnType<typeof countRoundTrips>;
    beforeEach(() => {
      counter = countRoundTrips(client);
    });
    afterEach(() => counter.restore());

    it('getMany sends one MGET', async () => {
      await layer.setMany(['a', 'b', 'c'].map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      counter.reset();
      const got = await layer.getMany(['a', 'b', 'x', 'c']);
      expect(got.map((entry) => entry?.value)).toEqual(['a', 'b', undefined, 'c']);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['mget']);
    });

    it('setMany sends one pipeline of SET PX', async () => {
      const items = Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, entry: makeEntry(i, now), ttlMs: 60_000 + i }));
      await layer.setMany(items);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(items.map(() => 'set'));
      expect((await layer.get('k24'))?.value).toBe(24);
    });

    it('delete sends one UNLINK', async () => {
      await layer.setMany(['a', 'b', 'c'].map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      counter.reset();
      await layer.delete(['a', 'b', 'c', 'missing']);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['unlink']);
      expect(await keysUnder(client, prefix)).toEqual([]);
    });

    it('empty bulk calls send nothing', async () => {
      await layer.getMany([]);
      await layer.setMany([]);
      await layer.delete([]);
      expect(counter.roundTrips).toBe(0);
    });
  });

  it('clear never touches keys outside its prefix, even when the prefix holds glob characters', async () => {
    const base = uniquePrefix('glob');
    const globby = new RedisLayer({ client, prefix: `${base}a*[b]?\\:` });
    // Each would match the unescaped pattern `<base>a*[b]?\:*`.
    const outside = [`${base}aXXbY:k`, `${base}ab!:k`, `${base}a*[b]?:k`];
    for (const key of outside) await client.set(key, 'foreign');
    await globby.set('mine', makeEntry(1, now), 60_000);
    await globby.set('ns\u001fmine', makeEntry(2, now), 60_000);
    await globby.clear('ns\u001f');
    expect(await globby.get('ns\u001fmine')).toBeUndefined();
    expect(await globby.get('mine')).toBeDefined();
    await globby.clear(undefined);
    expect(await globby.get('mine')).toBeUndefined();
    expect(await client.mget(outside)).toEqual(['foreign', 'foreign', 'foreign']);
    await client.unlink(outside);
  });

  it('clears many keys in batches', async () => {
    const items = Array.from({ length: 1234 }, (_, i) => ({ key: `n\u001f${i}`, entry: makeEntry(i, now), ttlMs: 60_000 }));
    await layer.setMany(items);
    await layer.set('keep', makeEntry('keep', now), 60_000);
    await layer.clear('n\u001f');
    expect((await keysUnder(client, prefix)).map(String)).toEqual([`${prefix}keep`]);
  });

  it('is isolated from a second layer with another prefix', async () => {
    const other = new RedisLayer({ client, prefix: uniquePrefix('other') });
    await layer.set('same', makeEntry('mine', now), 60_000);
    await other.set('same', makeEntry('theirs', now), 60_000);
    expect((await layer.get('same'))?.value).toBe('mine');
    expect((await other.get('same'))?.value).toBe('theirs');
    await other.clear(undefined);
    expect((await layer.get('same'))?.value).toBe('mine');
    expect(await other.get('same')).toBeUndefined();
  });

  it('clear(undefined) keeps the tag store keys: an invalidation outlives the entries', async () => {
    const tags = layer.createTagStore();
    expect(tags).toBeInstanceOf(RedisTagStore);
    expect(tags.prefix).toBe(prefix);
    const [version] = await tags.invalidate(['users'], 'any', 60_000);
    await layer.set('k', makeEntry(1, now), 60_000);
    await layer.clear(undefined);
    expect(await layer.get('k')).toBeUndefined();
    expect((await tags.fetch(['users']))[0]?.any).toBe(version);
    await client.unlink(tags.tagKey('users'));
  });

  it('clear() keeps every key of the library\'s own (prefix + U+001F: tags, locks, load leases)', async () => {
    const own = [`${prefix}\u001fload:k`, `${prefix}\u001flock:k`, `${prefix}\u001fanything-internal`];
    for (const key of own) await client.set(key, 'x', 'PX', 60_000);
    await layer.set('k', makeEntry(1, now), 60_000);
    await layer.clear(undefined);
    expect(await layer.get('k')).toBeUndefined();
    expect(await client.exists(...own)).toBe(own.length);
    await client.unlink(...own);
  });

  it('a user key cannot collide with the tag store keys', async () => {
    const tags = layer.createTagStore();
    await layer.set('tags:t:users', makeEntry('user data', now), 60_000);
    expect(await tags.fetch(['users'])).toEqual([undefined]);
    await tags.invalidate(['users'], 'any', 60_000);
    expect((await layer.get('tags:t:users'))?.value).toBe('user data');
    await client.unlink(tags.tagKey('users'));
  });

  it('rejects with EntryEncodeError when the serializer cannot encode, writing nothing', async () => {
    const picky: Serializer = {
      encode(value) {
        if (typeof value === 'string') throw new TypeError('no strings here');
        return new MsgpackSerializer().encode(value);
      },
      decode: (bytes) => new MsgpackSerializer().decode(bytes),
    };
    const strict = new RedisLayer({ client, prefix, serializer: picky });
    const error = await strict.set('s', makeEntry('text', now), 60_000).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EntryEncodeError);
    expect(error).toMatchObject({ code: 'ENTRY_ENCODE_FAILED', key: 's' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    const items = [
      { key: 'n', entry: makeEntry(1, now) as CacheEntry, ttlMs: 60_000 },
      { key: 's', entry: makeEntry('text', now) as CacheEntry, ttlMs: 60_000 },
    ];
    await expect(strict.setMany(items)).rejects.toBeInstanceOf(EntryEncodeError);
    expect(await keysUnder(client, prefix)).toEqual([]);
  });

  it('close() leaves the client it was given open', async () => {
    await layer.close();
    expect(await client.ping()).toBe('PONG');
  });

  describe('rejects invalid options, naming the option', () => {
    const cases: [string, () => RedisLayerOptions][] = [
      ['RedisLayer.client', () => ({}) as RedisLayerOptions],
      ['RedisLayer.client', () => ({ client: { get: () => null } }) as unknown as RedisLayerOptions],
      ['RedisLayer.prefix', () => ({ client, prefix: '' })],
      ['RedisLayer.prefix', () => ({ client, prefix: 42 as unknown as string })],
      ['RedisLayer.ttl', () => ({ client, ttl: 0 })],
      ['RedisLayer.ttl', () => ({ client, ttl: '10 parsecs' as unknown as number })],
      ['RedisLayer.name', () => ({ client, name: '' })],
      ['RedisLayer.serializer', () => ({ client, serializer: { encode: () => new Uint8Array() } as unknown as Serializer })],
    ];
    it.each(cases)('%s', (option, options) => {
      let error: unknown;
      try {
        new RedisLayer(options());
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: 'INVALID_OPTION', option });
    });
  });
});
