import { jest } from '@jest/globals';
import type { CacheEntry } from '../../../lib/core/entry.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

/** The deadlines of an entry relative to `now` (ms), to compare layers at a glance. */
function deadlines(entry: CacheEntry | undefined, now: number) {
  if (entry === undefined) return undefined;
  return { fresh: entry.freshUntil - now, stale: entry.staleUntil - now, error: entry.errorUntil - now };
}

describe('slidingTtl', () => {
  it('every fresh read extends the entry by its ttl in L1 and in the shared layer; a key read more often than its ttl never expires', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    const loader = jest.fn(() => 'v');
    expect(await stack.get('k', loader)).toBe('v');
    for (let i = 0; i < 10; i++) {
      await clock.advance(6_000); // 60 s in all: six times the ttl
      expect(await stack.get('k', loader)).toBe('v');
      await stack.idle();
      expect(deadlines(l1.get('k'), clock.now())).toEqual({ fresh: 10_000, stale: 10_000, error: 10_000 });
      expect(deadlines(await l2.get('k'), clock.now())).toEqual({ fresh: 10_000, stale: 10_000, error: 10_000 });
    }
    expect(loader).toHaveBeenCalledTimes(1);
    expect(stack.getMetrics().stack).toMatchObject({ hits: 10, misses: 1, slidingExtensions: 10 });
    // peek (the decorators' synchronous path) extends too.
    await clock.advance(6_000);
    expect(stack.peek('k')).toBe('v');
    await stack.idle();
    expect(l1.get('k')?.freshUntil).toBe(clock.now() + 10_000);
    expect((await l2.get('k'))?.freshUntil).toBe(clock.now() + 10_000);
    // Unread for a whole ttl, it expires.
    await clock.advance(10_000);
    expect(await stack.get('k')).toBeUndefined();
  });

  it('extends an entry found in the shared layer (and backfilled) like one found in L1', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.set('k', 'v');
    l1.delete(['k']);
    await clock.advance(4_000);
    expect(await stack.get('k')).toBe('v');
    await stack.idle();
    expect(l1.get('k')?.freshUntil).toBe(clock.now() + 10_000);
    expect((await l2.get('k'))?.freshUntil).toBe(clock.now() + 10_000);
  });

  it('bulk reads (getMany) extend too, from L1 and from the shared layer', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.setMany([
      { key: 'a', value: 'A' },
      { key: 'b', value: 'B' },
    ]);
    l1.delete(['b']);
    await clock.advance(4_000);
    expect(await stack.getMany(['a', 'b'])).toEqual(['A', 'B']);
    await stack.idle();
    for (const key of ['a', 'b']) {
      expect(l1.get(key)?.freshUntil).toBe(clock.now() + 10_000);
      expect((await l2.get(key))?.freshUntil).toBe(clock.now() + 10_000);
    }
  });

  it('reads within one millisecond re-stamp the entry once: the same object is served, nothing is written again', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.set('k', 'v');
    await clock.advance(2_000);
    expect(stack.peek('k')).toBe('v');
    const stamped = l1.get('k');
    for (let i = 0; i < 5; i++) expect(stack.peek('k')).toBe('v');
    await stack.idle();
    expect(l1.get('k')).toBe(stamped);
    expect(l2.calls.touch).toBe(1);
    expect(stack.getMetrics().stack.slidingExtensions).toBe(1);
  });

  it('extends the shared layer at most once per tenth of the ttl per key, L1 on every read', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.set('a', 'A');
    await stack.set('b', 'B');
    for (let i = 0; i < 20; i++) {
      await clock.advance(250); // 5 s of reads every 250 ms: the shared copy moves every 1 s (ttl / 10)
      expect(await stack.get('a')).toBe('A');
      expect(l1.get('a')?.freshUntil).toBe(clock.now() + 10_000);
    }
    await stack.idle();
    expect(l2.calls.touch).toBe(5);
    // What the shared copy holds is never more than a tenth of the ttl behind the last read's extension.
    expect(clock.now() + 10_000 - ((await l2.get('a'))?.freshUntil ?? 0)).toBeLessThan(1_000);
    // Per key: a read of another key extends that key's shared copy at once.
    expect(await stack.get('b')).toBe('B');
    await stack.idle();
    expect(l2.calls.touch).toBe(6);
    expect((await l2.get('b'))?.freshUntil).toBe(clock.now() + 10_000);
  });

  it('never extends past maxTtl after the write', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10, maxTtl: 25 });
    const loader = jest.fn(() => 'v');
    await stack.get('k', loader);
    const createdAt = clock.now();
    await clock.advance(8_000);
    await stack.get('k', loader);
    await clock.advance(8_000);
    await stack.get('k', loader); // now + ttl = 26 s after the write: capped at 25 s
    await stack.idle();
    expect(l1.get('k')?.freshUntil).toBe(createdAt + 25_000);
    expect((await l2.get('k'))?.freshUntil).toBe(createdAt + 25_000);
    await clock.advance(8_000);
    await stack.get('k', loader); // 24 s: fresh, nothing to extend
    await clock.advance(1_000);
    expect(loader).toHaveBeenCalledTimes(1);
    await stack.get('k', loader); // 25 s: expired whatever the reads
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('the stale windows keep their lengths after the new freshUntil', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10, staleWhileRevalidate: 5, staleIfError: 20 });
    await stack.set('k', 'v');
    await clock.advance(7_000);
    await stack.get('k');
    await stack.idle();
    expect(deadlines(l1.get('k'), clock.now())).toEqual({ fresh: 10_000, stale: 15_000, error: 30_000 });
    expect(deadlines(await l2.get('k'), clock.now())).toEqual({ fresh: 10_000, stale: 15_000, error: 30_000 });
    // A stale read is not extended: only fresh reads slide.
    await clock.advance(12_000);
    expect(await stack.get('k')).toBe('v');
    await stack.idle();
    expect(deadlines(l1.get('k'), clock.now())).toEqual({ fresh: -2_000, stale: 3_000, error: 18_000 });
  });

  it('a write that lands between the read of the shared layer and its extension is never overwritten (version check)', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.set('k', 'v1');
    l1.delete(['k']);
    await clock.advance(5_000);
    l2.pause(); // the read of L2 runs now (it reads v1), its reply arrives after the write below
    const read = stack.get('k');
    await Promise.resolve();
    const write = stack.set('k', 'v2', { ttl: 1 }); // v2 fresh until now + 1 s: earlier than v1 extended (now + 10 s)
    l2.resume();
    expect(await read).toBe('v1');
    await write;
    await stack.idle();
    expect(l1.get('k')).toMatchObject({ value: 'v2', freshUntil: clock.now() + 1_000 });
    expect(await l2.get('k')).toMatchObject({ value: 'v2', freshUntil: clock.now() + 1_000 });
  });

  it('a layer without touch keeps its deadlines; the others slide', async () => {
    const inner = new MemoryLayer({ name: 'plain-store' });
    (inner as { touch?: unknown }).touch = undefined;
    const l1 = new MemoryLayer();
    const l2 = new ChaosLayer(inner, { name: 'plain' });
    const { stack, clock } = buildStack([l1, l2], { slidingTtl: true, ttl: 10 });
    await stack.set('k', 'v');
    const written = await l2.get('k');
    await clock.advance(5_000);
    expect(await stack.get('k')).toBe('v');
    await stack.idle();
    expect(l1.get('k')?.freshUntil).toBe(clock.now() + 10_000);
    expect(await l2.get('k')).toStrictEqual(written);
  });

  it('a failing or backed-off shared layer never fails nor delays the read; L1 still slides', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10, layerBackoff: 30 });
    await stack.set('k', 'v');
    l2.fail();
    for (let i = 0; i < 4; i++) {
      await clock.advance(2_000);
      expect(stack.peek('k')).toBe('v');
      await stack.idle();
    }
    expect(l1.get('k')?.freshUntil).toBe(clock.now() + 10_000);
    // One touch failed and opened the back-off window; the next ones were not even sent.
    expect(l2.calls.touch).toBe(1);
    expect(stack.getMetrics().layers.l2).toMatchObject({ errors: 1 });
  });

  it('idle() and close() wait for an extension of the shared layer in flight', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ slidingTtl: true, ttl: 10 });
    await stack.set('k', 'v');
    await clock.advance(5_000);
    l2.pause();
    expect(stack.peek('k')).toBe('v');
    let idle = false;
    const waiting = stack.idle().then(() => (idle = true));
    await clock.advance(0);
    expect(idle).toBe(false);
    l2.resume();
    await waiting;
    expect((await l2.get('k'))?.freshUntil).toBe(clock.now() + 10_000);
  });

  it('an entry written without slidingTtl does not slide, whatever the read options', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack({ ttl: 10 });
    await stack.set('k', 'v');
    const written = l1.get('k');
    await clock.advance(5_000);
    expect(await stack.get('k', () => 'other', { slidingTtl: true })).toBe('v');
    expect(l1.get('k')).toBe(written);
  });
});
