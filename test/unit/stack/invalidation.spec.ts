import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, buildTwoLayerStack, controlledLoader } from '../../support/stack-builder.js';

describe('invalidation beats in-flight work', () => {
  it.each([
    ['delete', (stack: Stack) => stack.delete('k')],
    ['set', (stack: Stack) => stack.set('k', 'written meanwhile')],
    ['deleteMany', (stack: Stack) => stack.deleteMany(['k'])],
    ['clear', (stack: Stack) => stack.clear()],
  ])('a %s during a running load: the late result reaches its caller but is not stored', async (_name, invalidate) => {
    const { stack } = buildTwoLayerStack();
    const control = controlledLoader<string>();
    const pending = stack.get('k', control.loader);
    await flushMicrotasks(50);
    await invalidate(stack);
    const afterInvalidation = await stack.get('k');
    control.resolveNext('late');
    expect(await pending).toBe('late');
    expect(await stack.get('k')).toBe(afterInvalidation);
    expect(await stack.get('k')).not.toBe('late');
    expect(stack.getMetrics().stack.discardedLoads).toBe(1);
  });

  it('a delete during a background refresh keeps the refreshed value out of the cache', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 60 });
    await clock.advance(2_000);
    const control = controlledLoader<string>();
    expect(await stack.get('k', control.loader)).toBe('old');
    await stack.delete('k');
    control.resolveNext('refreshed');
    await stack.idle();
    expect(await stack.get('k')).toBeUndefined();
  });

  it('a tag invalidation during a load makes its result invalid (tags known only from the result too)', async () => {
    const { stack } = buildTwoLayerStack();
    const control = controlledLoader<{ id: number }>();
    const pending = stack.get('user:1', control.loader, { tags: (user) => [`user:${user.id}`] });
    await flushMicrotasks(50);
    await stack.invalidateByTag('user:1');
    control.resolveNext({ id: 1 });
    expect(await pending).toEqual({ id: 1 });
    expect(await stack.get('user:1')).toBeUndefined();
  });

  it('an invalidation of an unrelated key or tag does not discard the load', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const pending = stack.get('k', control.loader, { tags: ['a'] });
    await flushMicrotasks();
    await stack.delete('other');
    await stack.invalidateByTag('b');
    control.resolveNext('v');
    await pending;
    expect(await stack.get('k')).toBe('v');
  });
});

describe('tags', () => {
  it('invalidateByTag removes every tagged entry from every layer without touching others', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    await stack.set('a', 1, { tags: ['users'] });
    await stack.set('b', 2, { tags: ['users', 'admins'] });
    await stack.set('c', 3, { tags: ['posts'] });
    await stack.set('d', 4);
    await stack.invalidateByTag('users');
    expect(await stack.getMany(['a', 'b', 'c', 'd'])).toEqual([undefined, undefined, 3, 4]);
    expect(l2.calls['delete']).toBeUndefined(); // no key was deleted or scanned: versions did it
  });

  it("'any' invalidates entries with any of the tags; 'all' only those carrying all of them", async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const seed = async () => {
      await stack.set('ab', 'ab', { tags: ['a', 'b'] });
      await stack.set('abc', 'abc', { tags: ['c', 'b', 'a'] });
      await stack.set('a', 'a', { tags: ['a'] });
      await stack.set('b', 'b', { tags: ['b'] });
    };
    await seed();
    await stack.invalidateByTags(['a', 'b'], 'all');
    expect(await stack.getMany(['ab', 'abc', 'a', 'b'])).toEqual([undefined, undefined, 'a', 'b']);
    await seed();
    await stack.invalidateByTags(['a', 'b'], 'any');
    expect(await stack.getMany(['ab', 'abc', 'a', 'b'])).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('entries written after an invalidation are valid again', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    await stack.set('k', 1, { tags: ['t'] });
    await stack.invalidateByTag('t');
    await stack.set('k', 2, { tags: ['t'] });
    expect(await stack.get('k')).toBe(2);
    const loaded = await stack.get('j', () => 'j', { tags: ['t'] });
    expect(loaded).toBe('j');
    expect(await stack.get('j')).toBe('j');
  });

  it('a tags function that throws or returns bad names: the value is returned, not cached, and logged', async () => {
    const { stack, logger } = buildStack([new MemoryLayer()]);
    expect(await stack.get('k', () => 1, { tags: () => ['bad\ntag'] })).toBe(1);
    expect(await stack.get('k')).toBeUndefined();
    expect(logger.lines.some((l) => l.message.includes('Not caching "k"'))).toBe(true);
  });
});

type Stack = ReturnType<typeof buildStack>['stack'];
