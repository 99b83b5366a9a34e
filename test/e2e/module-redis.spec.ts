import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Module, Param } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import request from 'supertest';
import { CacheStack, LayerCacheModule, MemoryLayer, RedisLayer, type LayerCacheModuleOptions } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { watchRedisClients, type RedisClientWatch } from '../support/redis-clients.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

let clients: RedisClientWatch | undefined;
afterEach(() => clients?.stop());

/** Starts watching the ioredis clients opened from now on (the module's own connection is the first). */
function watchClients(): RedisClientWatch {
  clients?.stop();
  clients = watchRedisClients();
  return clients;
}

@Controller('greetings')
class GreetingsController {
  loads = 0;
  constructor(@Inject(CacheStack) private readonly cache: CacheStack) {}

  @Get(':name')
  async greet(@Param('name') name: string): Promise<{ text: string }> {
    return (await this.cache.get(`greeting:${name}`, () => ({ text: `hello ${name} (load ${++this.loads})` }))) as { text: string };
  }
}

describe('LayerCacheModule with Redis', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });

  describe.each(ADAPTERS)('forRootAsync with @nestjs/config reading REDIS_URL, on %s', (adapter) => {
    const prefix = `e2e:${randomUUID()}:`;

    @Module({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true }),
        LayerCacheModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService): LayerCacheModuleOptions => ({
            layers: [() => new MemoryLayer({ ttl: 60 })],
            redis: config.getOrThrow<string>('REDIS_URL'),
            redisLayer: { prefix },
          }),
        }),
      ],
      controllers: [GreetingsController],
    })
    class AppModule {}

    beforeAll(() => {
      process.env['REDIS_URL'] = server.url;
    });
    afterAll(() => {
      delete process.env['REDIS_URL'];
    });

    it('builds memory + Redis; a value one app stored is read by a second app on the same Redis', async () => {
      const first = await startApp({ imports: [AppModule] }, adapter);
      const second = await startApp({ imports: [AppModule] }, adapter);
      try {
        const stack = first.get(CacheStack);
        expect(Object.keys(stack.getMetrics().layers)).toEqual(['memory', 'redis']);

        const stored = await request(first.getHttpServer()).get('/greetings/ada').expect(200);
        expect(stored.body).toEqual({ text: 'hello ada (load 1)' });
        expect(await admin.exists(`${prefix}greeting:ada`)).toBe(1);

        const read = await request(second.getHttpServer()).get('/greetings/ada').expect(200);
        expect(read.body).toEqual({ text: 'hello ada (load 1)' });
        expect(second.get(GreetingsController).loads).toBe(0);
        expect(second.get(CacheStack).getMetrics().layers['redis']?.hits).toBe(1);
      } finally {
        await first.close();
        await second.close();
      }
    });
  });

  describe.each(ADAPTERS)('two apps on one Redis (distributed: on by default), on %s', (adapter) => {
    const prefix = `e2e:${randomUUID()}:`;

    const connections = async (): Promise<number> => String(await admin.client('LIST')).trim().split('\n').length;

    it('the bus keeps their L1s coherent, a miss loads once across both, and close() leaves no connection behind', async () => {
      const before = await connections();
      const peer = () => ({ imports: [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix } })], controllers: [GreetingsController] });
      const first = await startApp(peer(), adapter);
      const second = await startApp(peer(), adapter);
      try {
        const [a, b] = [first.get(CacheStack), second.get(CacheStack)];
        for (const stack of [a, b]) {
          expect(stack.getMetrics().bus).toBeDefined();
          expect(stack.getMetrics().singleFlight).toBeDefined();
        }

        await request(first.getHttpServer()).get('/greetings/ada').expect(200);
        expect((await request(second.getHttpServer()).get('/greetings/ada').expect(200)).body).toEqual({ text: 'hello ada (load 1)' });
        await a.set('greeting:ada', { text: 'changed' });
        const deadline = Date.now() + 5_000;
        let body: unknown;
        do {
          body = (await request(second.getHttpServer()).get('/greetings/ada').expect(200)).body;
        } while ((body as { text: string }).text !== 'changed' && Date.now() < deadline);
        expect(body).toEqual({ text: 'changed' }); // not the copy in the second app's L1

        const cold = [first, second].flatMap((app) => Array.from({ length: 10 }, () => request(app.getHttpServer()).get('/greetings/bob').expect(200)));
        const bodies = (await Promise.all(cold)).map((response) => response.body as { text: string });
        expect(new Set(bodies.map((b) => b.text)).size).toBe(1);
        expect(first.get(GreetingsController).loads + second.get(GreetingsController).loads).toBe(2); // ada once, bob once
      } finally {
        await first.close();
        await second.close();
      }
      const deadline = Date.now() + 5_000;
      while ((await connections()) > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await connections()).toBe(before);
    });
  });

  it('distributed: false sets up neither; distributed without redis is a configuration error', async () => {
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ redis: server.url, distributed: false, redisLayer: { prefix: `e2e:${randomUUID()}:` } })] });
    try {
      expect(app.get(CacheStack).getMetrics().bus).toBeUndefined();
      expect(app.get(CacheStack).getMetrics().singleFlight).toBeUndefined();
    } finally {
      await app.close();
    }
    expect(() => LayerCacheModule.forRoot({ distributed: true })).toThrow('Invalid option "distributed": needs the redis option');
    expect(() => LayerCacheModule.forRoot({ redis: server.url, distributed: { secret: '' } })).toThrow('Invalid option "distributed.secret"');
  });

  it('redis: URL opens a connection for the app with fail-fast settings and quits it on app.close()', async () => {
    const watch = watchClients();
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix: `e2e:${randomUUID()}:` } })] });
    const stack = app.get(CacheStack);
    const client = watch.first();
    expect(client.status).toBe('ready'); // startup waited for the first connection attempt
    expect(client.options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await stack.set('k', 'v');
    expect(await stack.get('k')).toBe('v');

    await app.close();
    expect(client.status).toBe('end');
    await expect(stack.get('k')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
  });

  it('redis: RedisOptions are used, and the module defaults yield to them', async () => {
    const watch = watchClients();
    const app = await startApp({
      imports: [LayerCacheModule.forRoot({ redis: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 3, connectionName: 'layercache-e2e' } })],
    });
    const client = watch.first();
    try {
      expect(client.options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 3 });
      expect(await client.client('GETNAME')).toBe('layercache-e2e');
    } finally {
      await app.close();
    }
    expect(client.status).toBe('end');
  });

  it('redis: { client } uses your connection and leaves it open after app.close()', async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, connectionName: 'mine' });
    const prefix = `e2e:${randomUUID()}:`;
    try {
      const watch = watchClients();
      const app = await startApp({ imports: [LayerCacheModule.forRoot({ layers: [], redis: { client }, redisLayer: { prefix, name: 'shared' } })] });
      const stack = app.get(CacheStack);
      expect(Object.keys(stack.getMetrics().layers)).toEqual(['shared']); // layers: [] + redis = Redis only
      // The module opened no connection of its own: only duplicates of yours (the bus and lease subscribers).
      expect(watch.opened.filter((opened) => opened.options.connectionName !== 'mine')).toEqual([]);
      await stack.set('k', 'v');
      expect(await admin.exists(`${prefix}k`)).toBe(1);

      await app.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });

  it('redisLayer: { compression } compresses large values in Redis, read back by the app', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ redis: server.url, distributed: false, redisLayer: { prefix, compression: 'gzip' } })] });
    try {
      const stack = app.get(CacheStack);
      const value = { text: 'compressible '.repeat(500) };
      await stack.set('big', value);
      await stack.set('small', 'v');
      expect((await admin.getBuffer(`${prefix}big`))?.[3]).toBe(8); // flag bit 3: compressed
      expect(await admin.strlen(`${prefix}big`)).toBeLessThan(1000);
      expect((await admin.getBuffer(`${prefix}small`))?.[3]).toBe(0); // below the threshold
      // Another reader of the same prefix, without compression of its own, reads it.
      expect((await new RedisLayer({ client: admin, prefix }).get('big'))?.value).toEqual(value);
    } finally {
      await app.close();
    }
  });

  it('starts when Redis is down (the stack answers from the loader) and closes the retrying connection', async () => {
    const down = await startRedisServer();
    const url = down.url;
    await down.stop();
    const watch = watchClients();
    const app = await Test.createTestingModule({ imports: [LayerCacheModule.forRoot({ redis: url, logger: { warn: () => {}, error: () => {} } })] }).compile();
    const stack = app.get(CacheStack);
    const client = watch.first();
    expect(client.status).not.toBe('ready');
    expect(await stack.get('k', () => 'loaded')).toBe('loaded');

    await app.close();
    await expect(stack.get('k')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
    // No retry is left scheduled: the connection ended, or ioredis cancelled the pending reconnect.
    expect(['end', 'reconnecting']).toContain(client.status);
    expect((client as unknown as { reconnectTimeout: unknown }).reconnectTimeout ?? null).toBeNull();
  });
});
