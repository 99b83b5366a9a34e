import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { lastValueFrom, of, toArray, type Observable } from 'rxjs';
import { Cacheable, CacheEvict, CachePut, CacheTags, CACHE_MISS, InvalidOptionError } from '../../lib/index.js';
import { getCacheTags } from '../../lib/common/cache-tags.metadata.js';
import { cacheTestingModule, initContext, memoryStack, recordWarnings, settle } from '../support/decorator-app.js';

interface User {
  id: number;
  name: string;
  version: number;
}

/** Class-level tags apply to every cached method of the class. */
@CacheTags('users')
@Injectable()
class UsersService {
  loads = 0;
  private readonly names = new Map<number, string>([[1, 'ada'], [2, 'bob']]);

  @Cacheable({ key: 'user:{0}', tags: (args) => [`user:${String(args[0])}`] })
  async findOne(id: number): Promise<User> {
    this.loads++;
    return { id, name: this.names.get(id) ?? '?', version: this.loads };
  }

  // @CacheTags written above @Cacheable (applied after it).
  @CacheTags((args, result) => [`team:${(result as { team: string }).team}`])
  @Cacheable({ key: 'member:{0}' })
  async member(id: number): Promise<{ id: number; team: string }> {
    this.loads++;
    return { id, team: id % 2 === 0 ? 'even' : 'odd' };
  }

  // @CacheTags written below @Cacheable (applied before it, copied onto the wrapper).
  @Cacheable({ key: 'count' })
  @CacheTags('stats')
  async count(): Promise<number> {
    this.loads++;
    return this.loads;
  }

  @CachePut({ key: 'user:{0}', tags: (args) => [`user:${String(args[0])}`] })
  async rename(id: number, name: string): Promise<User> {
    this.names.set(id, name);
    return { id, name, version: -1 };
  }

  @CachePut({ key: 'user:{0}', unless: (result: User) => result.name === 'secret' })
  async renameUnlessSecret(id: number, name: string): Promise<User> {
    this.names.set(id, name);
    return { id, name, version: -2 };
  }

  @CachePut({ key: 'square:{0}' })
  putSquare(n: number): number {
    return n * n;
  }

  @CachePut({ key: 'stream:{0}' })
  putStream(n: number): Observable<number> {
    return of(n, n + 1, n + 2);
  }

  @CacheEvict({ keys: 'user:{0}' })
  async remove(id: number, fail = false): Promise<void> {
    if (fail) throw new Error('remove failed');
  }

  @CacheEvict({ keys: (args, result) => `user:${String((result as User).id)}` })
  async removeReturning(id: number): Promise<User> {
    return { id, name: 'x', version: 0 };
  }

  @CacheEvict({ tags: ['users'] })
  async removeAll(): Promise<void> {}

  @CacheEvict({ tags: (args) => [`team:${String(args[0])}`] })
  evictTeamSync(team: string): string {
    return team;
  }

  @CacheEvict({ keys: 'user:{0}', beforeInvocation: true })
  async resetFirst(id: number, fail: boolean): Promise<number> {
    if (fail) throw new Error('reset failed');
    return id;
  }

  @CacheEvict({ keys: () => { throw new Error('bad key function'); }, tags: ['broken'] })
  async evictBroken(): Promise<string> {
    return 'done';
  }
}

/** Reports live in a namespace; clearing them leaves the rest of the stack alone. */
@Injectable()
class ReportsService {
  loads = 0;

  @Cacheable({ namespace: 'reports', key: 'report:{0}' })
  async report(_id: number): Promise<number> {
    return ++this.loads;
  }

  @CacheEvict({ namespace: 'reports', allEntries: true })
  async rebuild(): Promise<void> {}

  @CacheEvict({ allEntries: true })
  async flushEverything(): Promise<void> {}
}

async function setup() {
  const stack = memoryStack();
  const moduleRef = await initContext(cacheTestingModule({ providers: [UsersService, ReportsService] }, { stack }));
  return { stack, users: moduleRef.get(UsersService), reports: moduleRef.get(ReportsService) };
}

describe('@CachePut', () => {
  it('always runs the method and refreshes what @Cacheable with the same key reads', async () => {
    const { users } = await setup();
    await users.findOne(1);
    const renamed = await users.rename(1, 'ada lovelace');
    expect(await users.findOne(1)).toBe(renamed);
    expect(users.loads).toBe(1);
    await users.rename(1, 'countess');
    expect((await users.findOne(1)).name).toBe('countess');
  });

  it('carries the tags of its options and of the class', async () => {
    const { stack, users } = await setup();
    await users.rename(2, 'robert');
    await stack.invalidateByTag('users');
    expect(stack.peek('user:2')).toBe(CACHE_MISS);
  });

  it('unless(result) true skips the store', async () => {
    const { stack, users } = await setup();
    await users.renameUnlessSecret(1, 'secret');
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
    await users.renameUnlessSecret(1, 'public');
    expect(stack.peek('user:1')).toMatchObject({ name: 'public' });
  });

  it('keeps a synchronous method synchronous and an Observable method Observable (storing the last value)', async () => {
    const { stack, users } = await setup();
    expect(users.putSquare(3)).toBe(9);
    await settle();
    expect(stack.peek('square:3')).toBe(9);
    const stream = users.putStream(5);
    expect(await lastValueFrom(stream.pipe(toArray()))).toEqual([5, 6, 7]);
    expect(stack.peek('stream:5')).toBe(7);
  });
});

