/**
 * The migration guide from @nestjs/cache-manager (docs/migration/from-nestjs-cache-manager.md), checked: the
 * example app on @nestjs/cache-manager + cache-manager 7 (examples/from-cache-manager/before) and the same app on
 * nestjs-layercache (…/after) answer the guide's scenarios — a cached GET (`@CacheKey` → a declared key), invalidation
 * after a mutation (`cache.mdel` → `@CacheEvict({ keys })`), ttl expiry, a ttl computed per request
 * (`@CacheTTL(ctx => ms)` → `ttl: (req) => s`), `wrap` + `ttl(key)` — identically, on Express and Fastify, on memory
 * and on Redis. Then the guide's other checked claims: the "after" app in test mode (`enabled: false`: every route
 * runs, no connection is opened), and what a ported `CacheModule` configuration meets at startup (a foreign option
 * name fails with a direction; a ttl in milliseconds logs one warning).
 *
 * Hard part: time. cache-manager (Keyv) and the stack both read `Date.now()`, so only `Date` is faked
 * (`jest.useFakeTimers` with every other timer real) and moved with `jest.setSystemTime`: no sleeps, and the
 * same clock for both apps. Each scenario returns a transcript (status, `X-Cache` of GETs, body); the test asserts
 * the "before" transcript against what the guide says, then the "after" transcript equal to it.
 */
import 'reflect-metadata';
import { createServer, type Server, type Socket } from 'node:net';
import { jest } from '@jest/globals';
import type { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import request from 'supertest';
import { InvalidOptionError, LayerCacheModule, type LayerCacheModuleOptions } from '../../lib/index.js';
import { AppModule as AfterModule } from '../../examples/from-cache-manager/after/app.module.js';
import { AppModule as BeforeModule } from '../../examples/from-cache-manager/before/app.module.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** One request of a scenario and what it answered. */
interface Step {
  readonly call: string;
  readonly status: number;
  /** `X-Cache` of a GET answered through an interceptor (mutations and `/stats` have none to compare). */
  readonly xCache?: string;
  readonly body: unknown;
}

/** A scenario: requests and clock moves against one started app. */
type Scenario = (app: Driver) => Promise<void>;

/** What a scenario drives: requests (recorded) and the faked `Date`. */
interface Driver {
  get(path: string): Promise<void>;
  send(method: 'post' | 'put', path: string, body: object): Promise<void>;
  /** Moves `Date.now()` to `ms` after the scenario's start. */
  at(ms: number): void;
}

/** The faked time starts at the real time (a clock far from the Redis server's stalls the Redis locks' leases). */
const T0 = Math.ceil(Date.now() / 1000) * 1000;
const ONLY_DATE = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] as const;

async function run(module: Type, adapter: AdapterName, scenario: Scenario): Promise<Step[]> {
  jest.useFakeTimers({ doNotFake: [...ONLY_DATE], now: T0 });
  let app: INestApplication | undefined;
  try {
    app = await startApp({ imports: [module] }, adapter);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    const steps: Step[] = [];
    await scenario({
      async get(path) {
        const res = await request(url).get(path);
        const xCache = res.headers['x-cache'];
        steps.push({ call: `GET ${path}`, status: res.status, ...(typeof xCache === 'string' && { xCache }), body: res.body as unknown });
      },
      async send(method, path, body) {
        const res = await request(url)[method](path).send(body);
        steps.push({ call: `${method.toUpperCase()} ${path}`, status: res.status, body: res.body as unknown });
      },
      at(ms) {
        jest.setSystemTime(T0 + ms);
      },
    });
    return steps;
  } finally {
    await app?.close();
    jest.useRealTimers();
  }
}

const keyboard = { id: 1, name: 'Keyboard' };
const trackball = { id: 2, name: 'Trackball' };

/** A GET's HIT repeats its MISS's body: the handler did not run (its `loads` did not move). */
const cachedGet: Scenario = async (app) => {
  await app.get('/items');
  await app.get('/items');
  await app.get('/items?page=2'); // @CacheKey and a declared key alike: one entry, whatever the query
  await app.get('/items/1');
  await app.get('/items/1');
};
const cachedGetExpected: Step[] = [
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { items: [keyboard, trackball], loads: 1 } },
  { call: 'GET /items', status: 200, xCache: 'HIT', body: { items: [keyboard, trackball], loads: 1 } },
  { call: 'GET /items?page=2', status: 200, xCache: 'HIT', body: { items: [keyboard, trackball], loads: 1 } },
  { call: 'GET /items/1', status: 200, xCache: 'MISS', body: { ...keyboard, loads: 2 } },
  { call: 'GET /items/1', status: 200, xCache: 'HIT', body: { ...keyboard, loads: 2 } },
];

