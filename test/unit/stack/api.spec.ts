import { jest } from '@jest/globals';
import { InvalidKeyError, InvalidOptionError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CACHE_MISS, CacheStack } from '../../../lib/stack/cache-stack.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

describe('namespaces', () => {
  it('scope keys; nested namespaces stack; clear never touches a sibling (a vs ab) or the root', async () => {
    const { stack } = buildTwoLayerStack();
    const a = stack.namespace('a');
    const ab = stack.namespace('ab');
    const aInner = a.namespace('inner');
    await stack.set('x', 'root');
    await stack.set('a:x', 'root a:x');
    await a.set('x', 'a');
    await ab.set('x', 'ab');
    await aInner.set('x', 'a/inner');
    expect([await stack.get('x'), await a.get('x'), await ab.get('x'), await aInner.get('x')]).toEqual(['root', 'a', 'ab', 'a/inner']);
    await a.clear();
    expect(await a.get('x')).toBeUndefined();
    expect(await aInner.get('x')).toBeUndefined();
    expect(await ab.get('x')).toBe('ab');
    expect(await stack.get('x')).toBe('root');
    expect(await stack.get('a:x')).toBe('root a:x');
  });

  it('share the stack: tags, metrics and loads', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const ns = stack.namespace('users');
    await ns.set('1', 'u1', { tags: ['users'] });
    await stack.invalidateByTag('users');
    expect(await ns.get('1')).toBeUndefined();
    expect(stack.getMetrics()).toEqual(ns.getMetrics());
  });

  it('root clear removes everything', async () => {
    const { stack } = buildTwoLayerStack();
    await stack.set('x', 1);
    await stack.namespace('n').set('y', 2);
    await stack.clear();
    expect(await stack.get('x')).toBeUndefined();
    expect(await stack.namespace('n').get('y')).toBeUndefined();
  });
});

describe('get-or-set: wrap(key, fn, options) as cache-manager users know it, and getOrSet', () => {
  it.each(['wrap', 'getOrSet'] as const)('%s loads a missing key once, stores it with the options, then serves it', async (method) => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const fn = jest.fn(({ key }: { key: string }) => `loaded ${key}`);
    expect(await stack[method]('k', fn, { ttl: 10 })).toBe('loaded k');
    expect(await stack[method]('k', fn, { ttl: 10 })).toBe('loaded k');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await stack.get('k')).toBe('loaded k'); // stored under the key itself
    await clock.advance(10_001);
    expect(await stack.get('k')).toBeUndefined(); // with the given ttl
    expect(await stack[method]('k', fn)).toBe('loaded k');
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it.each(['wrap', 'getOrSet'] as const)('%s needs a function', async (method) => {
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack[method]('k', 'value' as unknown as () => string)).rejects.toBeInstanceOf(InvalidOptionError);
  });
});

describe('memoize', () => {
  it('memoizes by arguments with collision-free keys', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const fn = jest.fn((...args: unknown[]) => args.length);
    const cached = stack.memoize('f', fn);
    const calls: unknown[][] = [['a:b'], ['a', 'b'], [1], ['1'], [null], [undefined], [], [{ x: 1, y: 2 }], [new Date(0)], [0n]];
    for (const args of calls) await cached(...args);
    for (const args of calls) await cached(...args);
    expect(fn).toHaveBeenCalledTimes(calls.length);
    await cached({ y: 2, x: 1 }); // same object, other key order: same key
    expect(fn).toHaveBeenCalledTimes(calls.length);
  });

  it('does not collide with plain keys nor with another prefix', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    await stack.set('f"a"', 'plain');
    await stack.set('f', 'plain f');
    const f = stack.memoize('f', (s: string) => `f(${s})`);
    const g = stack.memoize('g', (s: string) => `g(${s})`);
    expect(await f('a')).toBe('f(a)');
    expect(await g('a')).toBe('g(a)');
    expect(await stack.get('f"a"')).toBe('plain');
  });

  it('hashes argument keys that are too long and rejects unencodable arguments', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const fn = jest.fn((s: string) => s.length);
    const f = stack.memoize('len', fn);
    const long = 'x'.repeat(5_000);
    expect(await f(long)).toBe(5_000);
    expect(await f(long)).toBe(5_000);
    expect(fn).toHaveBeenCalledTimes(1);
    const g = stack.memoize('fn', (cb: () => void) => typeof cb);
    await expect(g(() => undefined)).rejects.toBeInstanceOf(InvalidKeyError);
  });
});