describe('@CacheTags', () => {
  it('tags results by method (function of the result, written above @Cacheable) and by class', async () => {
    const { stack, users } = await setup();
    await users.member(2);
    await users.member(3);
    await stack.invalidateByTag('team:even');
    expect(stack.peek('member:2')).toBe(CACHE_MISS);
    expect(stack.peek('member:3')).toEqual({ id: 3, team: 'odd' });
    await stack.invalidateByTag('users');
    expect(stack.peek('member:3')).toBe(CACHE_MISS);
  });

  it('tags results when written below @Cacheable', async () => {
    const { stack, users } = await setup();
    await users.count();
    expect(stack.peek('count')).toBe(1);
    await stack.invalidateByTag('stats');
    expect(stack.peek('count')).toBe(CACHE_MISS);
  });

  it('merges the tags option with @CacheTags', async () => {
    const { stack, users } = await setup();
    await users.findOne(1);
    await users.findOne(2);
    await stack.invalidateByTag('user:1');
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
    expect(stack.peek('user:2')).not.toBe(CACHE_MISS);
  });

  it('records the values for the internal getCacheTags(class, handler or name): class first, then method', () => {
    const byHandler = getCacheTags(UsersService, UsersService.prototype.count);
    expect(byHandler).toEqual(['users', 'stats']);
    const byName = getCacheTags(UsersService, 'member');
    expect(byName[0]).toBe('users');
    expect(typeof byName[1]).toBe('function');
    expect(getCacheTags(ReportsService, 'report')).toEqual([]);
  });

  it('rejects an empty or invalid tag list', () => {
    expect(() => CacheTags()).toThrow(InvalidOptionError);
    expect(() => CacheTags('bad\u0001tag')).toThrow(/@CacheTags.*control character/);
  });
});

describe('@CacheEvict', () => {
  it('deletes keys from a template after a successful call', async () => {
    const { stack, users } = await setup();
    await users.findOne(1);
    await users.findOne(2);
    await users.remove(1);
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
    expect(stack.peek('user:2')).not.toBe(CACHE_MISS);
  });

  it('evicts nothing when the method fails', async () => {
    const { stack, users } = await setup();
    await users.findOne(1);
    await expect(users.remove(1, true)).rejects.toThrow('remove failed');
    expect(stack.peek('user:1')).not.toBe(CACHE_MISS);
  });

  it('computes keys from (args, result)', async () => {
    const { stack, users } = await setup();
    await users.findOne(2);
    await users.removeReturning(2);
    expect(stack.peek('user:2')).toBe(CACHE_MISS);
  });

  it('invalidates tags (fixed, and from a synchronous method in the background)', async () => {
    const { stack, users } = await setup();
    await users.findOne(1);
    await users.member(1);
    expect(users.evictTeamSync('odd')).toBe('odd');
    await settle();
    expect(stack.peek('member:1')).toBe(CACHE_MISS);
    expect(stack.peek('user:1')).not.toBe(CACHE_MISS);
    await users.removeAll();
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
  });

  it('with beforeInvocation evicts first, even when the method then fails', async () => {
    const { stack, users } = await setup();
    await users.findOne(1);
    await expect(users.resetFirst(1, true)).rejects.toThrow('reset failed');
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
  });

  it('allEntries clears the namespace only, or the whole stack without one', async () => {
    const { stack, users, reports } = await setup();
    await reports.report(1);
    await users.findOne(1);
    expect(stack.namespace('reports').peek('report:1')).toBe(1);
    await reports.rebuild();
    expect(stack.namespace('reports').peek('report:1')).toBe(CACHE_MISS);
    expect(stack.peek('user:1')).not.toBe(CACHE_MISS);
    await reports.flushEverything();
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
  });

  it('a failing eviction is logged and does not fail the method, nor the other parts of the eviction', async () => {
    const warnings = recordWarnings();
    const { stack, users } = await setup();
    await stack.set('tagged', 1, { tags: ['broken'] });
    await expect(users.evictBroken()).resolves.toBe('done');
    expect(stack.peek('tagged')).toBe(CACHE_MISS);
    expect(warnings.join('\n')).toMatch(/@CacheEvict on UsersService\.evictBroken: cache operation failed: Error: bad key function/);
  });

  it('without keys, tags or allEntries throws when the class is defined, naming the decorator and the method', () => {
    const define = () => {
      class OrdersService {
        @CacheEvict({})
        async cancel(): Promise<void> {}
      }
      return OrdersService;
    };
    expect(define).toThrow(InvalidOptionError);
    expect(define).toThrow(/@CacheEvict on OrdersService\.cancel: needs `keys`, `tags` or `allEntries: true`/);
  });
});
