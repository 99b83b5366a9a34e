import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Param, type INestApplication } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { LayerCacheStackBinder } from '../../lib/decorators/stack-binder.js';
import {
  CacheStack,
  DEFAULT_STACK_NAME,
  getCacheStackToken,
  InjectCacheStack,
  LayerCacheModule,
  MemoryLayer,
  type LayerCacheModuleOptions,
  type LayerCacheOptionsFactory,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';

/** Counts loader runs, so a test can tell a cached answer from a loaded one. */
@Injectable()
class Database {
  queries = 0;
  find(id: string): { id: string; query: number } {
    this.queries++;
    return { id, query: this.queries };
  }
}

/** Injects the default stack by its class alone (design:paramtypes), as users write it. */
@Controller('users')
class UsersController {
  constructor(
    readonly cache: CacheStack,
    @Inject(Database) private readonly db: Database,
  ) {}

  @Get(':id')
  get(@Param('id') id: string): Promise<{ id: string; query: number } | undefined> {
    return this.cache.get(`user:${id}`, () => this.db.find(id));
  }
}

/** A feature module that does not import LayerCacheModule. */
@Module({ controllers: [UsersController], providers: [Database] })
class UsersModule {}

describe.each(ADAPTERS)('LayerCacheModule.forRoot() on %s', (adapter) => {
  let app: INestApplication;
  afterEach(async () => {
    await app?.close();
  });

  it('registers a global default stack: a feature module injects CacheStack by class without importing the module', async () => {
    app = await startApp({ imports: [LayerCacheModule.forRoot(), UsersModule] }, adapter);
    const server = app.getHttpServer();
    const first = await request(server).get('/users/7').expect(200);
    const second = await request(server).get('/users/7').expect(200);
    expect(first.body).toEqual({ id: '7', query: 1 });
    expect(second.body).toEqual({ id: '7', query: 1 });
    expect(app.get(Database).queries).toBe(1);

    const stack = app.get(CacheStack);
    expect(stack).toBeInstanceOf(CacheStack);
    expect(app.get(UsersController).cache).toBe(stack);
    expect(stack.getMetrics().stack).toMatchObject({ hits: 1, misses: 1 });
    expect(Object.keys(stack.getMetrics().layers)).toEqual(['memory']); // the default: one MemoryLayer
  });
});

describe('LayerCacheModule registration', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  it('registers the stack binder of the decorators with each registration', async () => {
    moduleRef = await Test.createTestingModule({ imports: [LayerCacheModule.forRoot()] }).compile();
    expect(moduleRef.get(LayerCacheStackBinder, { strict: false })).toBeInstanceOf(LayerCacheStackBinder);
  });

  describe('isGlobal: false', () => {
    @Injectable()
    class NeedsCache {
      constructor(@Inject(CacheStack) readonly cache: CacheStack) {}
    }

    it('makes the stack visible only to modules that import the registration', async () => {
      @Module({ imports: [LayerCacheModule.forRoot({ isGlobal: false })], providers: [NeedsCache] })
      class ImportingModule {}
      moduleRef = await Test.createTestingModule({ imports: [ImportingModule] }).compile();
      expect(moduleRef.get(NeedsCache, { strict: false }).cache).toBeInstanceOf(CacheStack);
    });

    it('fails to resolve CacheStack in a module that does not import it', async () => {
      @Module({ providers: [NeedsCache] })
      class NotImporting {}
      const build = Test.createTestingModule({ imports: [LayerCacheModule.forRoot({ isGlobal: false }), NotImporting] }).compile();
      await expect(build).rejects.toThrow(/CacheStack/);
    });
  });

  it('keeps named stacks apart from the default one: @InjectCacheStack(name) and getCacheStackToken(name)', async () => {
    @Injectable()
    class Sessions {
      constructor(
        @InjectCacheStack('sessions') readonly sessions: CacheStack,
        @InjectCacheStack() readonly main: CacheStack,
        @Inject(CacheStack) readonly byClass: CacheStack,
      ) {}
    }
    moduleRef = await Test.createTestingModule({
      imports: [LayerCacheModule.forRoot(), LayerCacheModule.forRoot({ name: 'sessions', layers: [() => new MemoryLayer({ name: 'sessions-l1' })] })],
      providers: [Sessions],
    }).compile();
    const { sessions, main, byClass } = moduleRef.get(Sessions);

    expect(getCacheStackToken()).toBe(CacheStack);
    expect(getCacheStackToken(DEFAULT_STACK_NAME)).toBe(CacheStack);
    expect(typeof getCacheStackToken('sessions')).toBe('string');
    expect(sessions).toBeInstanceOf(CacheStack);
    expect(sessions).not.toBe(main);
    expect(main).toBe(byClass);
    expect(moduleRef.get(getCacheStackToken('sessions'))).toBe(sessions);
    expect(Object.keys(sessions.getMetrics().layers)).toEqual(['sessions-l1']);

    await sessions.set('token', 'abc');
    expect(await sessions.get('token')).toBe('abc');
    expect(await main.get('token')).toBeUndefined();
  });

  describe('forRootAsync', () => {
    const TTL = Symbol('TTL');
    const CLOCK = Symbol('CLOCK');

    @Module({ providers: [{ provide: TTL, useValue: 30 }, { provide: CLOCK, useValue: new FakeClock() }], exports: [TTL, CLOCK] })
    class SettingsModule {}

    /** A ttl and clock from the settings module: the entry expires after exactly 30 s on that clock. */
    async function expectTtlOf30s(stack: CacheStack, clock: FakeClock): Promise<void> {
      await stack.set('k', 'v');
      await clock.advance(29_999);
      expect(await stack.get('k')).toBe('v');
      await clock.advance(2);
      expect(await stack.get('k')).toBeUndefined();
    }

    it('useFactory + inject: builds the options from injected providers', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          LayerCacheModule.forRootAsync({
            imports: [SettingsModule],
            inject: [TTL, CLOCK],
            useFactory: (ttl: number, clock: FakeClock): LayerCacheModuleOptions => ({ ttl, clock }),
          }),
        ],
      }).compile();
      await expectTtlOf30s(moduleRef.get(CacheStack), moduleRef.get<FakeClock>(CLOCK, { strict: false }));
    });

    it('useClass: instantiates the options class inside the registration, with its dependencies', async () => {
      @Injectable()
      class CacheSettings implements LayerCacheOptionsFactory {
        constructor(
          @Inject(TTL) private readonly ttl: number,
          @Inject(CLOCK) private readonly clock: FakeClock,
        ) {}
        createLayerCacheOptions(): LayerCacheModuleOptions {
          return { ttl: this.ttl, clock: this.clock, layers: [() => new MemoryLayer({ name: 'from-class' })] };
        }
      }
      moduleRef = await Test.createTestingModule({
        imports: [LayerCacheModule.forRootAsync({ imports: [SettingsModule], useClass: CacheSettings })],
      }).compile();
      const stack = moduleRef.get(CacheStack);
      expect(Object.keys(stack.getMetrics().layers)).toEqual(['from-class']);
      await expectTtlOf30s(stack, moduleRef.get<FakeClock>(CLOCK, { strict: false }));
    });

    it('useExisting: asks a provider exported by an imported module, without creating another', async () => {
      @Injectable()
      class SharedSettings implements LayerCacheOptionsFactory {
        calls = 0;
        async createLayerCacheOptions(): Promise<LayerCacheModuleOptions> {
          this.calls++;
          return { layers: [new MemoryLayer({ name: 'existing' })] };
        }
      }
      @Module({ providers: [SharedSettings], exports: [SharedSettings] })
      class SharedSettingsModule {}
      moduleRef = await Test.createTestingModule({
        imports: [SharedSettingsModule, LayerCacheModule.forRootAsync({ imports: [SharedSettingsModule], useExisting: SharedSettings })],
      }).compile();
      expect(Object.keys(moduleRef.get(CacheStack).getMetrics().layers)).toEqual(['existing']);
      expect(moduleRef.get(SharedSettings, { strict: false }).calls).toBe(1);
    });

    it('registers a named stack too (name stays static beside the factory)', async () => {
      moduleRef = await Test.createTestingModule({
        imports: [LayerCacheModule.forRoot(), LayerCacheModule.forRootAsync({ name: 'reports', useFactory: () => ({ ttl: 5 }) })],
      }).compile();
      const reports = moduleRef.get<CacheStack>(getCacheStackToken('reports'));
      expect(reports).toBeInstanceOf(CacheStack);
      expect(reports).not.toBe(moduleRef.get(CacheStack));
    });
  });

  it('lets overrideProvider(CacheStack) replace the default stack', async () => {
    @Injectable()
    class Consumer {
      constructor(@Inject(CacheStack) readonly cache: CacheStack) {}
    }
    const replacement = new CacheStack([new MemoryLayer({ name: 'override' })]);
    try {
      moduleRef = await Test.createTestingModule({ imports: [LayerCacheModule.forRoot()], providers: [Consumer] })
        .overrideProvider(CacheStack)
        .useValue(replacement)
        .compile();
      expect(moduleRef.get(Consumer).cache).toBe(replacement);
      expect(moduleRef.get(CacheStack)).toBe(replacement);
    } finally {
      await replacement.close();
    }
  });

  it('gives two apps of one module class, in one process, stacks and layers of their own', async () => {
    let layerFactoryCalls = 0;
    @Module({ imports: [LayerCacheModule.forRoot({ layers: [() => (layerFactoryCalls++, new MemoryLayer())] }), UsersModule] })
    class AppModule {}
    const first = await startApp({ imports: [AppModule] });
    const second = await startApp({ imports: [AppModule] });
    try {
      const a = first.get(CacheStack);
      const b = second.get(CacheStack);
      expect(a).not.toBe(b);
      expect(layerFactoryCalls).toBe(2);
      await a.set('only-in-a', 1);
      expect(await b.get('only-in-a')).toBeUndefined();

      await first.close();
      await expect(a.get('x')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
      await request(second.getHttpServer()).get('/users/1').expect(200); // the other app's stack still works
      expect(await b.get('user:1')).toEqual({ id: '1', query: 1 });
    } finally {
      await first.close();
      await second.close();
    }
  });
});
