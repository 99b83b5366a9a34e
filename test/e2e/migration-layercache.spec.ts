/**
 * The migration guide from layercache (docs/migration/from-layercache.md), checked on its "after" app
 * (examples/from-layercache/after: the layercache constructors' counterparts in `LayerCacheModule.forRootAsync`,
 * the interceptor in place of `createExpressCacheMiddleware`), on Express and Fastify, on a real redis-server:
 * the behaviour the guide promises a layercache app keeps — a cached GET, invalidation by tag after a mutation,
 * ttl expiry, and two instances on one Redis staying consistent (a HIT from the shared layer, the bus dropping the
 * other instance's copy). layercache itself is not on npm here, so its "before" is described in the guide only.
 * Last, what the guide quotes for a configuration ported as is: each layercache name fails with its direction.
 *
 * Time: only `Date` is faked (`jest.useFakeTimers` with every other timer real), moved with `jest.setSystemTime`.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { CacheStack, InvalidOptionError, MemoryLayer, RedisInvalidationBus, RedisLayer } from '../../lib/index.js';
import { AppModule } from '../../examples/from-layercache/after/app.module.js';
import { ProductsRepository } from '../../examples/from-layercache/products.repository.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/**
 * The faked time starts at the real time: the Redis revalidation lock's lease is stamped with the instance's clock
 * and checked against the server's, so instances (here, the faked `Date`) must agree with Redis on the time.
 */
const T0 = Math.ceil(Date.now() / 1000) * 1000;
const ONLY_DATE = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] as const;

/**
 * Retries `check` until it passes, for at most `ms` of real time (`performance`, which is not faked: `Date` is
 * frozen between `setSystemTime` calls, so `eventually`'s deadline would never come).
 */
async function within(ms: number, check: () => Promise<void>): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const keyboard = { id: 1, name: 'Keyboard', price: 89 };
const trackball = { id: 2, name: 'Trackball', price: 59 };

describe.each(ADAPTERS)('migration from layercache: the after app on Redis (%s)', (adapter: AdapterName) => {
  let server: RedisServerHandle;
  let client: Redis;
  const open: INestApplication[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { lazyConnect: true });
    await client.connect();
    process.env['SHOP_REDIS_URL'] = server.url;
  });
  afterAll(async () => {
    delete process.env['SHOP_REDIS_URL'];
    await client?.quit();
    await server?.stop();
  });
  beforeEach(async () => {
    jest.useFakeTimers({ doNotFake: [...ONLY_DATE], now: T0 });
    await client.flushall();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((app) => app.close()));
    jest.useRealTimers();
  });

  /** Starts the example's AppModule, optionally on a given database (two instances share one). */
  async function start(repository?: ProductsRepository): Promise<{ url: string; repository: ProductsRepository }> {
    const app = await startApp({ imports: [AppModule] }, adapter, (builder) =>
      repository === undefined ? builder : builder.overrideProvider(ProductsRepository).useValue(repository),
    );
    open.push(app);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    return { url, repository: app.get(ProductsRepository) };
  }

  async function get(url: string, path: string): Promise<[string | undefined, unknown]> {
    const res = await request(url).get(path).expect(200);
    return [res.headers['x-cache'] as string | undefined, res.body as unknown];
  }

  it('caches a GET: a HIT repeats the MISS without reading the database, and the entry is in Redis', async () => {
    const { url } = await start();
    expect(await get(url, '/products')).toEqual(['MISS', { products: [keyboard, trackball], loads: 1 }]);
    expect(await get(url, '/products')).toEqual(['HIT', { products: [keyboard, trackball], loads: 1 }]);
    expect(await get(url, '/products/1')).toEqual(['MISS', { ...keyboard, loads: 2 }]);
    expect(await get(url, '/products/1')).toEqual(['HIT', { ...keyboard, loads: 2 }]);
    expect((await client.keys('shop:cache:*')).length).toBeGreaterThan(0); // the RedisLayer's prefix
  });

  it('invalidates by tag after a mutation: the route entries and the service entry reload', async () => {
    const { url } = await start();
    await get(url, '/products');
    await get(url, '/products/1');
    await get(url, '/products/2');
    const put = await request(url).put('/products/1/price').send({ price: 79 }).expect(200);
    expect(put.body).toEqual({ ...keyboard, price: 79 });
    // setPrice read the product (loads 4); every `products` entry is gone, the HTTP ones and findOne's own.
    expect(await get(url, '/products/1')).toEqual(['MISS', { ...keyboard, price: 79, loads: 5 }]);
    expect(await get(url, '/products/2')).toEqual(['MISS', { ...trackball, loads: 6 }]);
    expect(await get(url, '/products')).toEqual(['MISS', { products: [{ ...keyboard, price: 79 }, trackball], loads: 7 }]);
    expect((await client.keys('shop:tags:*')).length).toBeGreaterThan(0); // the invalidation went to the RedisTagStore
  });

  it('expires entries after their ttl (30 s for the route, seconds as in layercache)', async () => {
    const { url } = await start();
    await get(url, '/products');
    jest.setSystemTime(T0 + 29_000);
    expect(await get(url, '/products')).toEqual(['HIT', { products: [keyboard, trackball], loads: 1 }]);
    // Past 30 s the entry is stale: served once while it is refreshed (staleWhileRevalidate: 30), then fresh.
    jest.setSystemTime(T0 + 31_000);
    expect(await get(url, '/products')).toEqual(['STALE', { products: [keyboard, trackball], loads: 1 }]);
    await within(5_000, async () => expect(await get(url, '/products')).toEqual(['HIT', { products: [keyboard, trackball], loads: 2 }]));
    // Refreshed at 31 s: fresh until 61 s, stale until 91 s; past that, a MISS that reloads.
    jest.setSystemTime(T0 + 92_000);
    expect(await get(url, '/products')).toEqual(['MISS', { products: [keyboard, trackball], loads: 3 }]);
  });

  it('keeps two instances on one Redis consistent: a HIT from the shared layer, the bus drops the other copy', async () => {
    const a = await start(new ProductsRepository());
    const b = await start(a.repository);
    expect(await get(a.url, '/products/1')).toEqual(['MISS', { ...keyboard, loads: 1 }]);
    expect(await get(b.url, '/products/1')).toEqual(['HIT', { ...keyboard, loads: 1 }]); // from Redis, B's L1 filled
    expect(await get(b.url, '/products/1')).toEqual(['HIT', { ...keyboard, loads: 1 }]); // from B's L1
    await request(a.url).put('/products/1/price').send({ price: 99 }).expect(200);
    // Tag invalidation through Redis and the bus: B's in-process copy is dropped when A's message arrives (pub/sub,
    // so B may answer it until then), not at its own ttl (60 s, and `Date` does not move here).
    await within(2_000, async () => expect(await get(b.url, '/products/1')).toEqual(['MISS', { ...keyboard, price: 99, loads: 3 }]));
    expect(await get(a.url, '/products/1')).toEqual(['HIT', { ...keyboard, price: 99, loads: 3 }]);
  });
});

