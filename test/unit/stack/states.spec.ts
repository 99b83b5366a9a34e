import { jest } from '@jest/globals';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { buildStack, buildTwoLayerStack, controlledLoader } from '../../support/stack-builder.js';

describe('CacheStack entry states (fresh -> stale -> error window -> expired)', () => {
  it('serves a fresh value without calling the loader again', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const loader = jest.fn(() => 'v1');
    expect(await stack.get('k', loader, { ttl: 10 })).toBe('v1');
    await clock.advance(9_999);
    expect(await stack.get('k', loader, { ttl: 10 })).toBe('v1');
    expect(loader).toHaveBeenCalledTimes(1);
    expect(stack.getMetrics().stack).toMatchObject({ hits: 1, misses: 1, loads: 1 });
  });

  it('walks every state with one entry: HIT, STALE + one refresh, stale-if-error, MISS', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const options = { ttl: 10, staleWhileRevalidate: 20, staleIfError: 60 };
    let version = 0;
    let failing = false;
    const loader = jest.fn(async () => {
      if (failing) throw new Error('source down');
      return `v${++version}`;
    });

    expect(await stack.get('k', loader, options)).toBe('v1'); // miss -> load
    await clock.advance(10_000); // freshness ends: stale window [10s, 30s)
    expect(await stack.get('k', loader, options)).toBe('v1'); // stale, served at once
    await stack.idle();
    expect(loader).toHaveBeenCalledTimes(2); // one background refresh
    expect(await stack.get('k', loader, options)).toBe('v2'); // refreshed value is fresh

    failing = true;
    await clock.advance(40_000); // 40s after v2 was stored: past SWR (30s), inside stale-if-error (70s)
    expect(await stack.get('k', loader, options)).toBe('v2'); // reload failed -> stale value
    expect(stack.getMetrics().stack.staleIfError).toBe(1);

    await clock.advance(30_000); // 70s: every window is over
    await expect(stack.get('k', loader, options)).rejects.toThrow('source down');
    failing = false;
    expect(await stack.get('k', loader, options)).toBe('v3');
  });

  it('without a loader: fresh and stale values are returned, an error-window entry is a miss', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'v', { ttl: 1, staleWhileRevalidate: 1, staleIfError: 5 });
    expect(await stack.get('k')).toBe('v');
    await clock.advance(1_500);
    expect(await stack.get('k')).toBe('v');
    await clock.advance(1_000);
    expect(await stack.get('k')).toBeUndefined();
    expect(await stack.has('k')).toBe(false);
  });

  it('in the error window a successful reload replaces the entry and is awaited by the caller', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', { ttl: 1, staleIfError: 10 });
    await clock.advance(2_000);
    const control = controlledLoader<string>();
    const pending = stack.get('k', control.loader);
    await clock.advance(0);
    expect(control.calls).toBe(1);
    control.resolveNext('new');
    expect(await pending).toBe('new');
    expect(await stack.get('k')).toBe('new');
  });

  it('ttl 0 stores nothing (nothing can be served), null is a value, undefined is not cached', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const zero = jest.fn(() => 'x');
    await stack.get('zero', zero, { ttl: 0 });
    await stack.get('zero', zero, { ttl: 0 });
    expect(zero).toHaveBeenCalledTimes(2);

    const nul = jest.fn(() => null);
    expect(await stack.get('null', nul)).toBeNull();
    expect(await stack.get('null', nul)).toBeNull();
    expect(nul).toHaveBeenCalledTimes(1);

    const undef = jest.fn(() => undefined);
    await stack.get('undef', undef);
    await stack.get('undef', undef);
    expect(undef).toHaveBeenCalledTimes(2);
  });

  it('negativeTtl caches not-found (undefined and null) for its own, shorter time', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()], { ttl: 60, negativeTtl: 5 });
    const loader = jest.fn((): string | undefined => undefined);
    expect(await stack.get('missing', loader)).toBeUndefined();
    expect(await stack.get('missing', loader)).toBeUndefined();
    expect(loader).toHaveBeenCalledTimes(1);
    await clock.advance(5_000);
    await stack.get('missing', loader);
    expect(loader).toHaveBeenCalledTimes(2);

    const nul = jest.fn(() => null);
    await stack.get('nul', nul);
    await clock.advance(5_000);
    await stack.get('nul', nul);
    expect(nul).toHaveBeenCalledTimes(2);
  });

  it('shouldCache(false) hands the value over without caching it', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const loader = jest.fn(() => ({ ok: false }));
    const options = { shouldCache: (v: { ok: boolean }) => v.ok };
    expect(await stack.get('k', loader, options)).toEqual({ ok: false });
    await stack.get('k', loader, options);
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('an L1 hit returns the stored object itself (no copy)', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const value = { a: 1 };
    await stack.set('k', value);
    expect(await stack.get('k')).toBe(value);
  });

  it('uses the largest layer ttl as the default ttl, else 60 s', async () => {
    const a = buildStack([new MemoryLayer({ ttl: 5 }), new MemoryLayer({ ttl: '2m', name: 'second' })]);
    await a.stack.set('k', 1);
    await a.clock.advance(119_000);
    expect(await a.stack.get('k')).toBe(1); // L1 copy is gone (5 s cap), L2 still fresh
    await a.clock.advance(1_000);
    expect(await a.stack.get('k')).toBeUndefined();

    const b = buildStack([new MemoryLayer()]);
    await b.stack.set('k', 1);
    await b.clock.advance(59_999);
    expect(await b.stack.get('k')).toBe(1);
    await b.clock.advance(1);
    expect(await b.stack.get('k')).toBeUndefined();
  });
});

describe('CacheStack backfill', () => {
  it('copies an L2 hit into L1 with the same deadlines (never extends life)', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack();
    await stack.set('k', 'v', { ttl: 10, staleWhileRevalidate: 5 });
    const original = l1.get('k');
    l1.delete(['k']);
    await clock.advance(4_000);
    expect(await stack.get('k')).toBe('v');
    const copy = l1.get('k');
    expect(copy).toBeDefined();
    expect(copy?.freshUntil).toBe(original?.freshUntil);
    expect(copy?.staleUntil).toBe(original?.staleUntil);
    expect(stack.getMetrics().layers['memory']?.backfills).toBe(1);
    expect(l2.calls['get']).toBe(1);
    expect(await stack.get('k')).toBe('v'); // now from L1
    expect(l2.calls['get']).toBe(1);
  });

  it("an upper layer's shorter ttl caps its copy; the entry is then re-read from below", async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ ttl: 60 }, { ttl: 5 });
    await stack.set('k', 'v');
    await clock.advance(4_000);
    expect(await stack.get('k')).toBe('v');
    expect(l2.calls['get']).toBeUndefined();
    await clock.advance(2_000);
    expect(await stack.get('k')).toBe('v');
    expect(l2.calls['get']).toBe(1);
  });

  it('a stale L1 copy looks below for a fresher value written by another process', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack();
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 60 });
    await clock.advance(2_000);
    expect(l1.get('k')?.value).toBe('old');
    // Another process stored a fresh value in the shared layer (a later write: a higher version).
    const now = clock.now();
    const newer = { value: 'new', createdAt: now, freshUntil: now + 10_000, staleUntil: now + 10_000, errorUntil: now + 10_000, tags: undefined, tagVersions: undefined, version: now * 1000 };
    await l2.set('k', newer, 10_000);
    const loader = jest.fn(() => 'loaded');
    expect(await stack.get('k', loader)).toBe('new');
    expect(loader).not.toHaveBeenCalled();
    expect(l1.get('k')?.value).toBe('new');
  });
});
