// MemcachedLayer against a real memcached started here: the layer contract, what Memcached cannot do (long keys,
// the item size limit, no key listing), fencing under concurrent writers, and a stack that uses it as L2 with the
// tag store and bus on Redis.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import memjs from 'memjs';
import { InvalidationScanError, InvalidOptionError } from '../../lib/core/errors.js';
import { MemcachedLayer, type MemcachedLayerOptions } from '../../lib/layers/memcached.layer.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';
import { startMemcached, type MemcachedHandle } from '../support/memcached-server.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { eventually } from '../support/wait.js';

let server: MemcachedHandle;
let redis: Redis;
const opened: { close(): unknown }[] = [];

beforeAll(async () => {
  [server, redis] = [await startMemcached(), testRedisClient()];
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((item) => item.close()));
});
afterAll(async () => {
  await Promise.all([server.stop(), redis.quit()]);
});

/** A layer on the test server with a unique prefix (closed after the test). */
function memcachedLayer(options: Partial<MemcachedLayerOptions> = {}, logger = new RecordingLogger()): MemcachedLayer {
  const layer = new MemcachedLayer({ servers: [server.address], prefix: uniquePrefix('mc'), ...options });
  layer.attach({ clock: { now: () => Date.now() } as never, logger });
  opened.push(layer);
  return layer;
}

describeLayerContract(
  'MemcachedLayer',
  () => {
    const layer = memcachedLayer();
    return {
      layer,
      now: () => Date.now(),
      async expectLifetime(key, ttlMs) {
        // The server's own count-down, read with the text protocol's meta get.
        const seconds = await server.remainingSeconds(layer.prefix + key);
        expect(seconds).toBeGreaterThan(0);
        expect(seconds).toBeLessThanOrEqual(Math.ceil(ttlMs / 1000));
        expect(seconds).toBeGreaterThan(ttlMs / 1000 - 5);
      },
    };
  },
  { clearsByPrefix: false },
);

