/**
 * `writeBehind` and `writePolicy` through `LayerCacheModule` (`forRoot` / `forRootAsync` options flow to the
 * stack): the app's shutdown flushes the write-behind queue to Redis before the module quits its connection, on
 * Express and Fastify; a strict stack rejects a write Redis does not take; bad options are named.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CacheStack, LayerCacheModule, WriteFailedError } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

describe('LayerCacheModule with writeBehind / writePolicy', () => {
  let server: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client.disconnect();
    await server?.stop();
  });

  it.each(ADAPTERS)('%s: app.close() flushes the queued sets to Redis (forRoot)', async (adapter) => {
    const prefix = `wb:${randomUUID()}:`;
    const app = await startApp(
      { imports: [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix }, writeBehind: { flushInterval: '1h' } })] },
      adapter,
    );
    const stack = app.get(CacheStack);
    await stack.set('a', 1);
    await stack.setMany([{ key: 'b', value: 2 }]);
    expect(await stack.get('a')).toBe(1); // from L1 at once
    expect(await client.exists(`${prefix}a`)).toBe(0); // not in Redis yet
    expect(stack.getMetrics().writeBehind).toMatchObject({ queued: 2, pending: 2 });
    await app.close();
    expect(await client.exists(`${prefix}a`, `${prefix}b`)).toBe(2);
  });

  it('forRootAsync: writeBehind from the factory, flushed on shutdown', async () => {
    const prefix = `wb:${randomUUID()}:`;
    const app = await startApp({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ redis: server.url, redisLayer: { prefix }, writeBehind: { flushInterval: '1h', maxBatch: 10 } }) })],
    });
    await app.get(CacheStack).set('k', 'v');
    expect(await client.exists(`${prefix}k`)).toBe(0);
    await app.close();
    expect(await client.exists(`${prefix}k`)).toBe(1);
  });

  it("forRootAsync: writePolicy 'strict' rejects a write Redis does not take", async () => {
    const app = await startApp({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ redis: server.url, writePolicy: 'strict' as const, layerTimeout: '100ms', logger: { warn: () => undefined, error: () => undefined } }) })],
    });
    const stack = app.get(CacheStack);
    await stack.set('ok', 1);
    server.pause(); // Redis does not answer: the set times out
    try {
      const error = await stack.set('k', 'v').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WriteFailedError);
      expect(error).toMatchObject({ layer: 'redis', keys: ['k'] });
      expect(stack.peek('k')).not.toBe('v');
    } finally {
      server.resume();
    }
    await app.close();
  });

  it('bad write options are named when the module is registered', () => {
    expect(() => LayerCacheModule.forRoot({ writeBehind: { maxBatch: 0 } })).toThrow(/"writeBehind.maxBatch"/);
    expect(() => LayerCacheModule.forRoot({ writePolicy: 'strict', writeBehind: {} })).toThrow(/"writePolicy": 'strict' cannot be combined with writeBehind/);
  });
});
