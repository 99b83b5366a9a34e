import 'reflect-metadata';
import { Injectable, Scope } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, EVENT_LISTENER_METADATA, OnEvent } from '@nestjs/event-emitter';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { Cacheable, CacheEvict, CacheStack, CACHE_MISS, getCacheStackToken, LayerCacheModule, MemoryLayer } from '../../lib/index.js';
import { cacheTestingModule, initContext, memoryStack, silentLogger } from '../support/decorator-app.js';

@Injectable()
class UsersService {
  calls = 0;

  @Cacheable({ key: 'user:{0}' })
  async findOne(id: number): Promise<string> {
    this.calls++;
    return `user ${id} #${this.calls}`;
  }
}

/** A generic base class: decorated once, used by two subclasses that must not share entries. */
abstract class Repository {
  loads = 0;

  @Cacheable()
  async find(id: number): Promise<string> {
    this.loads++;
    return `${this.constructor.name}:${id}:${this.loads}`;
  }
}

@Injectable()
class PostsRepository extends Repository {}

/** A subclass that adds a method on a named stack: both stacks are injected. */
@Injectable()
class TagsRepository extends Repository {
  @Cacheable({ stack: 'sessions', key: 'tag-session:{0}' })
  async session(id: number): Promise<string> {
    return `session ${id}`;
  }
}

@Injectable()
class SessionsService {
  @Cacheable({ stack: 'sessions', key: 'session:{0}' })
  async get(id: string): Promise<string> {
    return `session ${id}`;
  }

  @Cacheable({ key: 'profile:{0}' })
  async profile(id: string): Promise<string> {
    return `profile ${id}`;
  }
}

@Injectable({ scope: Scope.REQUEST })
class ReportsPerRequest {
  @Cacheable({ stack: 'reports' })
  async report(): Promise<number> {
    return 1;
  }
}

describe('decorator wiring: who gets which stack', () => {
  it('an inherited method is cached per subclass (the default key names the runtime class)', async () => {
    const stack = memoryStack();
    const sessions = memoryStack();
    const moduleRef = await initContext(cacheTestingModule({ providers: [PostsRepository, TagsRepository] }, { stack, named: { sessions } }));
    const posts = moduleRef.get(PostsRepository);
    const tags = moduleRef.get(TagsRepository);
    expect(await posts.find(1)).toBe('PostsRepository:1:1');
    expect(await posts.find(1)).toBe('PostsRepository:1:1');
    expect(await tags.find(1)).toBe('TagsRepository:1:1');
    expect(stack.peek('PostsRepository.find:1')).toBe('PostsRepository:1:1');
    expect(stack.peek('TagsRepository.find:1')).toBe('TagsRepository:1:1');
    await tags.session(4);
    expect(sessions.peek('tag-session:4')).toBe('session 4');
    expect(stack.peek('tag-session:4')).toBe(CACHE_MISS);
  });

  it.each([
    ['useFactory', { provide: UsersService, useFactory: () => new UsersService() }],
    ['useValue', { provide: UsersService, useValue: new UsersService() }],
    ['string-token useFactory-with-inject', { provide: 'LEGACY_USERS', useFactory: (_: CacheStack) => new UsersService(), inject: [CacheStack] }],
  ])('hands the stack to a %s provider Nest did not construct', async (_name, provider) => {
    const stack = memoryStack();
    const moduleRef = await initContext(cacheTestingModule({ providers: [provider] }, { stack }));
    const users = moduleRef.get<UsersService>(provider.provide);
    await users.findOne(1);
    await users.findOne(1);
    expect(users.calls).toBe(1);
    expect(stack.peek('user:1')).toBe('user 1 #1');
  });

  it('two apps in one process keep their caches apart', async () => {
    const first = memoryStack();
    const second = memoryStack();
    const app1 = await initContext(cacheTestingModule({ providers: [UsersService] }, { stack: first }));
    const app2 = await initContext(cacheTestingModule({ providers: [UsersService] }, { stack: second }));
    expect(await app1.get(UsersService).findOne(1)).toBe('user 1 #1');
    expect(await app2.get(UsersService).findOne(2)).toBe('user 2 #1');
    expect(first.peek('user:1')).toBe('user 1 #1');
    expect(first.peek('user:2')).toBe(CACHE_MISS);
    expect(second.peek('user:2')).toBe('user 2 #1');
    expect(second.peek('user:1')).toBe(CACHE_MISS);
    // The second app's instance misses user 1 although the first app cached it.
    await app2.get(UsersService).findOne(1);
    expect(app2.get(UsersService).calls).toBe(2);
  });

  it('overrideProvider(CacheStack) swaps the stack the decorators use', async () => {
    const original = memoryStack();
    const replacement = memoryStack();
    const moduleRef = await initContext(
      cacheTestingModule(
        { providers: [UsersService, { provide: 'FACTORY_USERS', useFactory: () => new UsersService() }] },
        { stack: original },
      )
        .overrideProvider(CacheStack)
        .useValue(replacement),
    );
    await moduleRef.get(UsersService).findOne(1);
    await moduleRef.get<UsersService>('FACTORY_USERS').findOne(2);
    expect(replacement.peek('user:1')).toBe('user 1 #1');
    expect(replacement.peek('user:2')).toBe('user 2 #1');
    expect(original.peek('user:1')).toBe(CACHE_MISS);
    expect(original.peek('user:2')).toBe(CACHE_MISS);
  });

  it('stack: name reads and writes the named stack, the others the default one', async () => {
    const stack = memoryStack();
    const sessions = memoryStack();
    const moduleRef = await initContext(cacheTestingModule({ providers: [SessionsService] }, { stack, named: { sessions } }));
    const service = moduleRef.get(SessionsService);
    await service.get('a');
    await service.profile('a');
    expect(sessions.peek('session:a')).toBe('session a');
    expect(stack.peek('session:a')).toBe(CACHE_MISS);
    expect(stack.peek('profile:a')).toBe('profile a');
    expect(sessions.peek('profile:a')).toBe(CACHE_MISS);
  });

  it('fails the startup when a named stack is not registered', async () => {
    const moduleRef = await cacheTestingModule({ providers: [SessionsService] }, { stack: memoryStack() }).compile();
    await expect(moduleRef.init()).rejects.toThrow(
      "@Cacheable on SessionsService.get uses stack 'sessions', but no LayerCacheModule.forRoot({ name: 'sessions' }) is registered",
    );
    await closeAfterFailedInit(moduleRef);
  });

  it('fails the startup for a request-scoped class too (checked from the class, without an instance)', async () => {
    const moduleRef = await cacheTestingModule({ providers: [ReportsPerRequest] }, { stack: memoryStack() }).compile();
    await expect(moduleRef.init()).rejects.toThrow(
      "@Cacheable on ReportsPerRequest.report uses stack 'reports', but no LayerCacheModule.forRoot({ name: 'reports' }) is registered",
    );
    await closeAfterFailedInit(moduleRef);
  });

  it('fails the startup when no default stack is registered', async () => {
    const moduleRef = await cacheTestingModule({ providers: [UsersService] }).compile();
    await expect(moduleRef.init()).rejects.toThrow(
      '@Cacheable on UsersService.findOne uses the default stack, but no LayerCacheModule.forRoot() is registered',
    );
    await closeAfterFailedInit(moduleRef);
  });

  it('works with LayerCacheModule.forRoot (default and named stacks)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        LayerCacheModule.forRoot({ layers: [new MemoryLayer()], logger: silentLogger }),
        LayerCacheModule.forRoot({ name: 'sessions', layers: [new MemoryLayer()], logger: silentLogger }),
      ],
      providers: [SessionsService, { provide: UsersService, useFactory: () => new UsersService() }],
    }).compile();
    await moduleRef.init();
    try {
      const stack = moduleRef.get(CacheStack);
      const sessions = moduleRef.get<CacheStack>(getCacheStackToken('sessions'));
      await moduleRef.get(SessionsService).get('b');
      await moduleRef.get(UsersService).findOne(3);
      expect(sessions.peek('session:b')).toBe('session b');
      expect(stack.peek('user:3')).toBe('user 3 #1');
    } finally {
      await moduleRef.close();
    }
  });
});

