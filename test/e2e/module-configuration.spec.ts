/**
 * Strict and forgiving module configuration (docs/configuration.md), in real Nest apps on Express and Fastify: an
 * unknown or foreign option name in `forRoot` fails when it is called and in a `forRootAsync` factory's result when
 * the app starts, naming it with the closest option or a direction; `ttl: config.get('CACHE_TTL', 300)` works with
 * `CACHE_TTL=300` set (ConfigService returns the string "300"); a ttl that looks like milliseconds is logged once
 * through the registration's logger (Nest's Logger when none is given).
 */
import 'reflect-metadata';
import { Controller, Get, Inject, type LoggerService } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  CacheStack,
  InvalidOptionError,
  LayerCacheModule,
  MemoryLayer,
  type CacheLogger,
  type LayerCacheModuleOptions,
  type LayerCacheModuleRootOptions,
} from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';
import { invalidOptionError } from '../support/option-error.js';

/** Runs `fn` and returns the InvalidOptionError it throws or rejects with (failing the test otherwise). */
async function optionError(fn: () => unknown): Promise<InvalidOptionError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown instanceof InvalidOptionError) return thrown;
  throw new Error(`expected an InvalidOptionError, got ${String(thrown)}`);
}

@Controller('ttl')
class TtlController {
  constructor(@Inject(CacheStack) private readonly cache: CacheStack) {}

  /** The fresh lifetime (ms) of an entry written with the stack's defaults. */
  @Get()
  async ttl(): Promise<{ ms: number }> {
    await this.cache.set('probe', 1);
    const read = await this.cache.getDetailed('probe');
    return { ms: read.freshUntil! - read.createdAt! };
  }
}

/** The app's Nest logger: records every warning. */
class RecordingNestLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

const silentLogger: CacheLogger = { warn: () => undefined, error: () => undefined };

describe('forRoot: an unknown option name fails when forRoot is called', () => {
  it.each<[string, LayerCacheModuleRootOptions, string, RegExp]>([
    ['a typo of a stack option', { staleWhileRevalidte: 10 } as never, 'staleWhileRevalidte', /did you mean "staleWhileRevalidate"\?/],
    ['a typo of a module option', { layer: [new MemoryLayer()] } as never, 'layer', /did you mean "layers"\?/],
    ['a typo of an extra', { isGlobl: true } as never, 'isGlobl', /did you mean "isGlobal"\?/],
    ['a typo in memory', { memory: { maxSzie: 10 } } as never, 'memory.maxSzie', /did you mean "maxSize"\?/],
    ['a typo in redisLayer', { redis: 'redis://127.0.0.1:1', redisLayer: { prefx: 'a:' } } as never, 'redisLayer.prefx', /did you mean "prefix"\?/],
    ['a typo in distributed', { redis: 'redis://127.0.0.1:1', distributed: { secrte: 'x' } } as never, 'distributed.secrte', /did you mean "secret"\?/],
    ['a typo in circuitBreaker', { circuitBreaker: { failureThreshold: 1, window: 1, coldown: 1 } } as never, 'circuitBreaker.coldown', /did you mean "cooldown"\?/],
    ["@nestjs/cache-manager's store", { store: 'redis' } as never, 'store', /layers are given as instances: layers: \[new MemoryLayer\(\)\] and redis: url/],
    ["@nestjs/cache-manager's max", { max: 100 } as never, 'max', /memory: \{ maxSize \}/],
    ["layercache's gracefulDegradation", { gracefulDegradation: true } as never, 'gracefulDegradation', /always on: a failing shared layer is skipped and retried after a back-off; tune layerTimeout \/ layerBackoff/],
    ['a typo of maxLifetime', { maxLifetim: '1d' } as never, 'maxLifetim', /did you mean "maxLifetime"\?/],
    ['a maxLifetime under 1 s', { maxLifetime: '500ms' }, 'maxLifetime', /must be at least 1 s/],
  ])('%s', async (_label, options, option, message) => {
    const error = await optionError(() => LayerCacheModule.forRoot(options));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
  });

  it('accepts the extras (name, isGlobal) beside the stack and module options', () => {
    expect(() => LayerCacheModule.forRoot({ name: 'extras', isGlobal: false, ttl: 60, memory: { maxSize: 10 }, logger: silentLogger })).not.toThrow();
  });
});


describe.each(ADAPTERS)('forRootAsync on %s', (adapter: AdapterName) => {
  const savedTtl = process.env['CACHE_TTL'];
  afterEach(() => {
    if (savedTtl === undefined) delete process.env['CACHE_TTL'];
    else process.env['CACHE_TTL'] = savedTtl;
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a typo', { ttll: 60 }, 'ttll', /unknown option; did you mean "ttl"\?/],
    ['a static extra in the result', { isGlobal: true }, 'isGlobal', /static: give isGlobal to forRootAsync beside useFactory/],
    ["@nestjs/cache-manager's stores", { stores: [] }, 'stores', /layers are given as instances/],
  ])('a factory result with %s fails the app at startup, naming it', async (_label, result, option, message) => {
    const error = await optionError(() =>
      startApp({ imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ logger: silentLogger, ...result }) as LayerCacheModuleOptions })] }, adapter),
    );
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a misspelled key of its own', { imprts: [] }, 'forRootAsync.imprts', /did you mean "imports"\?/],
    ['a stack option beside useFactory', { ttl: 60 }, 'forRootAsync.ttl', /return it from useFactory/],
    ["@nestjs/cache-manager's extraProviders", { extraProviders: [] }, 'forRootAsync.extraProviders', /provide what the factory injects/],
  ])("forRootAsync's own argument with %s fails when it is called, naming it", (_label, extra, option, message) => {
    const error = invalidOptionError(() => LayerCacheModule.forRootAsync({ useFactory: () => ({}), ...extra } as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
  });

  it("reads ttl: config.get('CACHE_TTL', 300) as 300 seconds when CACHE_TTL=300 is set (ConfigService returns the string)", async () => {
    process.env['CACHE_TTL'] = '300';
    let given: unknown;
    const app = await startApp(
      {
        imports: [
          ConfigModule.forRoot({ ignoreEnvFile: true }),
          LayerCacheModule.forRootAsync({
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService) => {
              given = config.get('CACHE_TTL', 300);
              return { ttl: given as number, logger: silentLogger };
            },
          }),
        ],
        controllers: [TtlController],
      },
      adapter,
    );
    try {
      expect(given).toBe('300'); // what the app's factory really hands over
      const response = await request(app.getHttpServer()).get('/ttl').expect(200);
      expect(response.body).toEqual({ ms: 300_000 });
    } finally {
      await app.close();
    }
  });
});

