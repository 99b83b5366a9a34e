/**
 * Test mode and overriding (docs/testing.md), on Express and Fastify: `LayerCacheModule.forRoot({ enabled: false })`
 * (and a `forRootAsync` factory returning it) runs every decorated method and `@HttpCache` route on each call and
 * opens nothing; `overrideProvider(CacheStack)` builds none of the module's stack. "Opens nothing" is counted: Redis
 * is configured at a TCP server of the test that counts the connections it accepts (and drops them).
 */
import 'reflect-metadata';
import { createServer, type Server, type Socket } from 'node:net';
import { Controller, Get, Inject, Injectable, Module, Param, type DynamicModule, type INestApplication, type LoggerService } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
import {
  Cacheable,
  CacheEvict,
  CachePut,
  CacheStack,
  getCacheHealthIndicatorToken,
  getCacheLayerToken,
  getCacheStackToken,
  HttpCache,
  LayerCacheHealthIndicator,
  LayerCacheInterceptor,
  LayerCacheModule,
  MemoryLayer,
  PassThroughLayer,
  type LayerCacheModuleOptions,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { ADAPTERS, type AdapterName } from '../support/nest-app.js';

/** A TCP server that counts the connections it accepts and drops them at once. */
class CountingServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly seen: { connections: number; sockets: Set<Socket> },
  ) {}

  /** The connections accepted so far. */
  get connections(): number {
    return this.seen.connections;
  }

  static async start(): Promise<CountingServer> {
    const seen = { connections: 0, sockets: new Set<Socket>() };
    const server = createServer((socket) => {
      seen.connections++;
      seen.sockets.add(socket);
      socket.on('error', () => {});
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return new CountingServer(server, `redis://127.0.0.1:${port}`, seen);
  }

  async stop(): Promise<void> {
    for (const socket of this.seen.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The app's Nest logger: keeps the warnings and errors. */
class RecordingNestLogger implements LoggerService {
  readonly problems: string[] = [];
  log(): void {}
  debug(): void {}
  verbose(): void {}
  warn(message: unknown): void {
    this.problems.push(`warn: ${String(message)}`);
  }
  error(message: unknown): void {
    this.problems.push(`error: ${String(message)}`);
  }
}

@Injectable()
class ItemsService {
  reads = 0;
  writes = 0;
  removals = 0;

  @Cacheable({ key: 'item:{0}' })
  async find(id: string): Promise<{ id: string; read: number }> {
    return { id, read: ++this.reads };
  }

  @CachePut({ key: 'item:{0}' })
  async update(id: string): Promise<{ id: string; write: number }> {
    return { id, write: ++this.writes };
  }

  @CacheEvict({ keys: ['item:{0}'] })
  async remove(_id: string): Promise<void> {
    this.removals++;
  }

  @Cacheable({ key: 'named:{0}', stack: 'sessions' })
  async session(id: string): Promise<{ id: string; read: number }> {
    return { id, read: ++this.reads };
  }
}

@Controller('items')
class ItemsController {
  handled = 0;
  constructor(@Inject(ItemsService) readonly items: ItemsService) {}

  @Get(':id')
  @HttpCache({ ttl: 60 })
  item(@Param('id') id: string): { id: string; handled: number } {
    return { id, handled: ++this.handled };
  }

  @Get('service/:id')
  async viaService(@Param('id') id: string): Promise<{ id: string; read: number }> {
    return this.items.find(id);
  }
}

/** What the registrations of a test did: layer factories called, warm loaders run. */
interface Calls {
  layerFactories: number;
  warmLoads: number;
}

/** The app's module: the default and a named registration from `register`, the service, the routes, the interceptor. */
function appModule(register: (calls: Calls) => DynamicModule[], calls: Calls) {
  @Module({
    imports: register(calls),
    controllers: [ItemsController],
    providers: [ItemsService, { provide: APP_INTERCEPTOR, useClass: LayerCacheInterceptor }],
  })
  class AppModule {}
  return AppModule;
}

/** The options of a registration that would open Redis at `url`, build a layer and warm a key. */
function busyOptions(url: string, calls: Calls, clock: FakeClock): LayerCacheModuleOptions {
  return {
    layers: [
      () => {
        calls.layerFactories++;
        return new MemoryLayer();
      },
    ],
    redis: url,
    clock,
    warm: { entries: [{ key: 'warm:1', loader: () => ++calls.warmLoads }], blockStartup: true },
  };
}

const opened: INestApplication[] = [];

async function start(
  adapter: AdapterName,
  root: ReturnType<typeof appModule>,
  logger: RecordingNestLogger,
  customize: (builder: TestingModuleBuilder) => TestingModuleBuilder = (builder) => builder,
): Promise<INestApplication> {
  const moduleRef = await customize(Test.createTestingModule({ imports: [root] }).setLogger(logger)).compile();
  const app = adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
  app.useLogger(logger);
  opened.push(app);
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(ADAPTERS)('test mode and overriding, on %s', (adapter) => {
  let redis: CountingServer;
  let logger: RecordingNestLogger;
  beforeEach(async () => {
    redis = await CountingServer.start();
    logger = new RecordingNestLogger();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((app) => app.close()));
    await redis.stop();
  });

  /** The routes, the decorated methods and the stack run uncached; nothing was opened, built, warmed or logged. */
  async function expectUncached(app: INestApplication, calls: Calls, clocks: FakeClock[], layerTokens: boolean): Promise<void> {
    const server = app.getHttpServer();
    const first = await request(server).get('/items/1').expect(200);
    const second = await request(server).get('/items/1').expect(200);
    expect([first.body, second.body]).toEqual([
      { id: '1', handled: 1 },
      { id: '1', handled: 2 },
    ]);
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
    expect((await request(server).get('/items/service/7')).body).toEqual({ id: '7', read: 1 });
    expect((await request(server).get('/items/service/7')).body).toEqual({ id: '7', read: 2 });

    const items = app.get(ItemsService);
    await items.update('7');
    expect(await items.find('7')).toEqual({ id: '7', read: 3 }); // the @CachePut stored nothing
    await items.remove('7');
    expect(items.removals).toBe(1);
    expect(await items.session('s')).toEqual({ id: 's', read: 4 });
    expect(await items.session('s')).toEqual({ id: 's', read: 5 });
    // Bypassed, not merely uncached: concurrent calls of one key run the method each (no single-flight either).
    expect(await Promise.all([items.find('c'), items.find('c')])).toEqual([
      { id: 'c', read: 6 },
      { id: 'c', read: 7 },
    ]);

    const stack = app.get(CacheStack);
    let loads = 0;
    expect(await stack.get('k', () => ++loads)).toBe(1);
    expect(await stack.get('k', () => ++loads)).toBe(2);
    await stack.set('k', 'v');
    expect(await stack.get('k')).toBeUndefined();
    expect(await app.get(getCacheStackToken('sessions')).get('k', () => 'loaded')).toBe('loaded');
    expect(Object.keys(stack.getMetrics().layers)).toEqual(['pass-through']);
    expect((await app.get<LayerCacheHealthIndicator>(getCacheHealthIndicatorToken()).isHealthy('cache')).cache.status).toBe('up');
    if (layerTokens) expect(app.get(getCacheLayerToken('memory', 'sessions'))).toBeInstanceOf(PassThroughLayer);

    await new Promise((resolve) => setTimeout(resolve, 50)); // a connection attempt would have reached the server
    expect(redis.connections).toBe(0);
    expect(calls).toEqual({ layerFactories: 0, warmLoads: 0 });
    expect(clocks.map((clock) => clock.pendingTimers)).toEqual([0, 0]);
    expect(logger.problems).toEqual([]);
  }

  it('forRoot({ enabled: false }): every route and decorated method runs each time; CacheStack stores nothing; nothing is opened', async () => {
    const calls: Calls = { layerFactories: 0, warmLoads: 0 };
    const clocks = [new FakeClock(), new FakeClock()];
    const root = appModule(
      () => [
        LayerCacheModule.forRoot({ ...busyOptions(redis.url, calls, clocks[0] as FakeClock), enabled: false }),
        LayerCacheModule.forRoot({ ...busyOptions(redis.url, calls, clocks[1] as FakeClock), name: 'sessions', enabled: false, layers: undefined }),
      ],
      calls,
    );
    const app = await start(adapter, root, logger);
    await expectUncached(app, calls, clocks, true);
  });

  it('forRootAsync: a factory returning enabled: false runs uncached and opens nothing', async () => {
    const calls: Calls = { layerFactories: 0, warmLoads: 0 };
    const clocks = [new FakeClock(), new FakeClock()];
    const root = appModule(
      () => [
        LayerCacheModule.forRootAsync({ useFactory: () => ({ ...busyOptions(redis.url, calls, clocks[0] as FakeClock), enabled: process.env['NO_SUCH_FLAG'] === 'on' }) }),
        LayerCacheModule.forRootAsync({ name: 'sessions', useFactory: async () => ({ ...busyOptions(redis.url, calls, clocks[1] as FakeClock), enabled: false }) }),
      ],
      calls,
    );
    const app = await start(adapter, root, logger);
    await expectUncached(app, calls, clocks, false);
  });

  it('enabled: true (the control): the same app caches, and its Redis connection reaches the counting server', async () => {
    const calls: Calls = { layerFactories: 0, warmLoads: 0 };
    const root = appModule(
      () => [
        LayerCacheModule.forRoot({ ...busyOptions(redis.url, calls, new FakeClock()), logger: { warn: () => {}, error: () => {} } }),
        LayerCacheModule.forRoot({ name: 'sessions' }),
      ],
      calls,
    );
    const app = await start(adapter, root, logger);
    const server = app.getHttpServer();
    await request(server).get('/items/1').expect(200);
    const hit = await request(server).get('/items/1').expect(200);
    expect([hit.body, hit.headers['x-cache']]).toEqual([{ id: '1', handled: 1 }, 'HIT']);
    expect(calls).toEqual({ layerFactories: 1, warmLoads: 1 });
    expect(redis.connections).toBeGreaterThan(0);
  });

  it('overrideProvider(CacheStack): the module builds no stack and opens nothing; the app runs on the given stack', async () => {
    const calls: Calls = { layerFactories: 0, warmLoads: 0 };
    const clock = new FakeClock();
    const root = appModule(
      () => [LayerCacheModule.forRoot(busyOptions(redis.url, calls, clock)), LayerCacheModule.forRoot({ name: 'sessions', ...busyOptions(redis.url, calls, clock) })],
      calls,
    );
    const fake = new CacheStack([new MemoryLayer()]);
    const sessions = new CacheStack([new MemoryLayer()]);
    const app = await start(adapter, root, logger, (builder) =>
      builder.overrideProvider(CacheStack).useValue(fake).overrideProvider(getCacheStackToken('sessions')).useValue(sessions),
    );
    const server = app.getHttpServer();
    expect(app.get(CacheStack)).toBe(fake);
    await request(server).get('/items/1').expect(200);
    const hit = await request(server).get('/items/1').expect(200);
    expect([hit.body, hit.headers['x-cache']]).toEqual([{ id: '1', handled: 1 }, 'HIT']); // cached in the given stack
    expect((await request(server).get('/items/service/7')).body).toEqual({ id: '7', read: 1 });
    expect((await request(server).get('/items/service/7')).body).toEqual({ id: '7', read: 1 });
    expect(await fake.get('item:7')).toEqual({ id: '7', read: 1 });
    await app.get(ItemsService).session('s');
    expect(await sessions.get('named:s')).toEqual({ id: 's', read: 2 });
    // The module's layers are not built: its layer tokens stand in with layers that store nothing.
    expect(app.get(getCacheLayerToken('redis'))).toBeInstanceOf(PassThroughLayer);

    await app.close();
    opened.splice(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(redis.connections).toBe(0);
    expect(calls).toEqual({ layerFactories: 0, warmLoads: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(logger.problems).toEqual([]);
    await fake.close();
    await sessions.close();
  });
});
