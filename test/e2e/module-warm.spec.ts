/**
 * The module's startup warming (`forRoot({ warm })`, `forRootAsync`) in real Nest apps on Express and Fastify:
 * blocking and non-blocking startup, failing warmers that do not stop the app (and are logged), loaders of
 * injected services, named registrations, shutdown while warming, Redis down, and the eager checks.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Param, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import {
  CACHE_MISS,
  CacheStack,
  getCacheStackToken,
  InjectCacheStack,
  InvalidOptionError,
  LayerCacheModule,
  MemoryLayer,
  type CacheLogger,
  type LayerCacheModuleOptions,
  type LayerCacheWarmOptions,
} from '../../lib/index.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { startRedisServer } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

/** A logger that records every line, `log` included. */
class LinesLogger implements CacheLogger {
  readonly lines: { level: 'log' | 'warn' | 'error'; message: string }[] = [];
  log(message: string): void {
    this.lines.push({ level: 'log', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  has(level: 'log' | 'warn' | 'error', text: string): boolean {
    return this.lines.some((line) => line.level === level && line.message.includes(text));
  }
}

/** Answers how the default stack holds a key now (without a loader): `hit`, or `miss`. */
@Controller('cache')
class CacheController {
  constructor(@Inject(CacheStack) private readonly cache: CacheStack) {}

  @Get(':key')
  async read(@Param('key') key: string): Promise<{ status: string; value: unknown }> {
    const { status, value } = await this.cache.getDetailed(key);
    return { status, value: value ?? null };
  }
}

/** A service whose data the warmers load. */
@Injectable()
class CatalogService {
  loads = 0;
  async product(id: number): Promise<{ id: number; name: string }> {
    this.loads++;
    await sleep(5);
    return { id, name: `product ${id}` };
  }
}

@Module({ providers: [CatalogService], exports: [CatalogService] })
class CatalogModule {}

/** A gate a loader waits on until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe.each(ADAPTERS)('LayerCacheModule startup warming on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(options: LayerCacheModuleOptions, extra: { imports?: unknown[]; controllers?: unknown[] } = {}): Promise<INestApplication> {
    app = await startApp(
      {
        imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], ...options }), ...((extra.imports ?? []) as [])],
        controllers: [CacheController, ...((extra.controllers ?? []) as [])],
      },
      adapter,
    );
    return app;
  }

  it('blockStartup: true — the loaders ran before init resolved, and the first request is a hit', async () => {
    const logger = new LinesLogger();
    let initDone = false;
    const ranBeforeInit: boolean[] = [];
    const loader = async ({ key }: { key: string }) => {
      await sleep(30);
      ranBeforeInit.push(!initDone);
      return `warm ${key}`;
    };
    await start({ logger, warm: { entries: [{ key: 'config', loader }, { key: 'menu', loader, priority: 1 }], blockStartup: true } });
    initDone = true;
    expect(ranBeforeInit).toEqual([true, true]);
    const res = await request((app as INestApplication).getHttpServer()).get('/cache/config').expect(200);
    expect(res.body).toEqual({ status: 'hit', value: 'warm config' });
    expect(logger.has('log', 'warming of stack "default": 2 loaded, 0 skipped (already fresh), 0 failed of 2')).toBe(true);
  });

  it('blockStartup: false (the default) — init resolves while a slow warmer still runs; the key is a hit once it is done', async () => {
    const logger = new LinesLogger();
    const slow = gate();
    let finished = false;
    const started = await start({
      logger,
      warm: {
        entries: [
          {
            key: 'report',
            loader: async () => {
              await slow.wait;
              finished = true;
              return 'big report';
            },
          },
        ],
      },
    });
    expect(finished).toBe(false);
    const before = await request(started.getHttpServer()).get('/cache/report').expect(200);
    expect(before.body).toEqual({ status: 'miss', value: null }); // the app serves requests while warming
    slow.open();
    await waitFor(() => logger.has('log', '1 loaded'));
    const after = await request(started.getHttpServer()).get('/cache/report').expect(200);
    expect(after.body).toEqual({ status: 'hit', value: 'big report' });
  });

  it('a throwing loader does not stop the app: the rest are warmed and the failure is logged', async () => {
    const logger = new LinesLogger();
    const started = await start({
      logger,
      warm: {
        blockStartup: true,
        entries: [
          {
            key: 'broken',
            loader: () => {
              throw new Error('catalog DB down');
            },
          },
          { key: 'fine', loader: () => 'ok' },
        ],
      },
    });
    const res = await request(started.getHttpServer()).get('/cache/fine').expect(200);
    expect(res.body).toEqual({ status: 'hit', value: 'ok' });
    expect(logger.has('warn', '1 loaded, 0 skipped (already fresh), 1 failed of 2')).toBe(true);
    expect(logger.has('warn', '"broken": Error: catalog DB down')).toBe(true);
  });

  it.each([true, false])('a throwing factory (blockStartup: %s) does not stop the app and is logged as an error', async (blockStartup) => {
    const logger = new LinesLogger();
    const factory = async (): Promise<never> => {
      await sleep(5);
      throw new Error('cannot list the hot keys');
    };
    const started = await start({ logger, warm: { factory, blockStartup } });
    await waitFor(() => logger.lines.length > 0);
    expect(logger.lines).toEqual([
      { level: 'error', message: expect.stringContaining('warming of stack "default" failed (warm.factory): Error: cannot list the hot keys') },
    ]);
    await request(started.getHttpServer()).get('/cache/x').expect(200, { status: 'miss', value: null });
  });

  it('a factory returning bad entries is logged with the typed error naming the entry; the app runs', async () => {
    const logger = new LinesLogger();
    const started = await start({ logger, warm: { factory: () => [{ key: 'ok', loader: () => 1 }, { key: '', loader: () => 2 }], blockStartup: true } });
    expect(logger.has('error', 'InvalidOptionError: Invalid option "entries[1].key"')).toBe(true);
    await request(started.getHttpServer()).get('/cache/ok').expect(200, { status: 'miss', value: null }); // nothing ran
  });

  it('forRootAsync: the loaders of an injected service warm the stack (entries and factory forms)', async () => {
    app = await startApp(
      {
        imports: [
          LayerCacheModule.forRootAsync({
            imports: [CatalogModule],
            inject: [CatalogService],
            useFactory: (catalog: CatalogService): LayerCacheModuleOptions => ({
              layers: [() => new MemoryLayer()],
              logger: new LinesLogger(),
              warm: { entries: [1, 2, 3].map((id) => ({ key: `product:${id}`, loader: () => catalog.product(id) })), blockStartup: true },
            }),
          }),
          LayerCacheModule.forRootAsync({
            name: 'catalog',
            imports: [CatalogModule],
            inject: [CatalogService],
            useFactory: (catalog: CatalogService): LayerCacheModuleOptions => ({
              layers: [() => new MemoryLayer()],
              logger: new LinesLogger(),
              warm: { factory: async () => [{ key: 'featured', loader: () => catalog.product(99) }], blockStartup: true },
            }),
          }),
        ],
        controllers: [CacheController],
      },
      adapter,
    );
    const res = await request(app.getHttpServer()).get('/cache/product:2').expect(200);
    expect(res.body).toEqual({ status: 'hit', value: { id: 2, name: 'product 2' } });
    const catalogStack = app.get<CacheStack>(getCacheStackToken('catalog'), { strict: false });
    expect(catalogStack.peek('featured')).toEqual({ id: 99, name: 'product 99' });
    expect(app.get(CatalogService, { strict: false }).loads).toBe(4);
  });

  it('named registrations warm their own stack', async () => {
    @Controller('named')
    class NamedController {
      constructor(@InjectCacheStack('sessions') private readonly sessions: CacheStack) {}
      @Get(':key')
      async read(@Param('key') key: string): Promise<{ value: unknown }> {
        const value = this.sessions.peek(key);
        return { value: value === CACHE_MISS ? null : value };
      }
    }
    const started = await start(
      { logger: new LinesLogger(), warm: { entries: [{ key: 'default-only', loader: () => 'd' }], blockStartup: true } },
      {
        imports: [
          LayerCacheModule.forRoot({ name: 'sessions', layers: [() => new MemoryLayer()], logger: new LinesLogger(), warm: { entries: [{ key: 'session-only', loader: () => 's' }], blockStartup: true } }),
        ],
        controllers: [NamedController],
      },
    );
    const server = started.getHttpServer();
    await request(server).get('/cache/default-only').expect(200, { status: 'hit', value: 'd' });
    await request(server).get('/cache/session-only').expect(200, { status: 'miss', value: null });
    await request(server).get('/named/session-only').expect(200, { value: 's' });
  });
});

describe('LayerCacheModule startup warming: shutdown, Redis down, checks', () => {
  it('app.close() while warming aborts the loads, throws nothing, and logs a stop (not a failure)', async () => {
    const logger = new LinesLogger();
    const signals: AbortSignal[] = [];
    const app = await startApp({
      imports: [
        LayerCacheModule.forRoot({
          logger,
          warm: {
            concurrency: 1,
            entries: Array.from({ length: 3 }, (_, i) => ({
              key: `k${i}`,
              loader: ({ signal }: { signal: AbortSignal }) => {
                signals.push(signal);
                return new Promise<never>(() => undefined); // never settles: only the abort ends it
              },
            })),
          },
        }),
      ],
    });
    await waitFor(() => signals.length === 1);
    await app.close();
    expect(signals.map((signal) => signal.aborted)).toEqual([true]);
    await waitFor(() => logger.lines.length > 0);
    expect(logger.lines).toEqual([{ level: 'log', message: expect.stringContaining('warming of stack "default" stopped: the app shut down') }]);
  });

  it('a logger that throws while warming is reported does not fail the startup', async () => {
    const throwing: CacheLogger = {
      log: () => {
        throw new Error('log sink down');
      },
      warn: () => undefined,
      error: () => undefined,
    };
    const app = await startApp({
      imports: [LayerCacheModule.forRoot({ logger: throwing, warm: { entries: [{ key: 'k', loader: () => 1 }], blockStartup: true } })],
    });
    try {
      expect(app.get(CacheStack).peek('k')).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('Redis down: the app starts, the keys are loaded (into L1) and the app answers', async () => {
    const down = await startRedisServer();
    const url = down.url;
    await down.stop();
    const logger = new LinesLogger();
    let loads = 0;
    const app = await startApp(
      {
        imports: [LayerCacheModule.forRoot({ redis: url, logger, warm: { entries: [{ key: 'hot', loader: () => `v${++loads}` }], blockStartup: true } })],
        controllers: [CacheController],
      },
      'express',
    );
    try {
      expect(loads).toBe(1);
      await request(app.getHttpServer()).get('/cache/hot').expect(200, { status: 'hit', value: 'v1' });
      expect(logger.has('log', '1 loaded')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it.each<[string, unknown, string]>([
    ['not an object', true, 'warm'],
    ['neither entries nor factory', { blockStartup: true }, 'warm'],
    ['both entries and factory', { entries: [], factory: () => [] }, 'warm'],
    ['entries not an array', { entries: 'hot' }, 'warm.entries'],
    ['an entry without a loader', { entries: [{ key: 'k' }] }, 'warm.entries[0].loader'],
    ['a bad key', { entries: [{ key: 'a\u0000b', loader: () => 1 }] }, 'warm.entries[0].key'],
    ['a bad entry option', { entries: [{ key: 'k', loader: () => 1, options: { ttl: 'soon' } }] }, 'warm.entries[0].options.ttl'],
    ['a factory that is not a function', { factory: [] }, 'warm.factory'],
    ['blockStartup not a boolean', { entries: [], blockStartup: 'yes' }, 'warm.blockStartup'],
    ['a bad concurrency', { entries: [], concurrency: 0 }, 'warm.concurrency'],
    ['an unknown option', { entries: [], onDone: () => 1 }, 'warm.onDone'],
  ])('forRoot checks warm eagerly: %s', (_, warm, option) => {
    let thrown: unknown;
    try {
      LayerCacheModule.forRoot({ warm: warm as LayerCacheWarmOptions });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect((thrown as InvalidOptionError).option).toBe(option);
  });

  it('forRootAsync: a bad warm from the factory fails the app start with the typed error, before any loader runs', async () => {
    let calls = 0;
    const start = startApp({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ warm: { entries: [{ key: 'k', loader: () => ++calls }], concurrency: 2.5 } }) })],
    });
    await expect(start).rejects.toMatchObject({ option: 'warm.concurrency' });
    expect(calls).toBe(0);
  });
});