/** A mutation drops exactly the entries it changes: the renamed item and the list, not the other item. */
const invalidation: Scenario = async (app) => {
  await app.get('/items');
  await app.get('/items/1');
  await app.get('/items/2');
  await app.send('put', '/items/1', { name: 'Split keyboard' });
  await app.get('/items/1');
  await app.get('/items/2');
  await app.get('/items');
  await app.get('/stats');
  await app.send('post', '/items', { name: 'Webcam' });
  await app.get('/items');
  await app.get('/stats');
};
const renamed = { id: 1, name: 'Split keyboard' };
const webcam = { id: 3, name: 'Webcam' };
const invalidationExpected: Step[] = [
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { items: [keyboard, trackball], loads: 1 } },
  { call: 'GET /items/1', status: 200, xCache: 'MISS', body: { ...keyboard, loads: 2 } },
  { call: 'GET /items/2', status: 200, xCache: 'MISS', body: { ...trackball, loads: 3 } },
  { call: 'PUT /items/1', status: 200, body: renamed },
  { call: 'GET /items/1', status: 200, xCache: 'MISS', body: { ...renamed, loads: 4 } },
  { call: 'GET /items/2', status: 200, xCache: 'HIT', body: { ...trackball, loads: 3 } },
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { items: [renamed, trackball], loads: 5 } },
  { call: 'GET /stats', status: 200, body: { count: 2, loads: 6, expiresAt: T0 + 10_000 } },
  { call: 'POST /items', status: 201, body: webcam },
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { items: [renamed, trackball, webcam], loads: 7 } },
  { call: 'GET /stats', status: 200, body: { count: 3, loads: 8, expiresAt: T0 + 10_000 } },
];

/** The module ttl (30 s), a route's own (60 s) and `wrap`'s (10 s), each just before and just after. */
const expiry: Scenario = async (app) => {
  await app.get('/items');
  await app.get('/items/1');
  await app.get('/stats');
  app.at(9_000);
  await app.get('/stats');
  app.at(11_000);
  await app.get('/stats');
  app.at(29_000);
  await app.get('/items');
  app.at(31_000);
  await app.get('/items');
  app.at(59_000);
  await app.get('/items/1');
  app.at(61_000);
  await app.get('/items/1');
};
const page = { items: [keyboard, trackball] };
const expiryExpected: Step[] = [
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { ...page, loads: 1 } },
  { call: 'GET /items/1', status: 200, xCache: 'MISS', body: { ...keyboard, loads: 2 } },
  { call: 'GET /stats', status: 200, body: { count: 2, loads: 3, expiresAt: T0 + 10_000 } },
  { call: 'GET /stats', status: 200, body: { count: 2, loads: 3, expiresAt: T0 + 10_000 } },
  { call: 'GET /stats', status: 200, body: { count: 2, loads: 4, expiresAt: T0 + 21_000 } },
  { call: 'GET /items', status: 200, xCache: 'HIT', body: { ...page, loads: 1 } },
  { call: 'GET /items', status: 200, xCache: 'MISS', body: { ...page, loads: 5 } },
  { call: 'GET /items/1', status: 200, xCache: 'HIT', body: { ...keyboard, loads: 2 } },
  { call: 'GET /items/1', status: 200, xCache: 'MISS', body: { ...keyboard, loads: 6 } },
];

/** A ttl computed per request: 10 s for page 1, 60 s for the others, each just before and just after. */
const ttlPerRequest: Scenario = async (app) => {
  await app.get('/items/pages/1');
  await app.get('/items/pages/2');
  app.at(9_000);
  await app.get('/items/pages/1');
  app.at(11_000);
  await app.get('/items/pages/1');
  await app.get('/items/pages/2');
  app.at(59_000);
  await app.get('/items/pages/2');
  app.at(61_000);
  await app.get('/items/pages/2');
};
const page1 = { page: 1, items: [trackball] };
const page2 = { page: 2, items: [keyboard] };
const ttlPerRequestExpected: Step[] = [
  { call: 'GET /items/pages/1', status: 200, xCache: 'MISS', body: { ...page1, loads: 1 } },
  { call: 'GET /items/pages/2', status: 200, xCache: 'MISS', body: { ...page2, loads: 2 } },
  { call: 'GET /items/pages/1', status: 200, xCache: 'HIT', body: { ...page1, loads: 1 } },
  { call: 'GET /items/pages/1', status: 200, xCache: 'MISS', body: { ...page1, loads: 3 } },
  { call: 'GET /items/pages/2', status: 200, xCache: 'HIT', body: { ...page2, loads: 2 } },
  { call: 'GET /items/pages/2', status: 200, xCache: 'HIT', body: { ...page2, loads: 2 } },
  { call: 'GET /items/pages/2', status: 200, xCache: 'MISS', body: { ...page2, loads: 4 } },
];

const SCENARIOS: readonly (readonly [string, Scenario, Step[]])[] = [
  ['a GET is cached: a HIT repeats the MISS without running the handler', cachedGet, cachedGetExpected],
  ['a mutation invalidates the entries it changes, and only those', invalidation, invalidationExpected],
  ['entries expire after their ttl (module default, per route, wrap)', expiry, expiryExpected],
  ['a ttl computed per request applies to the entry it was computed for', ttlPerRequest, ttlPerRequestExpected],
];