describe.each(ADAPTERS)('a ttl that looks like milliseconds is logged once per registration, on %s', (adapter: AdapterName) => {
  async function start(logger: RecordingNestLogger, imports: unknown[]) {
    const moduleRef = await Test.createTestingModule({ imports: imports as never, controllers: [TtlController] }).setLogger(logger).compile();
    const app = adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
    await app.init();
    if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    return app;
  }

  it("through Nest's Logger: forRoot ttl and a layer ttl, each once, not per call", async () => {
    const logger = new RecordingNestLogger();
    const app = await start(logger, [LayerCacheModule.forRoot({ ttl: 60_000, layers: [() => new MemoryLayer({ ttl: 3_600_000 })] })]);
    try {
      await request(app.getHttpServer()).get('/ttl').expect(200);
      await request(app.getHttpServer()).get('/ttl').expect(200);
      const ours = logger.warnings.filter((line) => line.includes('is read as seconds'));
      expect(ours).toEqual([
        "ttl: 60000 is read as seconds (16.7 hours); write '60s' or 60 if you meant 60000 milliseconds, or give a unit ('1000m') to keep it and silence this warning",
        "MemoryLayer.ttl: 3600000 is read as seconds (41.7 days); write '3600s' or 3600 if you meant 3600000 milliseconds, or give a unit ('1000h') to keep it and silence this warning",
      ]);
    } finally {
      await app.close();
    }
  });

  it('not when forRoot checks its options (its probe stack is silent): once, when the app builds the stack', async () => {
    const lines: string[] = [];
    const logger: CacheLogger = { warn: (message) => lines.push(message), error: () => undefined };
    const module = LayerCacheModule.forRoot({ logger, ttl: 60_000, memory: { ttl: 1_000_000 } });
    expect(lines).toEqual([]);
    const app = await start(new RecordingNestLogger(), [module]);
    try {
      await request(app.getHttpServer()).get('/ttl').expect(200);
      expect(lines.map((line) => line.split(' is read')[0])).toEqual(['ttl: 60000', 'MemoryLayer.ttl: 1000000']);
    } finally {
      await app.close();
    }
  });

  it("through the logger option: a forRootAsync factory's unitless string, and nothing for values with a unit", async () => {
    const lines: string[] = [];
    const logger: CacheLogger = { warn: (message) => lines.push(message), error: () => undefined };
    const app = await start(new RecordingNestLogger(), [
      // maxLifetime above the 30-day window: no entry is capped (and warned of) here.
      LayerCacheModule.forRootAsync({ useFactory: () => ({ logger, ttl: '60', staleIfError: '900000', staleWhileRevalidate: '30d', maxLifetime: '60d' }) as LayerCacheModuleOptions }),
    ]);
    try {
      await request(app.getHttpServer()).get('/ttl').expect(200);
      expect(lines).toEqual([expect.stringMatching(/^staleIfError: "900000" is read as seconds \(10\.4 days\); write '900s' or 900/)]);
    } finally {
      await app.close();
    }
  });
});

describe.each(ADAPTERS)('maxLifetime through the module, on %s', (adapter: AdapterName) => {
  it("a forRootAsync factory's maxLifetime caps the entries of the registration's stack, warned of once", async () => {
    const lines: string[] = [];
    const logger: CacheLogger = { warn: (message) => lines.push(message), error: () => undefined };
    const app = await startApp({ imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ logger, ttl: '2h', maxLifetime: '1h' }) })], controllers: [TtlController] }, adapter);
    try {
      expect((await request(app.getHttpServer()).get('/ttl').expect(200)).body).toEqual({ ms: 3_600_000 });
      await request(app.getHttpServer()).get('/ttl').expect(200);
      expect(lines).toEqual([expect.stringMatching(/^maxLifetime: the entry "probe" .* maxLifetime \(1 hour\)/)]);
    } finally {
      await app.close();
    }
  });

  it('forRoot without it keeps entries at most 7 days', async () => {
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ logger: silentLogger, ttl: '30d' })], controllers: [TtlController] }, adapter);
    try {
      expect((await request(app.getHttpServer()).get('/ttl').expect(200)).body).toEqual({ ms: 7 * 86_400_000 });
    } finally {
      await app.close();
    }
  });

  it('a factory result with a maxLifetime under 1 s fails the app at startup, naming it', async () => {
    const error = await optionError(() => startApp({ imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ logger: silentLogger, maxLifetime: 0 }) })] }, adapter));
    expect(error.option).toBe('maxLifetime');
  });
});
