/**
 * `writeBehind`: sets reach L1 at once and the shared layer in batches — by interval, by `maxBatch`, early when
 * `maxQueue` is reached (written through, never dropped), on `close()`; deletes and clears cancel queued writes;
 * the last write of a key wins; peers hear of a write only after its flush. Fake clock, a ChaosLayer as the
 * shared layer (it counts `set`/`setMany` calls), an in-process bus.
 */
import type { InvalidationMessage } from '../../../lib/core/invalidation-bus.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CacheStack } from '../../../lib/stack/cache-stack.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { BusHub } from '../../support/in-process-peers.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

/** Writes the shared layer received (a `set` is one, a `setMany` one per call). */
function writes(l2: ChaosLayer): number {
  return (l2.calls['set'] ?? 0) + (l2.calls['setMany'] ?? 0);
}

describe('writeBehind', () => {
  it('batches sets by flushInterval: L1 at once, the shared layer in one setMany after the interval', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s', maxBatch: 100 } });
    for (let i = 0; i < 5; i++) await stack.set(`k${i}`, i);
    expect(l1.get('k0')?.value).toBe(0);
    expect(writes(l2)).toBe(0);
    await clock.advance(999);
    expect(writes(l2)).toBe(0);
    await clock.advance(1);
    expect(l2.calls['setMany']).toBe(1);
    expect((await l2.get('k4'))?.value).toBe(4);
    expect(stack.getMetrics().writeBehind).toEqual({ queued: 5, replaced: 0, flushed: 5, batches: 1, cancelled: 0, failedFlushes: 0, writtenThrough: 0, pending: 0 });
  });

  it('flushes at once when maxBatch entries wait, in batches of maxBatch', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '10s', maxBatch: 3 } });
    await stack.setMany([1, 2, 3, 4, 5, 6, 7].map((i) => ({ key: `k${i}`, value: i })));
    await clock.advance(0);
    // The flush started by a full batch sends everything queued, maxBatch entries per batch: 3 + 3 + 1.
    expect(l2.calls['setMany']).toBe(2);
    expect(l2.calls['set']).toBe(1);
    expect(stack.getMetrics().writeBehind).toMatchObject({ flushed: 7, batches: 3, pending: 0 });
    await stack.setMany([1, 2].map((i) => ({ key: `n${i}`, value: i }))); // under maxBatch: waits for the interval
    await clock.advance(9_999);
    expect(stack.getMetrics().writeBehind).toMatchObject({ batches: 3, pending: 2 });
    await clock.advance(1);
    expect(stack.getMetrics().writeBehind).toMatchObject({ flushed: 9, batches: 4, pending: 0 });
  });

  it('a set that arrives while a flush is in flight waits for the next interval (a steady stream is still batched)', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s' } });
    await stack.set('a', 1);
    l2.pause();
    await clock.advance(1_000); // the flush of a is sent, its reply held
    await stack.set('b', 2);
    l2.resume();
    await clock.advance(0);
    expect(writes(l2)).toBe(1);
    await clock.advance(999);
    expect(writes(l2)).toBe(1);
    await clock.advance(1);
    expect(writes(l2)).toBe(2);
    expect((await l2.get('b'))?.value).toBe(2);
  });

  it('a full queue writes new keys through to the shared layer at once: nothing is dropped', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s', maxBatch: 2, maxQueue: 2 } });
    l2.pause(); // the flush of the first two is in flight and does not answer
    await stack.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    await clock.advance(0);
    await stack.setMany([
      { key: 'c', value: 3 },
      { key: 'd', value: 4 },
    ]); // queued (the flush in flight holds a and b)
    const through = stack.set('e', 5); // the queue is full: written through
    await clock.advance(0);
    expect(l2.calls['set']).toBe(1);
    l2.resume();
    await through;
    await clock.advance(1_000);
    await stack.idle();
    for (const [key, value] of [['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5]] as const) expect((await l2.get(key))?.value).toBe(value);
    expect(stack.getMetrics().writeBehind).toMatchObject({ queued: 4, writtenThrough: 1, flushed: 4, pending: 0 });
  });

  it('a delete of a queued key cancels its write; a clear cancels every queued write under it', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s' } });
    await l2.set('k', await seedEntry(stack, 'k', 'old'), 60_000);
    const seeded = writes(l2);
    await stack.set('k', 'new');
    await stack.delete('k');
    await stack.namespace('ns').set('x', 1);
    await stack.namespace('ns').clear();
    await stack.set('kept', 1);
    await clock.advance(1_000);
    expect(await l2.get('k')).toBeUndefined();
    expect(await stack.get('k')).toBeUndefined();
    expect(writes(l2) - seeded).toBe(1); // only "kept"
    expect(stack.getMetrics().writeBehind).toMatchObject({ cancelled: 2, flushed: 1 });
  });

  it('last write wins: a set of a queued key replaces its entry, one write is sent', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s' } });
    await stack.set('k', 1);
    await stack.set('k', 2);
    await stack.set('k', 3);
    await clock.advance(1_000);
    expect(writes(l2)).toBe(1);
    expect((await l2.get('k'))?.value).toBe(3);
    expect(stack.getMetrics().writeBehind).toMatchObject({ queued: 1, replaced: 2, flushed: 1 });
  });

  it('close() flushes what is queued', async () => {
    const clock = new FakeClock();
    const store = new MemoryLayer({ name: 'store' });
    const kept = Object.assign(Object.create(store) as MemoryLayer, { close: () => undefined }); // readable after close
    const stack = new CacheStack([new MemoryLayer(), new ChaosLayer(kept, { name: 'l2' })], { clock, writeBehind: { flushInterval: '1h' } });
    await stack.set('a', 1);
    await stack.setMany([{ key: 'b', value: 2 }]);
    expect(store.get('a')).toBeUndefined();
    await stack.close();
    expect(store.get('a')?.value).toBe(1);
    expect(store.get('b')?.value).toBe(2);
  });

  it('peers are told only after the flush, and then drop their older copy', async () => {
    const clock = new FakeClock();
    const hub = new BusHub();
    const store = new MemoryLayer({ name: 'store' });
    const a = buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, invalidationBus: hub.bus(), writeBehind: { flushInterval: '1s' } }).stack;
    const b = buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, invalidationBus: hub.bus() }).stack;
    await Promise.all([a.ready(), b.ready()]);
    await b.set('k', 'v1');
    expect(await a.get('k')).toBe('v1');
    const sent = hub.log.length;
    await a.set('k', 'v2');
    await clock.advance(999);
    expect(hub.log.length).toBe(sent); // nothing announced yet: b still reads v1
    expect(await b.get('k')).toBe('v1');
    await clock.advance(1);
    await a.idle();
    const announced = hub.log.slice(sent).map((m) => m.message);
    expect(announced).toEqual([expect.objectContaining<Partial<InvalidationMessage>>({ kind: 'keys', keys: ['k'] })]);
    await clock.advance(0);
    expect(await b.get('k')).toBe('v2'); // its copy dropped, read from the shared layer
  });

  it("a peer's newer delete cancels the older queued write", async () => {
    const clock = new FakeClock();
    const hub = new BusHub();
    const store = new MemoryLayer({ name: 'store' });
    const a = buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, invalidationBus: hub.bus(), writeBehind: { flushInterval: '1s' } }).stack;
    const b = buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, invalidationBus: hub.bus() }).stack;
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'queued');
    await clock.advance(1); // b's delete is newer
    await b.delete('k');
    await clock.advance(0);
    await clock.advance(1_000);
    expect(store.get('k')).toBeUndefined();
    expect(await a.get('k')).toBeUndefined();
    expect(a.getMetrics().writeBehind).toMatchObject({ cancelled: 1, flushed: 0 });
  });

  it('a read of a queued key that L1 lost is served the queued entry, not the older shared value', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s' } });
    await l2.set('k', await seedEntry(stack, 'k', 'old'), 60_000);
    await stack.set('k', 'new');
    l1.delete(['k']); // evicted
    expect(await stack.get('k', () => 'loaded')).toBe('new');
    l1.delete(['k']);
    expect(await stack.getMany(['k'])).toEqual(['new']);
  });

  it('a failed flush is counted; the shared layer gets the keys deleted when it recovers', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writeBehind: { flushInterval: '1s' }, layerBackoff: '1s' });
    await l2.set('k', await seedEntry(stack, 'k', 'old'), 60_000);
    await stack.set('k', 'new');
    l2.fail();
    await clock.advance(1_000);
    expect(stack.getMetrics().writeBehind).toMatchObject({ failedFlushes: 1, flushed: 0, pending: 0 });
    l2.heal();
    await clock.advance(1_000);
    await stack.idle();
    expect(await l2.get('k')).toBeUndefined();
  });

  it('has no queue without a shared layer', async () => {
    const { stack } = buildStack([new MemoryLayer()], { writeBehind: { flushInterval: '1s' } });
    await stack.set('k', 1);
    expect(stack.getMetrics().writeBehind).toBeUndefined();
    expect(await stack.get('k')).toBe(1);
  });

  it.each([
    [{ flushInterval: 0 }, /"writeBehind.flushInterval": must be at least 1 ms/],
    [{ flushInterval: 'soon' }, /"writeBehind.flushInterval"/],
    [{ maxBatch: 0 }, /"writeBehind.maxBatch": expected a positive integer, got 0/],
    [{ maxBatch: 1.5 }, /"writeBehind.maxBatch"/],
    [{ maxQueue: -1 }, /"writeBehind.maxQueue": expected a positive integer/],
    [{ maxBatch: 10, maxQueue: 5 }, /"writeBehind.maxQueue": must be at least maxBatch \(10\), got 5/],
    [{ flushEvery: 1 }, /"writeBehind.flushEvery": unknown option; expected one of flushInterval, maxBatch, maxQueue/],
    [true, /"writeBehind": expected \{ flushInterval\?, maxBatch\?, maxQueue\? \} or false/],
  ])('rejects writeBehind %j, naming the option', (writeBehind, message) => {
    expect(() => new CacheStack([new MemoryLayer()], { writeBehind: writeBehind as never })).toThrow(message);
  });

  it('is not combined with writePolicy strict', () => {
    expect(() => new CacheStack([new MemoryLayer()], { writePolicy: 'strict', writeBehind: {} })).toThrow(/"writePolicy": 'strict' cannot be combined with writeBehind/);
  });
});

/** An entry as the stack would write it (to seed the shared layer with an older value). */
async function seedEntry(stack: CacheStack, key: string, value: unknown) {
  const probe = new MemoryLayer();
  const seeder = new CacheStack([probe], { clock: stack.clock });
  await seeder.set(key, value);
  const entry = probe.get(key);
  await seeder.close();
  if (entry === undefined) throw new Error('no entry');
  return entry;
}
