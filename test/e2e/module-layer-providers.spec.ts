/**
 * Layers as providers (docs/testing.md, "Layers as providers"), on Express and Fastify against a real redis-server:
 * each named layer of a registration is injectable by `getCacheLayerToken(name, stack)` / `@InjectCacheLayer`; a layer
 * can be declared as `{ name, useFactory, inject }`, `{ name, useClass }` or `{ name, useExisting }` (built from an
 * ioredis client the app provides), in forRoot and forRootAsync; the module closes only the layers it built; names are
 * unique per stack; an overridden stack builds none of them.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Global, Inject, Injectable, Module, Param, type DynamicModule, type INestApplication, type Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  CacheStack,
  getCacheLayerToken,
  getCacheStackToken,
  InjectCacheLayer,
  InvalidOptionError,
  LayerCacheModule,
  MemoryLayer,
  PassThroughLayer,
  RedisLayer,
  type MemoryLayerOptions,
} from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** The app's own ioredis client. */
const REDIS = Symbol('REDIS');
/** The app's own layer instance (for useExisting). */
const SHARED_LAYER = Symbol('SHARED_LAYER');

/** A memory layer that counts its `close()` calls. */
class CountingLayer extends MemoryLayer {
  closes = 0;
  constructor(options: MemoryLayerOptions) {
    super(options);
  }
  override close(): void {
    this.closes++;
    super.close();
  }
}

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

const apps: INestApplication[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(clients.splice(0).map((client) => client.quit()));
});

/** A module providing the app's ioredis client (the app owns it: the test quits it), global or to import. */
function redisModule(global: boolean): DynamicModule {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  clients.push(client);
  return { module: class AppRedisModule {}, global, providers: [{ provide: REDIS, useValue: client }], exports: [REDIS] };
}

/** The app's client, from a started app. */
function appClient(app: INestApplication): Redis {
  return app.get<Redis>(REDIS, { strict: false });
}

async function start(adapter: AdapterName, imports: unknown[], controllers: unknown[] = [], providers: Provider[] = []): Promise<INestApplication> {
  const app = await startApp({ imports: imports as DynamicModule[], controllers: controllers as never[], providers }, adapter);
  apps.push(app);
  return app;
}

/** The Redis keys under `prefix`. */
async function keysUnder(prefix: string): Promise<string[]> {
  return (await admin.keys(`${prefix}*`)).filter((key) => !key.includes('\x1f'));
}

@Controller('layers')
class LayersController {
  constructor(
    @InjectCacheLayer('memory') readonly memory: MemoryLayer,
    @InjectCacheLayer('redis') readonly redis: RedisLayer,
  ) {}

  /** Reads one key straight from the Redis layer, past the stack. */
  @Get('redis/:key')
  async fromRedis(@Param('key') key: string): Promise<{ value: unknown }> {
    const entry = await this.redis.get(key);
    return { value: entry?.value ?? null };
  }
}