describe('MemcachedLayer', () => {
  it('rejects unknown, missing and malformed options by name', () => {
    const build = (options: unknown) => () => new MemcachedLayer(options as MemcachedLayerOptions);
    expect(build({ servers: ['a:1'], compresion: 'gzip' })).toThrow(/MemcachedLayer\.compresion.*unknown option/);
    expect(build({})).toThrow(/MemcachedLayer\.servers/);
    expect(build({ servers: ['has space:11211'] })).toThrow(/MemcachedLayer\.servers/);
    expect(build({ servers: 'a:1', client: memjs.Client.create('a:1') })).toThrow(/either servers or client/);
    expect(build({ client: {} })).toThrow(/MemcachedLayer\.client/);
    expect(build({ servers: 'a:1', ttl: 0.5 })).toThrow(/MemcachedLayer\.ttl.*1 second/);
    expect(build({ servers: 'a:1', prefix: 'with space' })).toThrow(/MemcachedLayer\.prefix/);
    expect(build({ servers: 'a:1', timeout: 0 })).toThrow(/MemcachedLayer\.timeout/);
    expect(build({ servers: 'a:1', compression: 'lzma' })).toThrow(InvalidOptionError);
  });

  it('stores keys over 250 bytes under their hash, without mixing two such keys', async () => {
    const layer = memcachedLayer();
    const long = (tail: string) => `${'k'.repeat(300)}:${tail}`;
    await layer.set(long('a'), makeEntry('A', Date.now()), 60_000);
    await layer.set(long('b'), makeEntry('B', Date.now()), 60_000);
    expect((await layer.getMany([long('a'), long('b')])).map((entry) => entry?.value)).toEqual(['A', 'B']);
    // Under prefix + U+001D + the key's SHA-256 (base64url), as the layer's header says.
    const hashed = layer.prefix + '\u001d' + createHash('sha256').update(long('a')).digest('base64url');
    expect(await server.remainingSeconds(hashed)).toBeGreaterThan(50);
    await layer.delete([long('a')]);
    expect(await layer.get(long('a'))).toBeUndefined();
    expect((await layer.get(long('b')))?.value).toBe('B');
  });

  it('sends a ttl over 30 days as a Unix time, and no expiry for an infinite one', async () => {
    const layer = memcachedLayer();
    const forty = 40 * 24 * 3600;
    await layer.set('far', makeEntry('far', Date.now()), forty * 1000);
    const left = await server.remainingSeconds(layer.prefix + 'far');
    expect(left).toBeGreaterThan(forty - 10);
    // memcached keeps a coarse clock (whole seconds, refreshed once a second) and converts a Unix expiry with it, so
    // the remaining time it reports can run a second or two over the exact one.
    expect(left).toBeLessThanOrEqual(forty + 3);
    await layer.set('ever', makeEntry('ever', Date.now()), Number.POSITIVE_INFINITY);
    expect(await server.remainingSeconds(layer.prefix + 'ever')).toBe(-1);
  });

  it('answers a value over the item size limit by dropping the older copy, and logs it once', async () => {
    const logger = new RecordingLogger();
    const layer = memcachedLayer({}, logger);
    await layer.set('big', makeEntry('small', Date.now()), 60_000);
    const huge = randomBytes(2 * 1024 * 1024); // incompressible, over memcached's default 1 MiB item size
    await layer.set('big', makeEntry(huge, Date.now()), 60_000);
    expect(await layer.get('big')).toBeUndefined(); // never the older 'small'
    await layer.set('big', makeEntry(huge, Date.now()), 60_000, true);
    expect(await layer.get('big')).toBeUndefined();
    expect(logger.lines.filter((line) => /item size limit/.test(line.message))).toHaveLength(1);
  });

  it('keeps the newest of many concurrent "if newer" writes (compare-and-swap), over foreign bytes too', async () => {
    const layer = memcachedLayer();
    const raw = memjs.Client.create(server.address);
    opened.push(raw);
    await raw.set(layer.prefix + 'race', 'not an envelope', {});
    const versions = Array.from({ length: 30 }, (_, i) => (i * 7919) % 30); // every version 0..29, shuffled
    await Promise.all(versions.map((version) => layer.set('race', makeEntry(`v${version}`, Date.now(), { version }), 60_000, true)));
    expect((await layer.get('race'))?.value).toBe('v29');
  });

  it('compresses large values when asked, and reads them whatever its own setting', async () => {
    const prefix = uniquePrefix('mcz');
    const gzip = memcachedLayer({ prefix, compression: 'gzip' });
    const plain = memcachedLayer({ prefix });
    const document = { rows: Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}`, tags: ['a', 'b'] })) };
    await gzip.set('doc', makeEntry(document, Date.now()), 60_000);
    await plain.set('plain', makeEntry(document, Date.now()), 60_000);
    expect((await plain.get('doc'))?.value).toStrictEqual(document);
    const raw = memjs.Client.create(server.address);
    opened.push(raw);
    const [zipped, unzipped] = await Promise.all([raw.get(prefix + 'doc'), raw.get(prefix + 'plain')]);
    expect(zipped.value?.length).toBeLessThan((unzipped.value?.length ?? 0) / 3);
  });

  it('never closes a client it was given', async () => {
    const client = memjs.Client.create(server.address);
    opened.push(client);
    const layer = new MemcachedLayer({ client, prefix: uniquePrefix('mcc') });
    await layer.set('k', makeEntry('v', Date.now()), 60_000);
    layer.close();
    expect((await layer.get('k'))?.value).toBe('v');
  });
});

describe('CacheStack on MemcachedLayer', () => {
  /** An instance: its own L1, the shared memcached L2, tags and generations on Redis, a bus between instances. */
  function instance(prefix: string): CacheStack {
    const stack = new CacheStack([new MemoryLayer(), new MemcachedLayer({ servers: [server.address], prefix })], {
      tagStore: new RedisTagStore({ client: redis, prefix }),
      invalidationBus: new RedisInvalidationBus({ client: redis, prefix }),
      logger: new RecordingLogger(),
    });
    opened.push(stack);
    return stack;
  }

  it('shares values between instances, and tag invalidations and clears reach every instance', async () => {
    const prefix = uniquePrefix('mcs');
    const [a, b] = [instance(prefix), instance(prefix)];
    await Promise.all([a.ready(), b.ready()]);
    let loads = 0;
    const load = () => Promise.resolve(`value ${++loads}`);
    expect(await a.get('user:1', load, { tags: ['users'] })).toBe('value 1');
    expect(await b.get('user:1', load, { tags: ['users'] })).toBe('value 1'); // from memcached, not loaded again
    expect(loads).toBe(1);

    await a.invalidateByTag('users');
    // b's L1 copy goes when the bus tells it; its memcached copy is rejected by the tag store's record.
    await eventually(async () => expect(await b.get('user:1', load, { tags: ['users'] })).toBe('value 2'));

    await a.set('plain', 'kept until the clear');
    expect(await b.get('plain')).toBe('kept until the clear');
    await a.clear();
    // The clear moved the root to a new generation: b learns it through the bus and never reads the old entry.
    await eventually(async () => expect(await b.get('plain')).toBeUndefined());
    expect(a.getMetrics().layers.memcached?.errors).toBe(0);
  });

  it('clears a namespace by generation, and refuses a prefix invalidation it could not complete', async () => {
    const stack = instance(uniquePrefix('mcn'));
    const users = stack.namespace('users');
    await users.set('1', 'Ada');
    await stack.set('root', 'kept');
    await users.clear();
    expect(await users.get('1')).toBeUndefined();
    expect(await stack.get('root')).toBe('kept');
    await expect(stack.invalidateByPrefix('ro')).rejects.toBeInstanceOf(InvalidationScanError);
    expect(await stack.get('root')).toBe('kept');
  });

  it('degrades while memcached is down and uses it again once it is back', async () => {
    const own = await startMemcached();
    const prefix = uniquePrefix('mco');
    const raw = memjs.Client.create(own.address, { retries: 1, logger: { log: () => undefined } });
    opened.push(raw);
    try {
      const stack = new CacheStack([new MemoryLayer(), new MemcachedLayer({ servers: [own.address], prefix })], { logger: new RecordingLogger(), layerTimeout: '1s' });
      opened.push(stack);
      await own.stop();
      expect(await stack.get('k', () => Promise.resolve('loaded while down'))).toBe('loaded while down');
      expect(stack.getMetrics().layers.memcached?.errors).toBeGreaterThan(0);
      await own.restart();
      // Once the stack's probe sees the server again, writes reach it.
      await eventually(async () => {
        await stack.set('back', 'stored again');
        expect((await raw.get(prefix + 'back')).value).not.toBeNull();
      });
    } finally {
      await own.stop();
    }
  });
});