describe('bulk calls', () => {
  it('getMany / setMany / deleteMany', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    await stack.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2, options: { ttl: 1 } },
    ]);
    expect(l2.calls['setMany']).toBe(1);
    expect(await stack.getMany(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
    await stack.deleteMany(['a', 'b']);
    expect(l2.calls['delete']).toBe(1);
    expect(await stack.getMany(['a', 'b'])).toEqual([undefined, undefined]);
  });

  it('getMany serves fresh and stale values like get without a loader; past the stale window is a miss', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('fresh', 1, { ttl: 100 });
    await stack.set('stale', 2, { ttl: 1, staleWhileRevalidate: 100 });
    await stack.set('error-window', 3, { ttl: 1, staleIfError: 100 });
    await clock.advance(2_000);
    expect(await stack.getMany(['fresh', 'stale', 'error-window'])).toEqual([1, 2, undefined]);
    expect(await stack.get('error-window')).toBeUndefined();
  });

  it('getMany asks L2 once for the L1 misses and backfills them', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack();
    await stack.setMany([1, 2, 3].map((n) => ({ key: `k${n}`, value: n })));
    l1.delete(['k1', 'k3']);
    expect(await stack.getMany(['k1', 'k2', 'k3', 'k4'])).toEqual([1, 2, 3, undefined]);
    expect(l2.calls['getMany']).toBe(1);
    await stack.idle();
    expect(l1.get('k1')?.value).toBe(1);
  });
});

describe('bad input gets typed errors naming the problem', () => {
  it.each([
    ['', /must not be empty/],
    ['a\nb', /control character/],
    ['x'.repeat(1025), /1025 characters long/],
  ])('rejects the key %p', async (key, message) => {
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(stack.get(key)).rejects.toThrow(message);
    await expect(stack.set(key, 1)).rejects.toMatchObject({ code: 'INVALID_KEY' });
  });

  it('rejects a non-string key', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack.get(42 as unknown as string)).rejects.toThrow('must be a string');
  });

  it('hashes long keys when hashLongKeys is on; distinct long keys stay distinct', async () => {
    const { stack } = buildStack([new MemoryLayer()], { hashLongKeys: true });
    await stack.set('x'.repeat(2000), 1);
    await stack.set(`${'x'.repeat(1999)}y`, 2);
    expect(await stack.get('x'.repeat(2000))).toBe(1);
    expect(await stack.get(`${'x'.repeat(1999)}y`)).toBe(2);
  });

  it.each([
    [{ ttl: -1 }, 'ttl'],
    [{ ttl: '5 minutes' }, 'ttl'],
    [{ staleWhileRevalidate: Number.NaN }, 'staleWhileRevalidate'],
    [{ loaderTimeout: 0 }, 'loaderTimeout'],
    [{ tags: 'users' }, 'tags'],
    [{ tags: ['ok', ''] }, 'tag'],
    [{ shouldCache: true }, 'shouldCache'],
  ])('rejects the option %p naming %s', async (options, name) => {
    const { stack } = buildStack([new MemoryLayer()]);
    const call = stack.get('k', () => 1, options as never);
    await expect(call).rejects.toThrow(name);
    expect(() => new CacheStack([new MemoryLayer()], options as never)).toThrow(name);
  });

  it('validates the layers and stack options at construction', () => {
    expect(() => new CacheStack([])).toThrow(InvalidOptionError);
    expect(() => new CacheStack([{} as never])).toThrow('CacheLayer contract');
    expect(() => new CacheStack([new MemoryLayer(), new MemoryLayer()])).toThrow('two layers are named "memory"');
    expect(() => new CacheStack([new MemoryLayer()], { layerTimeout: '0ms' })).toThrow('layerTimeout');
    expect(() => new MemoryLayer({ maxSize: 0 })).toThrow('MemoryLayer.maxSize');
  });

  it('accepts durations as seconds or strings with units', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('ms', 1, { ttl: '250ms' });
    await stack.set('m', 1, { ttl: '2m' });
    await clock.advance(250);
    expect(await stack.get('ms')).toBeUndefined();
    await clock.advance(119_000);
    expect(await stack.get('m')).toBe(1);
  });

  it('a closed stack rejects further calls', async () => {
    const stack = new CacheStack([new MemoryLayer()]);
    await stack.close();
    for (const call of [() => stack.get('k'), () => stack.set('k', 1), () => stack.delete('k'), () => stack.getMany(['k']), () => stack.clear(), () => stack.invalidateByTag('t')]) {
      await expect(call()).rejects.toMatchObject({ code: 'STACK_CLOSED' });
    }
  });
});