/** Another library's decorators on the same methods, in both orders. */
@Injectable()
class UserEvents {
  handled: unknown[] = [];

  @OnEvent('user.updated')
  @CacheEvict({ keys: 'user:{0.id}' })
  async onUpdated(payload: { id: number }): Promise<void> {
    this.handled.push(payload);
  }

  @CacheEvict({ tags: ['users'] })
  @OnEvent('users.reset')
  onReset(): void {
    this.handled.push('reset');
  }

  @Cron('0 0 1 1 *', { name: 'nightly-users' })
  @CacheEvict({ tags: ['users'] })
  async nightly(): Promise<void> {}

  @Cacheable({ key: 'digest' })
  @Cron('0 0 1 1 *', { name: 'digest' })
  async digest(): Promise<string> {
    return 'digest';
  }
}

describe('decorated methods keep other libraries\' metadata', () => {
  it('@OnEvent handlers are still invoked on emit, and their evictions run', async () => {
    const stack = memoryStack();
    const moduleRef = await initContext(cacheTestingModule({ imports: [EventEmitterModule.forRoot()], providers: [UserEvents] }, { stack }));
    const events = moduleRef.get(UserEvents);
    expect(Reflect.getMetadata(EVENT_LISTENER_METADATA, UserEvents.prototype.onUpdated)).toEqual([{ event: 'user.updated', options: undefined }]);
    expect(Reflect.getMetadata(EVENT_LISTENER_METADATA, UserEvents.prototype.onReset)).toEqual([{ event: 'users.reset', options: undefined }]);

    await stack.set('user:5', 'cached', { tags: ['users'] });
    await stack.set('user:6', 'cached', { tags: ['users'] });
    await moduleRef.get(EventEmitter2).emitAsync('user.updated', { id: 5 });
    expect(events.handled).toEqual([{ id: 5 }]);
    expect(stack.peek('user:5')).toBe(CACHE_MISS);
    expect(stack.peek('user:6')).toBe('cached');

    await moduleRef.get(EventEmitter2).emitAsync('users.reset');
    expect(events.handled).toEqual([{ id: 5 }, 'reset']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stack.peek('user:6')).toBe(CACHE_MISS);
  });

  it('@Cron jobs are still registered from decorated methods', async () => {
    const moduleRef = await initContext(cacheTestingModule({ imports: [ScheduleModule.forRoot()], providers: [UserEvents] }, { stack: memoryStack() }));
    const registry = moduleRef.get(SchedulerRegistry);
    expect(registry.getCronJob('nightly-users')).toBeDefined();
    expect(registry.getCronJob('digest')).toBeDefined();
    expect(Reflect.getMetadata('SCHEDULE_CRON_OPTIONS', UserEvents.prototype.digest)).toMatchObject({ cronTime: '0 0 1 1 *', name: 'digest' });
    await expect(moduleRef.get(UserEvents).digest()).resolves.toBe('digest');
  });
});

/** Nest 11's close() awaits the failed initialization again and rethrows its error; Nest 12's does not. */
async function closeAfterFailedInit(moduleRef: { close(): Promise<void> }): Promise<void> {
  await moduleRef.close().catch(() => undefined);
}
