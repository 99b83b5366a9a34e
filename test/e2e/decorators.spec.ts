import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { isObservable, lastValueFrom, Observable, of, EMPTY, toArray } from 'rxjs';
import { Cacheable, CACHE_MISS } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { cacheTestingModule, deferred, initContext, memoryStack, recordWarnings, settle } from '../support/decorator-app.js';

/** As `import type { Observable } from 'rxjs'` would: `design:returntype` is `Object`. */
type TypeOnlyObservable<T> = import('rxjs').Observable<T>;

interface User {
  id: number;
  load: number;
}

/** A singleton provider with one method per shape and key rule. */
@Injectable()
class UsersService {
  calls = 0;
  gate: Promise<void> | undefined;

  @Cacheable({ key: 'user:{0}', ttl: 60 })
  async findOne(id: number): Promise<User> {
    this.calls++;
    if (this.gate !== undefined) await this.gate;
    return { id, load: this.calls };
  }

  @Cacheable()
  async search(query: string, page?: number): Promise<string> {
    this.calls++;
    return `${query}#${String(page)}#${this.calls}`;
  }

  @Cacheable({ key: 'org:{0.id}:{1}' })
  async member(org: { id: string }, id: number): Promise<string> {
    this.calls++;
    return `${org.id}/${id}/${this.calls}`;
  }

  @Cacheable({ key: (org: string, id: number) => `fn:${org}:${id}` })
  async byFunction(org: string, id: number): Promise<string> {
    this.calls++;
    return `${org}/${id}/${this.calls}`;
  }

  @Cacheable({ key: 'cond:{0}', condition: (id: number) => id > 0, unless: (result: number) => result < 0 })
  async conditional(id: number): Promise<number> {
    this.calls++;
    return id * 10 + (id === 3 ? -100 : 0);
  }

  @Cacheable({ key: 'list', namespace: 'lists' })
  list(): Observable<number> {
    this.calls++;
    return of(1, 2, 3);
  }

  @Cacheable({ key: 'empty' })
  nothing(): Observable<number> {
    this.calls++;
    return EMPTY;
  }

  @Cacheable({ key: 'square:{0}' })
  square(n: number): number {
    this.calls++;
    return n * n;
  }

  @Cacheable({ key: 'maybe:{0}' })
  maybeAsync(n: number): unknown {
    this.calls++;
    return Promise.resolve(n + 1);
  }

  @Cacheable({ key: 'type-only:{0}' })
  typeOnlyObservable(n: number): TypeOnlyObservable<number> {
    this.calls++;
    return of(n, n + 1);
  }

  // No return type annotation: no design:returntype, so the wrapper assumes async.
  @Cacheable({ key: 'plain:{0}' })
  plain(n: number) {
    this.calls++;
    return n + 1;
  }

  @Cacheable({ key: 'failing' })
  async failing(): Promise<string> {
    this.calls++;
    throw new Error(`boom ${this.calls}`);
  }
}

async function setup(options: { clock?: FakeClock } = {}) {
  const stack = memoryStack(options.clock === undefined ? {} : { clock: options.clock });
  const moduleRef = await initContext(cacheTestingModule({ providers: [UsersService] }, { stack }));
  return { stack, users: moduleRef.get(UsersService) };
}