describe.each(ADAPTERS)('layers as providers, on %s', (adapter) => {
  it('injects each layer of the default stack by name: the memory layer and the redis shortcut\'s', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    const app = await start(adapter, [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix }, distributed: false, logger: silentLogger })], [LayersController]);
    const stack = app.get(CacheStack);
    const controller = app.get(LayersController);
    expect(Object.keys(stack.getMetrics().layers)).toEqual(['memory', 'redis']);
    expect(controller.memory).toBeInstanceOf(MemoryLayer);
    expect(controller.redis).toBeInstanceOf(RedisLayer);
    expect(app.get(getCacheLayerToken('redis'))).toBe(controller.redis);

    await stack.set('greeting', 'hello');
    expect((await request(app.getHttpServer()).get('/layers/redis/greeting').expect(200)).body).toEqual({ value: 'hello' });
    expect(controller.memory.get('greeting')?.value).toBe('hello');
    await stack.delete('greeting');
    expect((await request(app.getHttpServer()).get('/layers/redis/greeting').expect(200)).body).toEqual({ value: null });
  });

  it('keeps the layers of named stacks apart: one token per stack and layer name', async () => {
    const app = await start(adapter, [LayerCacheModule.forRoot({ logger: silentLogger }), LayerCacheModule.forRoot({ name: 'sessions', logger: silentLogger })]);
    const mine = app.get<MemoryLayer>(getCacheLayerToken('memory'));
    const sessions = app.get<MemoryLayer>(getCacheLayerToken('memory', 'sessions'));
    expect(mine).toBeInstanceOf(MemoryLayer);
    expect(sessions).not.toBe(mine);
    await app.get<CacheStack>(getCacheStackToken('sessions')).set('s:1', 'session');
    expect([sessions.get('s:1')?.value, mine.get('s:1')]).toEqual(['session', undefined]);
  });

  it('useFactory + inject: a RedisLayer on the app\'s ioredis client; the module leaves the client open', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    let built = 0;
    const app = await start(adapter, [
      redisModule(true),
      LayerCacheModule.forRoot({
        logger: silentLogger,
        layers: [
          { name: 'l1', useFactory: () => new MemoryLayer({ name: 'l1' }) },
          { name: 'redis', useFactory: (client: Redis) => (built++, new RedisLayer({ client, prefix })), inject: [REDIS] },
        ],
      }),
    ]);
    const stack = app.get(CacheStack);
    const client = appClient(app);
    expect(built).toBe(1);
    expect(Object.keys(stack.getMetrics().layers)).toEqual(['l1', 'redis']);
    expect(app.get<RedisLayer>(getCacheLayerToken('redis'))).toBeInstanceOf(RedisLayer);
    await stack.set('item:1', { id: 1 });
    expect(await keysUnder(prefix)).toEqual([`${prefix}item:1`]);

    await app.close();
    apps.splice(0);
    expect(client.status).toBe('ready'); // the app's client: not the module's to quit
    expect(await client.ping()).toBe('PONG');
  });

  it('forRootAsync({ layers }) with useClass: a layer class whose constructor injects the client of an imported module', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    @Injectable()
    class AppRedisLayer extends RedisLayer {
      static built = 0;
      constructor(@Inject(REDIS) client: Redis) {
        super({ client, prefix, name: 'app-redis' });
        AppRedisLayer.built++;
      }
    }
    const app = await start(adapter, [
      LayerCacheModule.forRootAsync({
        imports: [redisModule(false)],
        useFactory: () => ({ ttl: 30, logger: silentLogger }),
        layers: [{ name: 'l1', useFactory: () => new MemoryLayer({ name: 'l1' }) }, { name: 'app-redis', useClass: AppRedisLayer }],
      }),
    ]);
    const stack = app.get(CacheStack);
    expect(AppRedisLayer.built).toBe(1);
    expect(app.get(getCacheLayerToken('app-redis'))).toBeInstanceOf(AppRedisLayer);
    await stack.set('k', 'v');
    expect(await keysUnder(prefix)).toEqual([`${prefix}k`]);
    expect(await admin.pttl(`${prefix}k`)).toBeGreaterThan(25_000); // the factory's ttl: 30 s
  });

  it('useExisting: the app\'s layer instance is used and injected as is, and only the layers the module built are closed', async () => {
    const shared = new CountingLayer({ name: 'shared' });
    let own: CountingLayer | undefined;
    @Global()
    @Module({ providers: [{ provide: SHARED_LAYER, useValue: shared }], exports: [SHARED_LAYER] })
    class LayersModule {}
    const app = await start(adapter, [
      LayersModule,
      LayerCacheModule.forRoot({
        logger: silentLogger,
        layers: [{ name: 'own', useFactory: () => (own = new CountingLayer({ name: 'own' })) }, { name: 'shared', useExisting: SHARED_LAYER }],
      }),
    ]);
    expect(app.get(getCacheLayerToken('shared'))).toBe(shared);
    expect(app.get(getCacheLayerToken('own'))).toBe(own);
    const stack = app.get(CacheStack);
    await stack.set('k', 42);
    expect(shared.get('k')?.value).toBe(42); // the stack writes through to the app's instance

    await app.close();
    apps.splice(0);
    expect([own?.closes, shared.closes]).toEqual([1, 0]);
    expect(shared.get('k')?.value).toBe(42);
  });

  it('overrideProvider(CacheStack): no layer definition is built; the layer tokens stand in with layers that store nothing', async () => {
    let built = 0;
    @Injectable()
    class ClassLayer extends MemoryLayer {
      constructor() {
        super({ name: 'class-layer' });
        built++;
      }
    }
    const fake = new CacheStack([new MemoryLayer()]);
    const moduleRef = await Test.createTestingModule({
      imports: [
        redisModule(true),
        LayerCacheModule.forRoot({
          logger: silentLogger,
          layers: [
            { name: 'from-factory', useFactory: () => (built++, new MemoryLayer({ name: 'from-factory' })) },
            { name: 'class-layer', useClass: ClassLayer },
          ],
        }),
      ],
    })
      .overrideProvider(CacheStack)
      .useValue(fake)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    expect(built).toBe(0);
    expect(app.get(getCacheLayerToken('class-layer'))).toBeInstanceOf(PassThroughLayer);
    expect(app.get<PassThroughLayer>(getCacheLayerToken('from-factory')).name).toBe('from-factory');
    await fake.close();
  });
});

