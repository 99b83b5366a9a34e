import { jest } from '@jest/globals';
import { InvalidOptionError, RateLimitError, StackClosedError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import type { LoaderRateLimitOptions } from '../../../lib/stack/cache-stack.options.js';
import { flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

/** `promise`, with a handler attached so that a test failing before it awaits it leaves no unhandled rejection. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** A loader that records how many of its runs are in progress at once and when each started. */
function trackingLoader(clock: { now(): number }) {
  const control = controlledLoader<string>();
  let running = 0;
  let maxRunning = 0;
  const starts: number[] = [];
  const loader = async (context: { signal: AbortSignal }) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    starts.push(clock.now());
    try {
      return await control.loader(context);
    } finally {
      running--;
    }
  };
  return {
    loader,
    control,
    starts,
    get maxRunning() {
      return maxRunning;
    },
  };
}

function limitedStack(limit: LoaderRateLimitOptions) {
  return buildStack([new MemoryLayer()], { loaderRateLimit: limit });
}

describe('loaderRateLimit (fake clock)', () => {
  it('never runs more than `concurrency` loaders at once; the others wait and run as slots free', async () => {
    const { stack, clock } = limitedStack({ concurrency: 2, maxWait: 60, scope: 'global' });
    const t = trackingLoader(clock);
    const reads = Array.from({ length: 10 }, (_, i) => handled(stack.get(`k${i}`, t.loader)));
    await flushMicrotasks();
    expect(t.control.calls).toBe(2);
    for (let done = 0; done < 10; done++) {
      t.control.resolveNext(`v${done}`);
      await flushMicrotasks();
      expect(t.maxRunning).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(reads)).toHaveLength(10);
    expect(t.control.calls).toBe(10);
    expect(t.maxRunning).toBe(2);
    expect(stack.getMetrics().stack).toMatchObject({ rateLimitWaits: 8, rateLimited: 0, loads: 10 });
  });

  it('starts at most `perSecond` loaders in any rolling second', async () => {
    const { stack, clock } = limitedStack({ perSecond: 2, maxWait: 10, scope: 'global' });
    const start = clock.now();
    const starts: number[] = [];
    const reads = Array.from({ length: 5 }, (_, i) =>
      stack.get(`k${i}`, () => {
        starts.push(clock.now() - start);
        return i;
      }),
    );
    await clock.advance(3_000);
    expect(await Promise.all(reads)).toEqual([0, 1, 2, 3, 4]);
    expect(starts).toEqual([0, 0, 1_000, 1_000, 2_000]);
  });

  it('a load that finds no room within maxWait fails with RateLimitError, its loader not called', async () => {
    const { stack, clock } = limitedStack({ concurrency: 1, maxWait: '500ms', scope: 'global' });
    const hanging = controlledLoader<string>();
    const first = handled(stack.get('a', hanging.loader));
    const loader = jest.fn(() => 'b');
    const second = stack.get('b', loader).catch((e: unknown) => e);
    await clock.advance(499);
    expect(loader).not.toHaveBeenCalled();
    await clock.advance(1);
    const error = await second;
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', bucket: 'global', waited: 500 });
    expect(loader).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack).toMatchObject({ rateLimitWaits: 1, rateLimited: 1 });
    hanging.resolveNext('a');
    expect(await first).toBe('a');
    expect(await stack.get('b', loader)).toBe('b'); // room again
  });

  it('maxWait 0 fails at once when there is no room', async () => {
    const { stack } = limitedStack({ concurrency: 1, maxWait: 0, scope: 'global' });
    const hanging = controlledLoader<string>();
    void stack.get('a', hanging.loader).catch(() => undefined);
    await expect(stack.get('b', () => 'b')).rejects.toMatchObject({ code: 'RATE_LIMITED', waited: 0 });
    hanging.resolveNext('a');
  });

  it('a stale (SWR) read is answered at once with the stale value; its refresh waits for a slot', async () => {
    const { stack, clock } = limitedStack({ concurrency: 1, maxWait: 60, scope: 'global' });
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 600 });
    await clock.advance(2_000);
    const hanging = controlledLoader<string>();
    void stack.get('busy', hanging.loader).catch(() => undefined);
    const refresh = jest.fn(() => 'new');
    expect(await stack.get('k', refresh, { staleWhileRevalidate: 600 })).toBe('old');
    await flushMicrotasks();
    expect(refresh).not.toHaveBeenCalled(); // waiting for the slot
    hanging.resolveNext('done');
    await stack.idle();
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(await stack.get('k')).toBe('new');
  });

  it('a refresh that finds no room within maxWait is dropped (not a refresh error); the stale value stays', async () => {
    const { stack, clock, logger } = limitedStack({ concurrency: 1, maxWait: 1, scope: 'global' });
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 600 });
    await clock.advance(2_000);
    const hanging = controlledLoader<string>();
    void stack.get('busy', hanging.loader).catch(() => undefined);
    const refresh = jest.fn(() => 'new');
    expect(await stack.get('k', refresh, { staleWhileRevalidate: 600 })).toBe('old');
    await clock.advance(1_000);
    await flushMicrotasks();
    expect(refresh).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack).toMatchObject({ rateLimited: 1, refreshErrors: 0 });
    expect(logger.lines).toEqual([]);
    expect(await stack.get('k')).toBe('old');
    hanging.resolveNext('done');
  });

  it('a read with a stale-if-error value does not wait: the stale value is served at once', async () => {
    const { stack, clock } = limitedStack({ concurrency: 1, maxWait: 60, scope: 'global' });
    await stack.set('k', 'old', { ttl: 1, staleIfError: 600 });
    await clock.advance(2_000);
    const hanging = controlledLoader<string>();
    void stack.get('busy', hanging.loader).catch(() => undefined);
    const loader = jest.fn(() => 'new');
    const read = await stack.getDetailed('k', loader, { staleIfError: 600 });
    expect(read).toMatchObject({ value: 'old', status: 'stale-if-error' });
    expect(loader).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack).toMatchObject({ rateLimited: 1, rateLimitWaits: 0 });
    hanging.resolveNext('done');
  });

  it('single-flight still collapses callers: 50 callers of one key wait in one place and run the loader once', async () => {
    const { stack } = limitedStack({ concurrency: 1, maxWait: 60, scope: 'global' });
    const hanging = controlledLoader<string>();
    void stack.get('busy', hanging.loader).catch(() => undefined);
    const loader = jest.fn(() => 'v');
    const all = Array.from({ length: 50 }, () => stack.get('hot', loader));
    await flushMicrotasks();
    expect(stack.getMetrics().stack.rateLimitWaits).toBe(1);
    hanging.resolveNext('done');
    expect(new Set(await Promise.all(all))).toEqual(new Set(['v']));
    expect(loader).toHaveBeenCalledTimes(1);
  });

  it("scope 'key': each key has its own bucket", async () => {
    const { stack } = limitedStack({ perSecond: 1, maxWait: 0, scope: 'key' });
    expect(await stack.get('a', () => 'a1')).toBe('a1');
    await stack.delete('a');
    await expect(stack.get('a', () => 'a2')).rejects.toMatchObject({ code: 'RATE_LIMITED', bucket: 'key:a' }); // a's second start within 1 s
    expect(await stack.get('b', () => 'b')).toBe('b');
    expect(await stack.namespace('n').get('a', () => 'x')).toBe('x'); // another namespace's key
  });

  it("scope 'namespace': namespaces do not share; scope 'global': they do", async () => {
    const perNamespace = limitedStack({ concurrency: 1, maxWait: 0, scope: 'namespace' });
    const hanging = controlledLoader<string>();
    void perNamespace.stack.namespace('a').get('k', hanging.loader).catch(() => undefined);
    expect(await perNamespace.stack.namespace('b').get('k', () => 'b')).toBe('b');
    await expect(perNamespace.stack.namespace('a').get('k2', () => 'x')).rejects.toMatchObject({ bucket: 'namespace:a' });
    hanging.resolveNext('a');

    const global = limitedStack({ concurrency: 1, maxWait: 0, scope: 'global' });
    const held = controlledLoader<string>();
    void global.stack.namespace('a').get('k', held.loader).catch(() => undefined);
    await expect(global.stack.namespace('b').get('k', () => 'b')).rejects.toMatchObject({ bucket: 'global' });
    held.resolveNext('a');
  });

  it('a scope function puts keys into named buckets', async () => {
    const host = (key: string) => key.split('/')[0] as string;
    const { stack } = limitedStack({ concurrency: 1, maxWait: 0, scope: host });
    const hanging = controlledLoader<string>();
    void stack.get('api.a/1', hanging.loader).catch(() => undefined);
    await expect(stack.get('api.a/2', () => 'x')).rejects.toMatchObject({ bucket: 'api.a' });
    expect(await stack.get('api.b/1', () => 'y')).toBe('y');
    hanging.resolveNext('a');
  });

  it('close() rejects the loads waiting for a slot', async () => {
    const { stack } = limitedStack({ concurrency: 1, maxWait: 60, scope: 'global' });
    const hanging = controlledLoader<string>();
    const first = stack.get('a', hanging.loader).catch((e: unknown) => e);
    const loader = jest.fn(() => 'b');
    const waiting = stack.get('b', loader).catch((e: unknown) => e);
    await flushMicrotasks();
    await stack.close();
    expect(await waiting).toBeInstanceOf(StackClosedError);
    expect(await first).toBeInstanceOf(StackClosedError);
    expect(loader).not.toHaveBeenCalled();
  });

  it('on a call; `false` turns a stack default off', async () => {
    const { stack } = limitedStack({ concurrency: 1, maxWait: 0, scope: 'global' });
    const hanging = controlledLoader<string>();
    void stack.get('a', hanging.loader).catch(() => undefined);
    await expect(stack.get('b', () => 'b')).rejects.toBeInstanceOf(RateLimitError);
    expect(await stack.get('b', () => 'b', { loaderRateLimit: false })).toBe('b');
    hanging.resolveNext('a');
  });

  it('rejects bad options with an InvalidOptionError naming them', () => {
    const cases: [unknown, string][] = [
      [{ scope: 'global' }, 'loaderRateLimit'],
      [{ concurrency: 1 }, 'loaderRateLimit.scope'],
      [{ concurrency: 1, scope: 'tenant' }, 'loaderRateLimit.scope'],
      [{ concurrency: 0, scope: 'global' }, 'loaderRateLimit.concurrency'],
      [{ perSecond: 2.5, scope: 'global' }, 'loaderRateLimit.perSecond'],
      [{ perSecond: 2, maxWait: -1, scope: 'global' }, 'loaderRateLimit.maxWait'],
      [{ perSecond: 2, scope: 'global', burst: 3 }, 'loaderRateLimit.burst'],
      ['global', 'loaderRateLimit'],
    ];
    for (const [option, name] of cases) {
      const attempt = () => buildStack([new MemoryLayer()], { loaderRateLimit: option as never });
      expect(attempt).toThrow(InvalidOptionError);
      expect(attempt).toThrow(`"${name}"`);
    }
  });
});