describe('@Cacheable on a singleton provider', () => {
  it('reads through the stack: the second call is a hit, returned as a promise of the same object', async () => {
    const { stack, users } = await setup();
    const first = await users.findOne(1);
    const second = users.findOne(1);
    expect(second).toBeInstanceOf(Promise);
    expect(await second).toBe(first);
    expect(users.calls).toBe(1);
    expect(stack.peek('user:1')).toBe(first);
    expect(await users.findOne(2)).toEqual({ id: 2, load: 2 });
  });

  it('runs a cold method once for concurrent calls', async () => {
    const { users } = await setup();
    const gate = deferred<void>();
    users.gate = gate.promise;
    const calls = Array.from({ length: 50 }, () => users.findOne(7));
    gate.resolve();
    const results = await Promise.all(calls);
    expect(users.calls).toBe(1);
    expect(new Set(results).size).toBe(1);
  });

  it('passes entry options through: the entry expires after its ttl', async () => {
    const clock = new FakeClock();
    const { users } = await setup({ clock });
    await users.findOne(1);
    await clock.advance(59_000);
    await users.findOne(1);
    expect(users.calls).toBe(1);
    await clock.advance(2_000);
    expect(await users.findOne(1)).toEqual({ id: 1, load: 2 });
  });

  it('does not cache a failing call', async () => {
    const { users } = await setup();
    await expect(users.failing()).rejects.toThrow('boom 1');
    await expect(users.failing()).rejects.toThrow('boom 2');
  });

  it('builds the default key from class, method and collision-free arguments', async () => {
    const { stack, users } = await setup();
    const a = await users.search('a:b');
    const b = await users.search('a', undefined);
    expect(a).not.toBe(b);
    expect(stack.peek('UsersService.search:"a:b"')).toBe(a);
    expect(stack.peek('UsersService.search:("a",undefined)')).toBe(b);
    expect(await users.search('a:b')).toBe(a);
    expect(users.calls).toBe(2);
  });

  it('fills key templates with positional arguments and property paths', async () => {
    const { stack, users } = await setup();
    const value = await users.member({ id: 'acme' }, 7);
    expect(stack.peek('org:acme:7')).toBe(value);
    expect(await users.member({ id: 'acme' }, 7)).toBe(value);
    expect(users.calls).toBe(1);
  });

  it('runs uncached (and warns once) when a template path is undefined, instead of sharing one entry', async () => {
    const warnings = recordWarnings();
    const { users } = await setup();
    const org = {} as { id: string };
    await users.member(org, 1);
    await users.member(org, 1);
    expect(users.calls).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/@Cacheable on UsersService\.member: cannot use the cache.*\{0\.id\} is undefined/);
  });

  it('uses a key function of the arguments', async () => {
    const { stack, users } = await setup();
    const value = await users.byFunction('acme', 3);
    expect(stack.peek('fn:acme:3')).toBe(value);
    await users.byFunction('acme', 3);
    expect(users.calls).toBe(1);
  });

  it('condition false calls the method uncached; unless true hands the result over without caching it', async () => {
    const { stack, users } = await setup();
    await users.conditional(-1);
    await users.conditional(-1);
    expect(users.calls).toBe(2);
    expect(stack.peek('cond:-1')).toBe(CACHE_MISS);

    expect(await users.conditional(3)).toBe(-70);
    expect(await users.conditional(3)).toBe(-70);
    expect(users.calls).toBe(4);
    expect(stack.peek('cond:3')).toBe(CACHE_MISS);

    expect(await users.conditional(2)).toBe(20);
    expect(await users.conditional(2)).toBe(20);
    expect(users.calls).toBe(5);
  });
});

describe('@Cacheable keeps the method shape', () => {
  it('an Observable method returns an Observable that emits the last value, cached in its namespace', async () => {
    const { stack, users } = await setup();
    const first = users.list();
    expect(isObservable(first)).toBe(true);
    expect(users.calls).toBe(0); // the cache is consulted at subscription
    expect(await lastValueFrom(first.pipe(toArray()))).toEqual([3]);
    const second = users.list();
    expect(isObservable(second)).toBe(true);
    expect(await lastValueFrom(second.pipe(toArray()))).toEqual([3]);
    expect(users.calls).toBe(1);
    expect(stack.namespace('lists').peek('list')).toBe(3);
    expect(stack.peek('list')).toBe(CACHE_MISS);
  });

  it('an Observable that completes empty completes empty and is not cached', async () => {
    const { users } = await setup();
    expect(await lastValueFrom(users.nothing().pipe(toArray()))).toEqual([]);
    expect(await lastValueFrom(users.nothing().pipe(toArray()))).toEqual([]);
    expect(users.calls).toBe(2);
  });

  it('a synchronous method stays synchronous on a miss and on a hit', async () => {
    const { stack, users } = await setup();
    const miss = users.square(4);
    expect(miss).toBe(16);
    await settle();
    expect(stack.peek('square:4')).toBe(16);
    expect(users.square(4)).toBe(16);
    expect(users.calls).toBe(1);
  });

  it('a method declared with another type that returns a promise is async from then on (hits too)', async () => {
    const warnings = recordWarnings();
    const { stack, users } = await setup();
    const first = users.maybeAsync(1);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(2);
    expect(stack.peek('maybe:1')).toBe(2);
    const hit = users.maybeAsync(1);
    expect(hit).toBeInstanceOf(Promise);
    expect(await hit).toBe(2);
    expect(users.calls).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/@Cacheable on UsersService\.maybeAsync: returned a Promise but its declared return type/)]);
  });

  it('a method whose Observable type left no runtime type (type-only import) returns Observables once it returned one', async () => {
    recordWarnings();
    const { stack, users } = await setup();
    const first = users.typeOnlyObservable(2);
    expect(isObservable(first)).toBe(true);
    expect(await lastValueFrom(first as TypeOnlyObservable<number>)).toBe(3);
    expect(stack.peek('type-only:2')).toBe(3);
    const hit = users.typeOnlyObservable(2);
    expect(isObservable(hit)).toBe(true);
    expect(await lastValueFrom(hit as TypeOnlyObservable<number>)).toBe(3);
    expect(users.calls).toBe(1);
  });

  it('a method without a declared return type is treated as async', async () => {
    const { users } = await setup();
    const first = users.plain(1) as unknown;
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(2);
    expect(await (users.plain(1) as unknown)).toBe(2);
    expect(users.calls).toBe(1);
  });

  it('keeps the method name and the metadata of the original function', () => {
    expect(UsersService.prototype.findOne.name).toBe('findOne');
    expect(UsersService.prototype.member.length).toBe(2);
    expect(Reflect.getMetadata('design:returntype', UsersService.prototype, 'findOne')).toBe(Promise);
  });
});