describe('layer names and definitions are checked', () => {
  it('two layers of one stack with one name: an InvalidOptionError naming both, when forRoot is called', () => {
    expect(() => LayerCacheModule.forRoot({ layers: [new MemoryLayer(), new MemoryLayer()] })).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ layers: [new MemoryLayer(), new MemoryLayer()] })).toThrow(/layers\[0\] and layers\[1\] are both named "memory"/);
    expect(() => LayerCacheModule.forRoot({ layers: [new MemoryLayer({ name: 'redis' })], redis: server.url })).toThrow(/layers\[0\] and the redis layer are both named "redis"/);
  });

  it('two layers built with one name: the app does not start', async () => {
    const compile = Test.createTestingModule({
      imports: [LayerCacheModule.forRoot({ logger: silentLogger, layers: [() => new MemoryLayer(), () => new MemoryLayer()] })],
    }).compile();
    await expect(compile).rejects.toThrow(/layers\[0\] and layers\[1\] are both named "memory"/);
  });

  it('a definition\'s name must be the built layer\'s: layers[i].name', async () => {
    const compile = Test.createTestingModule({
      imports: [LayerCacheModule.forRoot({ logger: silentLogger, layers: [{ name: 'l1', useFactory: () => new MemoryLayer() }] })],
    }).compile();
    await expect(compile).rejects.toThrow(/"layers\[0\]\.name": is "l1" but the layer provided is named "memory"/);
  });

  it('a definition without a name, with an unknown key, or with two kinds: an InvalidOptionError naming it', () => {
    const factory = () => new MemoryLayer();
    expect(() => LayerCacheModule.forRoot({ layers: [{ useFactory: factory } as never] })).toThrow(/"layers\[0\]\.name"/);
    expect(() => LayerCacheModule.forRoot({ layers: [{ name: 'memory', useFactory: factory, injects: [] } as never] })).toThrow(/"layers\[0\]\.injects".*did you mean "inject"/);
    expect(() => LayerCacheModule.forRoot({ layers: [{ name: 'memory', useFactory: factory, useExisting: 'X' } as never] })).toThrow(/"layers\[0\]": expected one of useFactory, useClass, useExisting/);
    expect(() => LayerCacheModule.forRoot({ enabled: 'no' as never })).toThrow(/"enabled": expected a boolean/);
    expect(() => LayerCacheModule.forRootAsync({ useFactory: () => ({}), layers: [{ name: 'x', useClass: 'nope' as never }] })).toThrow(/"layers\[0\]\.useClass"/);
  });

  it('forRootAsync: definitions belong in its static layers, and layers are given in one place', async () => {
    const inResult = Test.createTestingModule({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ logger: silentLogger, layers: [{ name: 'memory', useFactory: () => new MemoryLayer() }] }) })],
    }).compile();
    await expect(inResult).rejects.toThrow(/declare it in forRootAsync\(\{ layers \}\)/);
    const twice = Test.createTestingModule({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ logger: silentLogger, layers: [new MemoryLayer()] }), layers: [() => new MemoryLayer()] })],
    }).compile();
    await expect(twice).rejects.toThrow(/given both in forRootAsync\(\{ layers \}\) and by its factory/);
  });
});
