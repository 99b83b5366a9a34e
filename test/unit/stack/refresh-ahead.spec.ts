/**
 * Refresh-ahead (`refreshAhead`): a read after the given fraction of the fresh window is still a hit and starts one
 * background refresh, so a key read steadily never misses nor serves stale. On the fake clock.
 */
import { InvalidOptionError } from '../../../lib/core/errors.js';
import { MemoryRevalidationLock } from '../../../lib/core/memory-revalidation.lock.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CACHE_MISS } from '../../../lib/stack/cache-stack.js';
import type { LoaderContext } from '../../../lib/stack/cache-stack.options.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

const AHEAD = { ttl: 10, refreshAhead: 0.8 };

describe('refreshAhead', () => {
  it('serves the fresh value and starts one background refresh once 80% of the fresh window has passed', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const contexts: LoaderContext<string>[] = [];
    let n = 0;
    const loader = (context: LoaderContext<string>) => {
      contexts.push(context);
      return `v${++n}`;
    };
    expect(await stack.get('k', loader, AHEAD)).toBe('v1');
    await clock.advance(7_999);
    expect(await stack.getDetailed('k', loader, AHEAD)).toMatchObject({ value: 'v1', status: 'hit' });
    expect(n).toBe(1);
    await clock.advance(1);
    expect(await stack.getDetailed('k', loader, AHEAD)).toMatchObject({ value: 'v1', status: 'hit' });
    await stack.idle();
    expect(n).toBe(2);
    expect(contexts[1]).toMatchObject({ key: 'k', stale: 'v1', background: true });
    expect(await stack.get('k', loader, AHEAD)).toBe('v2');
    // The refreshed entry is fresh for a whole ttl from the refresh, and due again after 80% of it.
    await clock.advance(7_999);
    expect(await stack.get('k', loader, AHEAD)).toBe('v2');
    await stack.idle();
    expect(n).toBe(2);
    const metrics = stack.getMetrics().stack;
    expect(metrics).toMatchObject({ misses: 1, stale: 0, refreshes: 1, refreshesAhead: 1 });
  });

  it('a key read steadily never misses and never serves stale; the loader runs about once per period', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    let loads = 0;
    const loader = () => ++loads;
    for (let second = 0; second < 100; second++) {
      const read = await stack.getDetailed('k', loader, AHEAD);
      expect(read.status).toBe(second === 0 ? 'miss' : 'hit');
      await clock.advance(1_000);
    }
    await stack.idle();
    const metrics = stack.getMetrics().stack;
    expect(metrics.misses).toBe(1);
    expect(metrics.stale).toBe(0);
    // One load, then a refresh every 8 s of the remaining 99 s.
    expect(loads).toBe(1 + Math.floor(99 / 8));
  });

  it('without refreshAhead the same loop misses once per ttl', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    let loads = 0;
    for (let second = 0; second < 100; second++) {
      await stack.get('k', () => ++loads, { ttl: 10 });
      await clock.advance(1_000);
    }
    expect(stack.getMetrics().stack.misses).toBe(10);
  });

  it('starts one refresh however many reads come while it runs', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', AHEAD);
    await clock.advance(9_000);
    const control = controlledLoader<string>();
    const reads = await Promise.all(Array.from({ length: 20 }, () => stack.get('k', control.loader, AHEAD)));
    expect(reads).toEqual(Array(20).fill('old'));
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.resolveNext('new');
    await stack.idle();
    expect(await stack.get('k', control.loader, AHEAD)).toBe('new');
    expect(control.calls).toBe(1);
  });

  it('peek answers CACHE_MISS for an entry due for its refresh, so a caller with a loader starts it', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'v', AHEAD);
    expect(stack.peek('k')).toBe('v');
    await clock.advance(8_000);
    expect(stack.peek('k')).toBe(CACHE_MISS);
    // Without a loader the entry is still a fresh hit, and nothing is refreshed.
    expect(await stack.getDetailed('k')).toMatchObject({ value: 'v', status: 'hit' });
    await stack.idle();
    expect(stack.getMetrics().stack.refreshesAhead).toBe(0);
  });

  it('a failed refresh keeps serving the fresh value until it expires', async () => {
    const { stack, clock, logger } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'v', AHEAD);
    await clock.advance(8_500);
    const failing = () => Promise.reject(new Error('upstream down'));
    expect(await stack.get('k', failing, AHEAD)).toBe('v');
    await stack.idle();
    expect(stack.getMetrics().stack.refreshErrors).toBe(1);
    expect(logger.lines.some((line) => line.message.includes('Background refresh of "k" failed'))).toBe(true);
    expect(await stack.getDetailed('k', failing, AHEAD)).toMatchObject({ value: 'v', status: 'hit' });
    await stack.idle();
  });

  it('starts the refresh for a fresh entry found in a slower layer (L1 empty)', async () => {
    const l2 = new ChaosLayer(new MemoryLayer({ name: 'l2-store' }), { name: 'l2' });
    const { stack, clock } = buildStack([new MemoryLayer(), l2], { revalidationLock: false });
    const other = buildStack([new MemoryLayer(), l2], { clock, revalidationLock: false }).stack;
    await other.set('k', 'v', AHEAD);
    await clock.advance(8_000);
    const control = controlledLoader<string>();
    expect(await stack.getDetailed('k', control.loader, AHEAD)).toMatchObject({ value: 'v', status: 'hit' });
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.resolveNext('v2');
    await stack.idle();
    const third = buildStack([new MemoryLayer(), l2], { clock, revalidationLock: false }).stack;
    expect(await third.get('k')).toBe('v2');
  });

  describe('once per cluster, under the revalidation lock', () => {
    /** Two stacks sharing an L2 (a layer offering `lock`) on one clock. */
    function cluster() {
      const clock = new FakeClock();
      const lock = new MemoryRevalidationLock({ clock });
      const store = new MemoryLayer({ name: 'l2-store' });
      const shared = () => Object.assign(new ChaosLayer(store, { name: 'l2' }), { createRevalidationLock: () => lock });
      const a = buildStack([new MemoryLayer(), shared()], { clock }).stack;
      const b = buildStack([new MemoryLayer(), shared()], { clock }).stack;
      return { a, b, clock, lock };
    }

    it('two instances due for the same refresh run the loader once', async () => {
      const { a, b, clock } = cluster();
      await a.set('k', 'v1', AHEAD);
      expect(await b.get('k')).toBe('v1');
      await clock.advance(8_000);
      const control = controlledLoader<string>();
      expect(await Promise.all([a.get('k', control.loader, AHEAD), b.get('k', control.loader, AHEAD)])).toEqual(['v1', 'v1']);
      await flushMicrotasks();
      expect(control.calls).toBe(1);
      control.resolveNext('v2');
      await Promise.all([a.idle(), b.idle()]);
      expect(a.getMetrics().stack.refreshesSkipped + b.getMetrics().stack.refreshesSkipped).toBe(1);
    });

    it('a free lease over a still-fresh entry refreshes it (the entry being refreshed is not mistaken for a peer refresh)', async () => {
      const { a, clock } = cluster();
      await a.set('k', 'v1', AHEAD);
      await clock.advance(8_000);
      let loads = 0;
      expect(await a.get('k', () => `v${++loads + 1}`, AHEAD)).toBe('v1');
      await a.idle();
      expect(loads).toBe(1);
      expect(await a.get('k')).toBe('v2');
    });

    it("takes a peer's refresh that landed before the lease instead of loading again", async () => {
      const { a, b, clock } = cluster();
      await a.set('k', 'v1', AHEAD);
      expect(await b.get('k')).toBe('v1');
      await clock.advance(8_000);
      let loads = 0;
      expect(await a.get('k', () => `a${++loads}`, AHEAD)).toBe('v1');
      await a.idle();
      // b's L1 copy is still the old entry (no bus here): its refresh finds a's newer entry under the lease.
      expect(await b.get('k', () => `b${++loads}`, AHEAD)).toBe('v1');
      await b.idle();
      expect(loads).toBe(1);
      expect(b.getMetrics().stack.refreshesSkipped).toBe(1);
      expect(await b.get('k')).toBe('a1');
    });
  });

  it.each([[1], [-0.1], [Number.NaN], ['0.8']])('rejects refreshAhead %p with an InvalidOptionError naming it', async (value) => {
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack.get('k', () => 1, { refreshAhead: value as number })).rejects.toThrow(InvalidOptionError);
    await expect(stack.get('k', () => 1, { refreshAhead: value as number })).rejects.toThrow(/refreshAhead/);
  });

  it('refreshAhead: 0 on a call turns a stack default off', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()], AHEAD);
    let loads = 0;
    await stack.get('k', () => ++loads, { refreshAhead: 0 });
    await clock.advance(9_000);
    await stack.get('k', () => ++loads, { refreshAhead: 0 });
    await stack.idle();
    expect(loads).toBe(1);
  });
});