describe.each(ADAPTERS)('migration from @nestjs/cache-manager, in memory (%s)', (adapter) => {
  it.each(SCENARIOS)('%s', async (_name, scenario, expected) => {
    const before = await run(BeforeModule, adapter, scenario);
    expect(before).toEqual(expected);
    const after = await run(AfterModule, adapter, scenario);
    expect(after).toEqual(before);
  });
});

describe.each(ADAPTERS)('migration from @nestjs/cache-manager, on Redis (%s)', (adapter) => {
  let server: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { lazyConnect: true });
    await client.connect();
    process.env['ITEMS_REDIS_URL'] = server.url;
  });
  afterAll(async () => {
    delete process.env['ITEMS_REDIS_URL'];
    await client?.quit();
    await server?.stop();
  });

  /** Runs the scenario on a flushed Redis, and checks the app did store there. */
  async function onRedis(module: Type, scenario: Scenario): Promise<Step[]> {
    await client.flushall();
    const steps = await run(module, adapter, scenario);
    expect(await client.dbsize()).toBeGreaterThan(0);
    return steps;
  }

  it.each(SCENARIOS)('%s', async (_name, scenario, expected) => {
    const before = await onRedis(BeforeModule, scenario);
    expect(before).toEqual(expected);
    const after = await onRedis(AfterModule, scenario);
    expect(after).toEqual(before);
  });
});

describe.each(ADAPTERS)('the "after" app in test mode, ITEMS_CACHE=off (%s)', (adapter) => {
  let fakeRedis: Server;
  const connections: Socket[] = [];
  beforeAll(async () => {
    // A port that accepts TCP connections and counts them: the app is configured with Redis on it.
    fakeRedis = createServer((socket) => {
      connections.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => fakeRedis.listen(0, '127.0.0.1', resolve));
    const { port } = fakeRedis.address() as { port: number };
    process.env['ITEMS_CACHE'] = 'off';
    process.env['ITEMS_REDIS_URL'] = `redis://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    delete process.env['ITEMS_CACHE'];
    delete process.env['ITEMS_REDIS_URL'];
    await new Promise((resolve) => fakeRedis.close(resolve));
  });

  it('runs every route and wrap each time (X-Cache: BYPASS) and opens no connection', async () => {
    const steps = await run(AfterModule, adapter, async (app) => {
      await app.get('/items');
      await app.get('/items');
      await app.get('/items/1');
      await app.get('/stats');
      await app.get('/stats');
    });
    expect(steps).toEqual([
      { call: 'GET /items', status: 200, xCache: 'BYPASS', body: { items: [keyboard, trackball], loads: 1 } },
      { call: 'GET /items', status: 200, xCache: 'BYPASS', body: { items: [keyboard, trackball], loads: 2 } },
      { call: 'GET /items/1', status: 200, xCache: 'BYPASS', body: { ...keyboard, loads: 3 } },
      // wrap runs the loader each time; nothing is stored, so ttl(key) is undefined (expiresAt left out of the JSON).
      { call: 'GET /stats', status: 200, body: { count: 2, loads: 4 } },
      { call: 'GET /stats', status: 200, body: { count: 2, loads: 5 } },
    ]);
    expect(connections).toHaveLength(0);
  });
});

describe('a ported CacheModule configuration at startup', () => {
  /** Compiles and starts a module registering `useFactory`'s options, as the app would at startup. */
  async function startWith(options: object, logger?: LayerCacheModuleOptions['logger']): Promise<void> {
    const moduleRef = await Test.createTestingModule({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ ...options, ...(logger !== undefined && { logger }) }) as LayerCacheModuleOptions })],
    }).compile();
    await moduleRef.init();
    await moduleRef.close();
  }

  it.each([
    ['store', { ttl: 30, store: 'redis' }, 'Invalid option "store": unknown option: layers are given as instances'],
    ['stores', { ttl: 30, stores: [] }, 'Invalid option "stores": unknown option: layers are given as instances'],
    ['max', { ttl: 30, max: 100 }, 'Invalid option "max": unknown option: set the memory layer\'s maxSize'],
    ['isGlobal', { ttl: 30, isGlobal: true }, 'Invalid option "isGlobal": unknown option: static: give isGlobal to forRootAsync beside useFactory'],
  ])('%s fails with an InvalidOptionError giving the direction the guide quotes', async (_name, options, message) => {
    const started = startWith(options);
    await expect(started).rejects.toThrow(InvalidOptionError);
    await expect(started).rejects.toThrow(message);
  });

  it('a module ttl in milliseconds (30_000) starts, and logs one warning saying it is read as seconds', async () => {
    const warnings: string[] = [];
    const logger = { log: () => undefined, debug: () => undefined, error: () => undefined, warn: (message: string) => warnings.push(message) };
    await startWith({ ttl: 30_000 }, logger);
    expect(warnings).toEqual([expect.stringContaining('ttl: 30000 is read as seconds (8.3 hours)')]);
  });
});
