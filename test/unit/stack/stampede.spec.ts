import { jest } from '@jest/globals';
import { LoaderTimeoutError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, buildTwoLayerStack, controlledLoader } from '../../support/stack-builder.js';

describe('CacheStack stampede protection (in process)', () => {
  it.each([100, 10_000])('%i concurrent misses of one key run the loader once', async (n) => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const all = Array.from({ length: n }, () => stack.get('hot', control.loader));
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.resolveNext('value');
    expect(new Set(await Promise.all(all))).toEqual(new Set(['value']));
    expect(control.calls).toBe(1);
    expect(stack.getMetrics().stack.dedupes).toBe(n - 1);
  });

  it('dedupes concurrent misses across an async L2 too', async () => {
    const { stack } = buildTwoLayerStack();
    const control = controlledLoader<number>();
    const all = Array.from({ length: 100 }, () => stack.get('hot', control.loader));
    await flushMicrotasks(50);
    expect(control.calls).toBe(1);
    control.resolveNext(42);
    expect(await Promise.all(all)).toEqual(Array.from({ length: 100 }, () => 42));
  });

  it('concurrent misses read the slower layer once, not once each', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    const control = controlledLoader<number>();
    const all = Array.from({ length: 100 }, () => stack.get('hot', control.loader));
    await flushMicrotasks(50);
    expect(l2.calls['get']).toBe(1);
    control.resolveNext(1);
    await Promise.all(all);
  });

  it('a read that starts after a delete does not join a lookup that started before it', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack();
    await stack.set('k', 'old');
    l1.delete(['k']);
    l2.hang();
    const before = stack.get('k');
    await flushMicrotasks();
    l2.heal();
    await stack.delete('k');
    expect(await stack.get('k', () => 'reloaded')).toBe('reloaded');
    expect(l2.calls['get']).toBe(2);
    void before;
  });

  it('a failing loader rejects every waiter with its error, caches nothing, and the next call runs it again', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const all = Array.from({ length: 50 }, () => stack.get('k', control.loader));
    await flushMicrotasks();
    const boom = new Error('db down');
    control.rejectNext(boom);
    const results = await Promise.allSettled(all);
    expect(results.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true);
    expect(await stack.get('k')).toBeUndefined();
    const again = stack.get('k', control.loader);
    await flushMicrotasks();
    expect(control.calls).toBe(2);
    control.resolveNext('ok');
    expect(await again).toBe('ok');
  });

  it('a loader that throws synchronously is shared and cleared the same way', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const loader = jest.fn((): string => {
      throw new Error('sync throw');
    });
    await expect(stack.get('k', loader)).rejects.toThrow('sync throw');
    await expect(stack.get('k', loader)).rejects.toThrow('sync throw');
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it('a loader that never settles cannot wedge the key: LoaderTimeoutError, abort signal, then a new load', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()], { loaderTimeout: '5s' });
    const control = controlledLoader<string>();
    const first = stack.get('k', control.loader);
    const second = stack.get('k', control.loader);
    await clock.advance(4_999);
    expect(control.calls).toBe(1);
    await clock.advance(1);
    await expect(first).rejects.toBeInstanceOf(LoaderTimeoutError);
    await expect(second).rejects.toMatchObject({ code: 'LOADER_TIMEOUT' });
    expect(stack.getMetrics().stack.loadErrors).toBe(1);

    const third = stack.get('k', control.loader);
    await flushMicrotasks();
    expect(control.calls).toBe(2);
    control.resolveNext('late first result, ignored'); // the hung loader finally answers: dropped
    control.resolveNext('fresh');
    expect(await third).toBe('fresh');
    expect(await stack.get('k')).toBe('fresh');
  });

  it('the timed-out loader sees its signal aborted', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()], { loaderTimeout: 1 });
    let signal: AbortSignal | undefined;
    const pending = stack.get('k', (ctx) => {
      signal = ctx.signal;
      return new Promise<string>(() => undefined);
    });
    await clock.advance(1_000);
    await expect(pending).rejects.toBeInstanceOf(LoaderTimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a settled load leaves no timer behind', async () => {
    const { stack, clock } = buildStack([new MemoryLayer()]);
    await stack.get('k', () => 'v');
    await expect(stack.get('e', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(clock.pendingTimers).toBe(0);
  });

  it('loads of different keys run in parallel', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const control = controlledLoader<string>();
    const a = stack.get('a', control.loader);
    const b = stack.get('b', control.loader);
    await flushMicrotasks();
    expect(control.calls).toBe(2);
    control.resolveNext('A');
    control.resolveNext('B');
    expect([await a, await b]).toEqual(['A', 'B']);
  });
});