describe('events and metrics', () => {
  it('emits hit, miss, stale, set, delete, refresh, backfill, stampede-dedupe', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack();
    const seen: string[] = [];
    for (const event of ['hit', 'miss', 'stale', 'set', 'delete', 'refresh', 'backfill', 'stampede-dedupe', 'invalidate'] as const) {
      stack.on(event, () => seen.push(event));
    }
    await Promise.all([stack.get('k', () => 'v', { ttl: 1, staleWhileRevalidate: 10 }), stack.get('k', () => 'v')]);
    await stack.get('k');
    l1.delete(['k']);
    await stack.get('k');
    await clock.advance(2_000);
    await stack.get('k', () => 'v2');
    await stack.idle();
    await stack.delete('k');
    await stack.invalidateByTag('t');
    await stack.set('x', 1);
    expect(seen).toEqual(['miss', 'miss', 'stampede-dedupe', 'set', 'hit', 'backfill', 'hit', 'stale', 'set', 'refresh', 'delete', 'invalidate', 'set']);
  });

  it('a throwing listener is logged and does not break the call; off() removes a listener', async () => {
    const { stack, logger } = buildStack([new MemoryLayer()]);
    const listener = () => {
      throw new Error('bad listener');
    };
    stack.on('miss', listener);
    expect(await stack.get('k', () => 1)).toBe(1);
    expect(logger.lines.some((l) => l.message.includes('"miss" event threw'))).toBe(true);
    stack.off('miss', listener);
    await stack.get('j', () => 1);
    expect(logger.lines).toHaveLength(1);
  });

  it('counts per layer', async () => {
    const { stack, l1 } = buildTwoLayerStack();
    await stack.set('k', 1);
    await stack.get('k');
    l1.delete(['k']);
    await stack.get('k');
    await stack.get('none');
    const { layers } = stack.getMetrics();
    expect(layers['memory']).toMatchObject({ hits: 1, misses: 2, sets: 2, backfills: 1 }); // a backfill is a set too
    expect(layers['l2']).toMatchObject({ hits: 1, misses: 1, sets: 1 });
  });
});

describe('peek', () => {
  it('returns a fresh L1 value synchronously, CACHE_MISS otherwise (never loads, never stale)', async () => {
    const { stack, clock } = buildTwoLayerStack();
    expect(stack.peek('k')).toBe(CACHE_MISS);
    await stack.set('k', undefined, { negativeTtl: 10 });
    expect(stack.peek('k')).toBeUndefined(); // a cached "not found" is a hit
    await stack.set('k', 'v', { ttl: 1, staleWhileRevalidate: 10 });
    expect(stack.peek('k')).toBe('v');
    expect(stack.namespace('n').peek('k')).toBe(CACHE_MISS);
    await clock.advance(1_000);
    expect(stack.peek('k')).toBe(CACHE_MISS);
    expect(stack.getMetrics().stack.hits).toBe(2);
  });
});

describe('getDetailed', () => {
  it('says how each read was answered: miss, hit, stale, stale-if-error, with the entry age and its freshUntil', async () => {
    const { stack, clock } = buildTwoLayerStack();
    const options = { ttl: 10, staleWhileRevalidate: 10, staleIfError: 60 };
    const created = clock.now();
    const freshUntil = created + 10_000;
    expect(await stack.getDetailed('k', () => 'v1', options)).toEqual({ value: 'v1', status: 'miss', createdAt: undefined, freshUntil });
    await clock.advance(5_000);
    expect(await stack.getDetailed('k', () => 'never', options)).toEqual({ value: 'v1', status: 'hit', createdAt: created, freshUntil });
    await clock.advance(6_000);
    expect(await stack.getDetailed('k', () => { throw new Error('refresh fails'); }, options)).toEqual({ value: 'v1', status: 'stale', createdAt: created, freshUntil });
    await stack.idle();
    await clock.advance(10_000);
    expect(await stack.getDetailed('k', () => Promise.reject(new Error('down')), options)).toEqual({ value: 'v1', status: 'stale-if-error', createdAt: created, freshUntil });
    expect(await stack.getDetailed('none')).toEqual({ value: undefined, status: 'miss', createdAt: undefined, freshUntil: undefined });
  });
});
