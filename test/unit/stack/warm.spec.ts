/**
 * `CacheStack.warm()` on the fake clock: order and concurrency, what is skipped and what is loaded, failures,
 * the `warm` event and metrics, input checks, namespace views, closing, and (in-process peers) the cluster's
 * single-flight collapsing warmers of one key.
 */
import { InvalidOptionError, StackClosedError } from '../../../lib/core/errors.js';
import type { WarmTotals } from '../../../lib/core/events.js';
import { MemoryTagStore } from '../../../lib/core/memory-tag.store.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import type { WarmEntry } from '../../../lib/stack/warm-entries.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { CoordinatorHub } from '../../support/in-process-peers.js';
import { buildStack, buildTwoLayerStack, controlledLoader } from '../../support/stack-builder.js';

describe('CacheStack.warm()', () => {
  it('runs higher priority first, equal priorities in the order given, one at a time with concurrency 1', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const ran: string[] = [];
    const entry = (key: string, priority?: number): WarmEntry => ({ key, loader: () => (ran.push(key), key), ...(priority !== undefined && { priority }) });
    const report = await stack.warm([entry('low', -1), entry('a'), entry('top', 10), entry('b'), entry('mid', 5), entry('c')], { concurrency: 1 });
    expect(ran).toEqual(['top', 'mid', 'a', 'b', 'c', 'low']);
    // The report keeps the order given.
    expect(report.entries.map((e) => e.key)).toEqual(['low', 'a', 'top', 'b', 'mid', 'c']);
    expect(report.entries.every((e) => e.status === 'loaded')).toBe(true);
    expect(await stack.get('mid')).toBe('mid');
  });

  it.each([1, 3, 4])('never runs more than concurrency %i loaders at once, and keeps that many busy', async (concurrency) => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<number>();
    const entries = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, loader: control.loader }));
    const warming = stack.warm(entries, { concurrency });
    let most = 0;
    for (let done = 0; done < 10; done++) {
      await flushMicrotasks(50);
      most = Math.max(most, control.pending);
      expect(control.pending).toBe(Math.min(concurrency, 10 - done));
      control.resolveNext(done);
    }
    const report = await warming;
    expect(most).toBe(concurrency);
    expect(report.loaded).toBe(10);
  });

  it('takes entries typed with different value types in one list (each entry keeps its own T)', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const count: WarmEntry<number> = { key: 'count', loader: () => 3, options: { shouldCache: (n) => n > 0 } };
    const products: WarmEntry<{ id: number }>[] = [1, 2].map((id) => ({ key: `product:${id}`, loader: () => ({ id }) }));
    const report = await stack.warm([count, ...products, { key: 'name', loader: () => 'n', options: { shouldCache: (s: string) => s.length > 0 } }]);
    expect(report.loaded).toBe(4);
    expect(stack.peek('product:2')).toEqual({ id: 2 });
  });

  it('uses a concurrency of 4 by default', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<number>();
    const warming = stack.warm(Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, loader: control.loader })));
    await flushMicrotasks(50);
    expect(control.pending).toBe(4);
    for (let i = 0; i < 6; i++) {
      control.resolveNext(i);
      await flushMicrotasks(50);
    }
    expect((await warming).loaded).toBe(6);
  });

  it('skips a key cached fresh (in L1 or only in the slower layer) without running its loader', async () => {
    const { stack, l1 } = buildTwoLayerStack();
    await stack.set('in-l1', 'cached');
    await stack.set('in-l2', 'cached');
    l1.delete(['in-l2']);
    let calls = 0;
    const loader = () => ++calls;
    const report = await stack.warm([
      { key: 'in-l1', loader },
      { key: 'in-l2', loader },
      { key: 'missing', loader },
    ]);
    expect(calls).toBe(1);
    expect(report.entries.map((e) => [e.key, e.status])).toEqual([
      ['in-l1', 'skipped'],
      ['in-l2', 'skipped'],
      ['missing', 'loaded'],
    ]);
    expect(report).toMatchObject({ total: 3, loaded: 1, skipped: 2, failed: 0 });
    await stack.idle();
    expect(l1.get('in-l2')?.value).toBe('cached'); // found in L2: backfilled into L1, as a read does
  });

  it('reloads and stores a stale entry instead of serving it (even within staleWhileRevalidate)', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', { ttl: 10, staleWhileRevalidate: 60 });
    await clock.advance(11_000);
    const seen: unknown[] = [];
    const report = await stack.warm([{ key: 'k', loader: ({ background }) => (seen.push(background), 'new'), options: { ttl: 10, staleWhileRevalidate: 60 } }]);
    expect(report.entries[0]).toMatchObject({ key: 'k', status: 'loaded' });
    expect(seen).toEqual([false]);
    const detailed = await stack.getDetailed('k');
    expect(detailed).toMatchObject({ value: 'new', status: 'hit' });
  });

  it('reports a failing loader and still warms the rest; the call resolves', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const boom = new Error('db down');
    const report = await stack.warm(
      [
        { key: 'a', loader: () => 'a' },
        {
          key: 'bad',
          loader: async () => {
            await clock.advance(0);
            throw boom;
          },
        },
        { key: 'sync-bad', loader: () => { throw boom; } },
        { key: 'b', loader: () => 'b' },
      ],
      { concurrency: 1 },
    );
    expect(report).toMatchObject({ total: 4, loaded: 2, skipped: 0, failed: 2 });
    expect(report.entries[1]).toMatchObject({ key: 'bad', status: 'failed', error: boom });
    expect(report.entries[2]).toMatchObject({ key: 'sync-bad', status: 'failed', error: boom });
    expect(report.entries[0]?.error).toBeUndefined();
    expect(await stack.get('b')).toBe('b');
    expect(await stack.get('bad')).toBeUndefined();
  });

  it('a loader past its loaderTimeout fails its entry with the timeout', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const warming = stack.warm([{ key: 'slow', loader: control.loader, options: { loaderTimeout: 2 } }]);
    await clock.advance(2_000);
    const report = await warming;
    expect(report.entries[0]).toMatchObject({ status: 'failed', durationMs: 2_000 });
    expect((report.entries[0]?.error as Error).name).toBe('LoaderTimeoutError');
  });

  it('emits a warm event with the totals and duration, and counts warmed, skipped and failed entries', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('cached', 1);
    const events: WarmTotals[] = [];
    stack.on('warm', (totals) => events.push(totals));
    const control = controlledLoader<number>();
    const warming = stack.warm([
      { key: 'cached', loader: () => 0 },
      { key: 'slow', loader: control.loader },
      { key: 'bad', loader: () => Promise.reject(new Error('x')) },
    ]);
    await clock.advance(1_500);
    control.resolveNext(2);
    const report = await warming;
    expect(events).toEqual([{ total: 3, loaded: 1, skipped: 1, failed: 1, durationMs: 1_500 }]);
    expect(report.durationMs).toBe(1_500);
    expect(report.entries[1]?.durationMs).toBe(1_500);
    expect(stack.getMetrics().stack).toMatchObject({ warmed: 1, warmSkipped: 1, warmFailed: 1, loads: 2 });
    await stack.warm([{ key: 'slow', loader: () => 3 }]);
    expect(stack.getMetrics().stack).toMatchObject({ warmed: 1, warmSkipped: 2, warmFailed: 1 });
  });

  it('joins a load of the key already running in this process: the entry is skipped, its loader never runs', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const reading = stack.get('k', control.loader);
    await flushMicrotasks();
    let warmCalls = 0;
    const warming = stack.warm([{ key: 'k', loader: () => (warmCalls++, 'from warm') }]);
    await flushMicrotasks(50);
    control.resolveNext('from get');
    const report = await warming;
    expect(await reading).toBe('from get');
    expect(warmCalls).toBe(0);
    expect(report.entries[0]).toMatchObject({ status: 'skipped' });
  });

  describe('bad input: InvalidOptionError naming it, before anything runs', () => {
    const cases: [string, unknown, unknown, string][] = [
      ['entries not an array', { key: 'k', loader: () => 1 }, undefined, 'entries'],
      ['an entry that is not an object', ['k'], undefined, 'entries[0]'],
      ['an empty key', [{ key: 'ok', loader: () => 1 }, { key: '', loader: () => 1 }], undefined, 'entries[1].key'],
      ['a key that is not a string', [{ key: 42, loader: () => 1 }], undefined, 'entries[0].key'],
      ['a key with a control character', [{ key: 'a\nb', loader: () => 1 }], undefined, 'entries[0].key'],
      ['a loader that is not a function', [{ key: 'k', loader: 'load' }], undefined, 'entries[0].loader'],
      ['a missing loader', [{ key: 'k' }], undefined, 'entries[0].loader'],
      ['a priority that is not a finite number', [{ key: 'k', loader: () => 1, priority: Number.NaN }], undefined, 'entries[0].priority'],
      ['an unknown entry option', [{ key: 'k', loader: () => 1, ttl: 5 }], undefined, 'entries[0].ttl'],
      ['a bad entry ttl', [{ key: 'k', loader: () => 1, options: { ttl: -1 } }], undefined, 'entries[0].options.ttl'],
      ['entry options that are not an object', [{ key: 'k', loader: () => 1, options: 5 }], undefined, 'entries[0].options'],
      ['concurrency 0', [], { concurrency: 0 }, 'concurrency'],
      ['a fractional concurrency', [], { concurrency: 1.5 }, 'concurrency'],
      ['a concurrency that is a string', [], { concurrency: '2' }, 'concurrency'],
      ['an unknown warm option', [], { parallel: 2 }, 'parallel'],
      ['options that are not an object', [], 3, 'options'],
    ];
    it.each(cases)('%s', async (_, entries, options, option) => {
      const { stack } = buildStack([new MemoryLayer()]);
      let calls = 0;
      const good = { key: 'good', loader: () => ++calls };
      const list = Array.isArray(entries) ? [good, ...entries] : entries;
      const name = option.replace(/^entries\[(\d+)\]/, (_m, i: string) => `entries[${Number(i) + 1}]`);
      const error = await stack.warm(list as WarmEntry[], options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(Array.isArray(entries) ? name : option);
      expect(calls).toBe(0);
      expect(stack.getMetrics().stack.loads).toBe(0);
    });
  });

  it('warms keys in a namespace view, where that view reads them and the parent does not', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const tenant = stack.namespace('tenant-1');
    await tenant.set('cached', 'c');
    const report = await tenant.warm([
      { key: 'user:1', loader: ({ key }) => `loaded ${key}` },
      { key: 'cached', loader: () => 'again' },
    ]);
    expect(report.entries.map((e) => [e.key, e.status])).toEqual([
      ['user:1', 'loaded'],
      ['cached', 'skipped'],
    ]);
    expect(tenant.peek('user:1')).toBe('loaded user:1');
    expect(await stack.get('user:1')).toBeUndefined();
    expect(await stack.namespace('tenant-2').get('user:1')).toBeUndefined();
  });

  it('a closed stack rejects warm() with StackClosedError', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    await stack.close();
    await expect(stack.warm([{ key: 'k', loader: () => 1 }])).rejects.toBeInstanceOf(StackClosedError);
  });

  it('close() during a warm aborts the running loads; the rest fail without running; the call resolves', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<number>();
    const warming = stack.warm(
      Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, loader: control.loader })),
      { concurrency: 2 },
    );
    await flushMicrotasks(50);
    expect(control.calls).toBe(2);
    await stack.close();
    const report = await warming;
    expect(control.calls).toBe(2);
    expect(report).toMatchObject({ total: 5, loaded: 0, skipped: 0, failed: 5 });
    expect(report.entries.every((e) => e.error instanceof StackClosedError)).toBe(true);
  });

  it('with a load coordinator, two instances warming the same keys at once load each key once in the cluster', async () => {
    const clock = new FakeClock();
    const coordinators = new CoordinatorHub(clock);
    const store = new MemoryLayer({ name: 'shared-store' });
    const tagStore = new MemoryTagStore(clock);
    const peers = [0, 1].map(() => buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, tagStore, singleFlight: coordinators.coordinator() }).stack);
    const calls = new Map<string, number>();
    const entries = Array.from({ length: 20 }, (_, i) => ({
      key: `k${i}`,
      loader: async ({ key }: { key: string }) => {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        await clock.advance(0);
        return key.toUpperCase();
      },
    }));
    const [a, b] = await Promise.all(peers.map((stack) => stack.warm(entries, { concurrency: 5 })));
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(calls.size).toBe(20);
    expect((a?.loaded ?? 0) + (b?.loaded ?? 0)).toBe(20);
    expect((a?.skipped ?? 0) + (b?.skipped ?? 0)).toBe(20);
    expect(a?.failed).toBe(0);
    expect(b?.failed).toBe(0);
    for (const stack of peers) expect(await stack.get('k7')).toBe('K7');
  });
});