describe('a layercache configuration ported as is', () => {
  // Never connected: the constructors fail on their options first.
  const client = new Redis({ lazyConnect: true });
  afterAll(() => client.disconnect());

  it.each([
    ['gracefulDegradation', () => new CacheStack([new MemoryLayer()], { gracefulDegradation: { retryAfterMs: 10_000 } } as never), 'Invalid option "CacheStack.gracefulDegradation": unknown option: always on'],
    ['tagIndex', () => new CacheStack([new MemoryLayer()], { tagIndex: {} } as never), 'Invalid option "CacheStack.tagIndex": unknown option: renamed tagStore'],
    ['singleFlightCoordinator', () => new CacheStack([new MemoryLayer()], { singleFlightCoordinator: {} } as never), 'Invalid option "CacheStack.singleFlightCoordinator": unknown option: renamed singleFlight'],
    ['circuitBreaker.cooldownMs', () => new CacheStack([new MemoryLayer()], { circuitBreaker: { failureThreshold: 3, cooldownMs: 1000 } } as never), 'Invalid option "circuitBreaker.cooldownMs": unknown option: renamed cooldown'],
    ['RedisLayer compressionThreshold', () => new RedisLayer({ client, compressionThreshold: 1024 } as never), 'Invalid option "RedisLayer.compressionThreshold": unknown option: give compression as { algorithm, threshold }'],
    ['RedisInvalidationBus publisher', () => new RedisInvalidationBus({ publisher: client, subscriber: client } as never), 'Invalid option "RedisInvalidationBus.publisher": unknown option: renamed client'],
    ['ttlJitter in seconds', () => new CacheStack([new MemoryLayer()], { ttlJitter: 5 }), "Invalid option \"ttlJitter\": a number is a fraction of the ttl in [0, 1) (0.1 = ±10%), got 5; for ±5 seconds write '5s'"],
    ['refreshAhead in seconds', () => new CacheStack([new MemoryLayer()], { refreshAhead: 30 }), 'Invalid option "refreshAhead": expected a fraction of the ttl in [0, 1) such as 0.8, got 30'],
  ])('%s fails in the constructor with the direction the guide quotes', (_name, build, message) => {
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(message);
  });
});
