import { jest } from '@jest/globals';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

const SWR = { ttl: 10, staleWhileRevalidate: 60 };

describe('CacheStack stale-while-revalidate', () => {
  it('serves stale at once and starts one background refresh per key, however many stale reads', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    const reads = await Promise.all(Array.from({ length: 20 }, () => stack.get('k', control.loader, SWR)));
    expect(reads).toEqual(Array.from({ length: 20 }, () => 'old'));
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    expect(await stack.get('k', control.loader, SWR)).toBe('old'); // still refreshing: no second refresh
    expect(control.calls).toBe(1);
    control.resolveNext('new');
    await stack.idle();
    expect(await stack.get('k', control.loader, SWR)).toBe('new');
    expect(stack.getMetrics().stack).toMatchObject({ stale: 21, refreshes: 1 });
  });

  it('the refresh receives the stale value and an abort signal', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', { n: 1 }, SWR);
    await clock.advance(11_000);
    const loader = jest.fn((ctx: { stale: { n: number } | undefined; signal: AbortSignal; key: string }) => ({ n: (ctx.stale?.n ?? 0) + 1 }));
    await stack.get('k', loader, SWR);
    await stack.idle();
    expect(loader.mock.calls[0]?.[0]).toMatchObject({ key: 'k', stale: { n: 1 } });
    expect(await stack.get('k')).toEqual({ n: 2 });
  });

  it('tells the loader whether it runs as a background refresh: true for a refresh, false for a miss and a stale-if-error reload', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const seen: [string, boolean][] = [];
    const loader = ({ key, background }: { key: string; background: boolean }) => (seen.push([key, background]), 'v');
    await stack.get('miss', loader, SWR);
    await stack.set('swr', 'old', SWR);
    await stack.set('sie', 'old', { ttl: 1, staleIfError: 60 });
    await clock.advance(11_000);
    await stack.get('swr', loader, SWR);
    await stack.get('sie', loader, { ttl: 1, staleIfError: 60 });
    await stack.idle();
    expect(seen).toEqual([
      ['miss', false],
      ['swr', true],
      ['sie', false],
    ]);
  });

  it('a failing refresh is counted, logged once per burst, never thrown nor unhandled; stale keeps being served', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { stack, clock, logger } = buildStack([new MemoryLayer()]);
      const errors: unknown[] = [];
      stack.on('refresh-error', ({ error }) => errors.push(error));
      await stack.set('k', 'old', SWR);
      await clock.advance(11_000);
      const failing = () => Promise.reject(new Error('refresh failed'));
      for (let i = 0; i < 3; i++) {
        expect(await stack.get('k', failing, SWR)).toBe('old');
        await stack.idle();
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(stack.getMetrics().stack.refreshErrors).toBe(3);
      expect(errors).toHaveLength(3);
      expect(logger.lines.filter((l) => l.message.includes('Background refresh'))).toHaveLength(1);
      expect(unhandled).toEqual([]);
      expect(await stack.get('k', () => 'recovered', SWR)).toBe('old');
      await stack.idle();
      expect(await stack.get('k')).toBe('recovered');
      expect(logger.lines.some((l) => l.message.includes('recovered after 3 failures'))).toBe(true);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a miss that arrives while a refresh runs joins it instead of loading twice', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', { ttl: 10, staleWhileRevalidate: 5 });
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    expect(await stack.get('k', control.loader)).toBe('old');
    await clock.advance(10_000); // the stale window is over while the refresh still runs
    const waiting = stack.get('k', control.loader);
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.resolveNext('new');
    expect(await waiting).toBe('new');
  });
});

describe('CacheStack stale-if-error', () => {
  it('serves the stale value when the synchronous reload fails, to every waiter', async () => {
    const { stack, clock, logger } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', { ttl: 1, staleIfError: 60 });
    await clock.advance(2_000);
    const control = controlledLoader<string>();
    const reads = Array.from({ length: 5 }, () => stack.get('k', control.loader));
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.rejectNext(new Error('db down'));
    expect(await Promise.all(reads)).toEqual(['old', 'old', 'old', 'old', 'old']);
    expect(stack.getMetrics().stack.staleIfError).toBe(5);
    expect(logger.lines.length).toBeGreaterThan(0);
  });

  it('a loader timeout counts as a failure too', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()], { loaderTimeout: 2 });
    await stack.set('k', 'old', { ttl: 1, staleIfError: 60 });
    await clock.advance(2_000);
    const read = stack.get('k', () => new Promise<string>(() => undefined));
    await clock.advance(2_000);
    expect(await read).toBe('old');
  });
});
