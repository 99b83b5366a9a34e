import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CacheStack } from '../../../lib/stack/cache-stack.js';
import { FakeClock } from '../../support/fake-clock.js';
import { RecordingLogger } from '../../support/stack-builder.js';

/** `ttl(key)` and `inspect(key)` on in-process layers, time moved by a fake clock. */
describe('CacheStack.ttl and inspect', () => {
  const stacks: CacheStack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  });

  function build(clock: FakeClock, layers = [new MemoryLayer()]) {
    const stack = new CacheStack(layers, { logger: new RecordingLogger(), clock, ttl: 60 });
    stacks.push(stack);
    return stack;
  }

  it('walks an entry through fresh, stale, error-window and absent, in seconds with ms precision', async () => {
    const clock = new FakeClock();
    const stack = build(clock);
    await stack.set('k', 1, { ttl: 10, staleWhileRevalidate: 5, staleIfError: 20, tags: ['t'] });
    const created = clock.now();
    expect(await stack.ttl('k')).toBe(10);
    const fresh = await stack.inspect('k');
    expect(fresh).toMatchObject({
      state: 'fresh',
      layer: 'memory',
      remaining: { fresh: 10, stale: 15, error: 30 },
      createdAt: created,
      freshUntil: created + 10_000,
      staleUntil: created + 15_000,
      errorUntil: created + 30_000,
      tags: ['t'],
    });
    expect(typeof fresh.version).toBe('number');
    await clock.advance(2_500);
    expect(await stack.ttl('k')).toBe(7.5);
    await clock.advance(8_000); // 10.5 s
    expect(await stack.ttl('k')).toBe(0);
    expect(await stack.inspect('k')).toMatchObject({ state: 'stale', remaining: { fresh: 0, stale: 4.5, error: 19.5 } });
    await clock.advance(5_000); // 15.5 s
    expect(await stack.inspect('k')).toMatchObject({ state: 'error-window', remaining: { fresh: 0, stale: 0, error: 14.5 } });
    expect(await stack.ttl('k')).toBe(0);
    await clock.advance(15_000); // 30.5 s
    expect(await stack.inspect('k')).toMatchObject({ state: 'absent', layer: undefined, remaining: { fresh: 0, stale: 0, error: 0 }, tags: [] });
    expect(await stack.ttl('k')).toBeUndefined();
  });

  it('counts no hit nor miss, loads nothing and does not extend a sliding entry', async () => {
    const clock = new FakeClock();
    const stack = build(clock);
    await stack.set('s', 'v', { ttl: 10, slidingTtl: true });
    const before = stack.getMetrics();
    await clock.advance(6_000);
    expect(await stack.ttl('s')).toBe(4);
    expect(await stack.ttl('missing')).toBeUndefined();
    const after = stack.getMetrics();
    expect([after.stack.hits, after.stack.misses, after.stack.stale]).toEqual([before.stack.hits, before.stack.misses, before.stack.stale]);
    expect(after.layers['memory']?.hits).toBe(before.layers['memory']?.hits);
    await clock.advance(5_000); // a read at 6 s would have slid it to 16 s: inspect did not
    expect(await stack.inspect('s')).toMatchObject({ state: 'absent' }); // slid, it would be fresh for 5 s more
  });

  it('reads an entry invalidated by tag or deleted as absent', async () => {
    const clock = new FakeClock();
    const stack = build(clock);
    await stack.set('a', 1, { tags: ['x'] });
    await stack.set('b', 2);
    await stack.invalidateByTag('x');
    await stack.delete('b');
    expect(await stack.inspect('a')).toMatchObject({ state: 'absent' });
    expect(await stack.ttl('b')).toBeUndefined();
  });

  it('falls through to the second layer when the first has no copy, and stays within a namespace', async () => {
    const clock = new FakeClock();
    const l1 = new MemoryLayer();
    const l2 = new MemoryLayer({ name: 'second' });
    const stack = build(clock, [l1, l2]);
    await stack.set('k', 'v', { ttl: 30 });
    l1.clear(undefined);
    expect(await stack.inspect('k')).toMatchObject({ state: 'fresh', remaining: { fresh: 30 } });
    expect(l1.get('k')).toBeUndefined(); // no backfill...
    await stack.get('k');
    expect(l1.get('k')).toBeDefined(); // ...where a read backfills
    const ns = stack.namespace('ns');
    await ns.set('k', 'w', { ttl: 5 });
    expect(await ns.ttl('k')).toBe(5);
    expect(await stack.ttl('k')).toBe(30);
  });

  it('rejects a bad key and a closed stack', async () => {
    const stack = build(new FakeClock());
    await expect(stack.ttl('')).rejects.toThrow(/empty/);
    await stack.close();
    await expect(stack.inspect('k')).rejects.toThrow(/closed/i);
  });
});
