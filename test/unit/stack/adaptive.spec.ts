import { jest } from '@jest/globals';
import type { CacheStack } from '../../../lib/stack/cache-stack.js';
import { buildTwoLayerStack } from '../../support/stack-builder.js';

/** `n` fresh reads of `key`, at the current instant. */
async function read(stack: CacheStack, key: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect(await stack.get(key)).toBeDefined();
}

describe('adaptiveTtl', () => {
  const options = { ttl: 10, adaptiveTtl: { max: 40, hits: 3, step: 10 } };

  it('ramps a hot key by step per `hits` reads within one ttl, up to max, in every layer and in the metadata', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack(options);
    await stack.set('k', 'v');
    const createdAt = clock.now();
    const levels: number[] = [];
    for (let round = 0; round < 5; round++) {
      await clock.advance(1_000);
      await read(stack, 'k', 3);
      await stack.idle();
      const entry = l1.get('k');
      levels.push(entry?.freshness?.ttl ?? 0);
      // Without slidingTtl a raise moves freshness to createdAt + level, in L1 and in the shared layer.
      expect(entry?.freshUntil).toBe(createdAt + (entry?.freshness?.ttl ?? 0));
      expect(await l2.get('k')).toMatchObject({ freshUntil: entry?.freshUntil, freshness: { ttl: entry?.freshness?.ttl } });
    }
    expect(levels).toEqual([20_000, 30_000, 40_000, 40_000, 40_000]);
    expect(l1.get('k')?.freshness?.adaptive).toEqual({ base: 10_000, max: 40_000, hits: 3, step: 10_000 });
    expect(stack.getMetrics().stack).toMatchObject({ adaptiveRaises: 3, adaptiveResets: 0 });
  });

  it('fewer than `hits` reads within one ttl raise nothing', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack(options);
    for (let i = 0; i < 6; i++) {
      await stack.set('k', 'v'); // the count goes on across writes: hotness is the key's
      await read(stack, 'k', 1);
      await clock.advance(5_000); // two reads per window of 10 s
    }
    await stack.idle();
    expect(l1.get('k')?.freshness?.ttl).toBe(10_000);
    expect(stack.getMetrics().stack.adaptiveRaises).toBe(0);
    expect(l2.calls.touch).toBeUndefined();
  });

  it('a write of a key still hot keeps its level; a key that cooled is written with the base ttl again', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack(options);
    await stack.set('k', 'v1');
    await read(stack, 'k', 3); // level 20 s
    await clock.advance(5_000);
    await read(stack, 'k', 3); // level 30 s; a new window of 30 s starts
    await clock.advance(20_000);
    await stack.set('k', 'v2'); // within that window: still hot
    expect(l1.get('k')).toMatchObject({ value: 'v2', freshUntil: clock.now() + 30_000, freshness: { ttl: 30_000, adaptive: { base: 10_000 } } });
    await clock.advance(30_001); // the window ended with no read: cooled
    const loader = jest.fn(() => 'v3');
    expect(await stack.get('k', loader)).toBe('v3'); // expired: loaded and written at the base ttl
    expect(l1.get('k')).toMatchObject({ freshUntil: clock.now() + 10_000, freshness: { ttl: 10_000 } });
    expect(stack.getMetrics().stack).toMatchObject({ adaptiveRaises: 2, adaptiveResets: 1 });
  });

  it('a key that cools is counted once, when a read or a write finds its window over', async () => {
    const { stack, clock } = buildTwoLayerStack({ ...options, slidingTtl: true });
    await stack.set('k', 'v');
    await read(stack, 'k', 3); // 20 s, sliding: fresh until now + 20 s
    await clock.advance(15_000);
    await read(stack, 'k', 1); // the window of 20 s is still open
    await clock.advance(19_000);
    await read(stack, 'k', 1); // 34 s after the raise: the window closed with 1 read
    await clock.advance(1_000);
    await read(stack, 'k', 1);
    expect(stack.getMetrics().stack).toMatchObject({ adaptiveRaises: 1, adaptiveResets: 1 });
  });

  it('with slidingTtl a raise extends to now + the new level, never past maxTtl', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ ...options, slidingTtl: true, maxTtl: 30 });
    await stack.set('k', 'v');
    const createdAt = clock.now();
    await clock.advance(2_000);
    await read(stack, 'k', 3);
    await stack.idle();
    expect(l1.get('k')).toMatchObject({ freshUntil: clock.now() + 20_000, freshness: { ttl: 20_000 } });
    expect(await l2.get('k')).toMatchObject({ freshUntil: clock.now() + 20_000, freshness: { ttl: 20_000 } });
    await clock.advance(2_000);
    await read(stack, 'k', 3); // 30 s from now would pass maxTtl (30 s after the write)
    await stack.idle();
    expect(l1.get('k')).toMatchObject({ freshUntil: createdAt + 30_000, freshness: { ttl: 30_000 } });
    expect(await l2.get('k')).toMatchObject({ freshUntil: createdAt + 30_000, freshness: { ttl: 30_000 } });
  });
});
