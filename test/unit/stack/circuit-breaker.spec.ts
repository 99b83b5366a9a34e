import { jest } from '@jest/globals';
import { CircuitOpenError, InvalidOptionError, LoaderTimeoutError } from '../../../lib/core/errors.js';
import type { CacheEventMap } from '../../../lib/core/events.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import type { CacheStack } from '../../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../../lib/stack/cache-stack.options.js';
import { flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

/** `promise`, with a handler attached so that a test failing before it awaits it leaves no unhandled rejection. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

const breaker = { failureThreshold: 3, window: 10, cooldown: 5 };
const boom = () => Promise.reject(new Error('upstream down'));

function breakerStack(options: CacheStackOptions = {}) {
  const built = buildStack([new MemoryLayer()], { circuitBreaker: breaker, ...options });
  const opened: CacheEventMap['circuit-open'][] = [];
  const closed: CacheEventMap['circuit-close'][] = [];
  built.stack.on('circuit-open', (e) => opened.push(e));
  built.stack.on('circuit-close', (e) => closed.push(e));
  return { ...built, opened, closed };
}

/** `n` misses of distinct keys whose loader fails. */
async function fail(stack: CacheStack, n: number, prefix = 'f'): Promise<void> {
  for (let i = 0; i < n; i++) await expect(stack.get(`${prefix}${i}`, boom)).rejects.toThrow('upstream down');
}

describe('circuitBreaker: state transitions (fake clock)', () => {
  it('opens at failureThreshold failures within the window; then fails fast without calling the loader', async () => {
    const { stack, clock, opened } = breakerStack();
    await fail(stack, 2);
    await clock.advance(9_000);
    await fail(stack, 1, 'g'); // third failure within 10 s: opens
    expect(opened).toEqual([{ circuit: 'namespace:', failures: 3, probe: false, until: clock.now() + 5_000 }]);
    const loader = jest.fn(() => 'fine');
    const error = await stack.get('other', loader).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: 'CIRCUIT_OPEN', circuit: 'namespace:', retryAfter: 5_000 });
    expect(loader).not.toHaveBeenCalled();
    await clock.advance(2_000);
    await expect(stack.get('other', loader)).rejects.toMatchObject({ retryAfter: 3_000 });
    expect(stack.getMetrics().stack).toMatchObject({ circuitOpens: 1, circuitRejections: 2, openCircuits: 1, loads: 3, loadErrors: 3 });
  });

  it('failures older than the window do not count', async () => {
    const { stack, clock, opened } = breakerStack();
    await fail(stack, 2);
    await clock.advance(10_000); // the first two leave the 10 s window
    await fail(stack, 2, 'g');
    expect(opened).toEqual([]);
    expect(await stack.get('ok', () => 'v')).toBe('v');
    await fail(stack, 1, 'h'); // 3 within the window now
    expect(opened).toHaveLength(1);
  });

  it('a loader timeout counts as a failure', async () => {
    const { stack, clock } = breakerStack({ loaderTimeout: 1 });
    for (let i = 0; i < 3; i++) {
      const pending = stack.get(`slow${i}`, () => new Promise<string>(() => undefined));
      await clock.advance(1_000);
      await expect(pending).rejects.toBeInstanceOf(LoaderTimeoutError);
    }
    await expect(stack.get('x', () => 'v')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('while open, a miss with a stale-if-error value is answered with it, the loader not called', async () => {
    const { stack, clock } = breakerStack();
    await stack.set('k', 'old', { ttl: 1, staleIfError: 600 });
    await clock.advance(2_000);
    await fail(stack, 3);
    const loader = jest.fn(() => 'new');
    const read = await stack.getDetailed('k', loader, { staleIfError: 600 });
    expect(read).toMatchObject({ value: 'old', status: 'stale-if-error' });
    expect(loader).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack).toMatchObject({ staleIfError: 1, circuitRejections: 1 });
  });

  it('while open, a stale (SWR) read is served and its background refresh is skipped', async () => {
    const { stack, clock } = breakerStack();
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 600 });
    await clock.advance(2_000);
    await fail(stack, 3);
    const loader = jest.fn(() => 'new');
    expect(await stack.get('k', loader, { staleWhileRevalidate: 600 })).toBe('old');
    await stack.idle();
    expect(loader).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack).toMatchObject({ refreshes: 0, refreshErrors: 0, circuitRejections: 1 });
  });

  it('after the cooldown one probe runs (half-open): concurrent loads of other keys fail fast, its own key shares it; success closes', async () => {
    const { stack, clock, closed } = breakerStack();
    await fail(stack, 3);
    await clock.advance(5_000);
    const probe = controlledLoader<string>();
    const first = handled(stack.get('p', probe.loader));
    const sameKey = handled(stack.get('p', probe.loader));
    await flushMicrotasks();
    expect(probe.calls).toBe(1);
    const other = jest.fn(() => 'other');
    await expect(stack.get('q', other)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', retryAfter: 0 });
    expect(other).not.toHaveBeenCalled();
    expect(stack.getMetrics().stack.openCircuits).toBe(1);
    probe.resolveNext('up again');
    expect(await first).toBe('up again');
    expect(await sameKey).toBe('up again');
    expect(closed).toEqual([{ circuit: 'namespace:' }]);
    expect(await stack.get('q', other)).toBe('other');
    expect(stack.getMetrics().stack).toMatchObject({ openCircuits: 0, circuitOpens: 1 });
  });

  it('a failed probe opens the circuit again for another cooldown', async () => {
    const { stack, clock, opened } = breakerStack();
    await fail(stack, 3);
    await clock.advance(5_000);
    await expect(stack.get('p', boom)).rejects.toThrow('upstream down');
    expect(opened[1]).toEqual({ circuit: 'namespace:', failures: 1, probe: true, until: clock.now() + 5_000 });
    const loader = jest.fn(() => 'v');
    await clock.advance(4_999);
    await expect(stack.get('x', loader)).rejects.toMatchObject({ retryAfter: 1 });
    await clock.advance(1);
    expect(await stack.get('x', loader)).toBe('v');
    expect(stack.getMetrics().stack).toMatchObject({ circuitOpens: 2, openCircuits: 0 });
  });

  it('a background refresh can be the probe', async () => {
    const { stack, clock, closed } = breakerStack();
    await stack.set('k', 'old', { ttl: 1, staleWhileRevalidate: 600 });
    await clock.advance(2_000);
    await fail(stack, 3);
    await clock.advance(5_000);
    expect(await stack.get('k', () => 'fresh', { staleWhileRevalidate: 600 })).toBe('old');
    await stack.idle();
    expect(closed).toHaveLength(1);
    expect(await stack.get('k')).toBe('fresh');
  });

  it('single-flight still collapses callers: 20 concurrent callers of a failing key are one loader run, one failure', async () => {
    const { stack, opened } = breakerStack();
    const control = controlledLoader<string>();
    const all = Array.from({ length: 20 }, () => stack.get('hot', control.loader).catch((e: unknown) => e));
    await flushMicrotasks();
    control.rejectNext(new Error('down'));
    await Promise.all(all);
    expect(control.calls).toBe(1);
    expect(opened).toEqual([]);
    await fail(stack, 1); // 2 failures counted: still closed
    expect(await stack.get('next', () => 'v')).toBe('v');
    await fail(stack, 1, 'g'); // the third opens it
    await expect(stack.get('after', () => 'v')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it("scope 'key': one key's circuit opens, the other keys still load", async () => {
    const { stack } = breakerStack({ circuitBreaker: { ...breaker, scope: 'key' } });
    for (let i = 0; i < 3; i++) await expect(stack.get('bad', boom)).rejects.toThrow('upstream down');
    await expect(stack.get('bad', () => 'v')).rejects.toMatchObject({ circuit: 'key:bad' });
    expect(await stack.get('good', () => 'v')).toBe('v');
  });

  it("scope 'namespace' (the default): each namespace has its own circuit", async () => {
    const { stack } = breakerStack();
    const orders = stack.namespace('orders');
    await fail(orders, 3);
    await expect(orders.get('x', () => 'v')).rejects.toMatchObject({ circuit: 'namespace:orders' });
    expect(await stack.namespace('users').get('x', () => 'v')).toBe('v');
    expect(await stack.get('x', () => 'v')).toBe('v');
  });

  it('on a namespace: its loads have a breaker, the root and other namespaces do not', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const payments = stack.namespace('payments', { circuitBreaker: breaker });
    await fail(payments, 3);
    await expect(payments.get('x', () => 'v')).rejects.toMatchObject({ circuit: 'namespace:payments' });
    await expect(stack.namespace('payments').namespace('eu', { ttl: 5 }).get('y', () => 'v')).resolves.toBe('v'); // a view without it
    await expect(payments.namespace('eu').get('z', boom)).rejects.toThrow('upstream down'); // nested: inherits it, own circuit
    await fail(stack, 5);
    expect(await stack.get('x', () => 'v')).toBe('v');
  });

  it('a scope function names the circuit from the key', async () => {
    const tenant = (key: string) => key.split(':')[0] as string;
    const { stack } = breakerStack({ circuitBreaker: { ...breaker, scope: tenant } });
    await fail(stack, 3, 'acme:');
    await expect(stack.get('acme:z', () => 'v')).rejects.toMatchObject({ circuit: 'acme' });
    expect(await stack.get('globex:z', () => 'v')).toBe('v');
  });

  it('on a call; `false` turns a stack default off', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    const options = { circuitBreaker: breaker };
    for (let i = 0; i < 3; i++) await expect(stack.get(`k${i}`, boom, options)).rejects.toThrow('upstream down');
    await expect(stack.get('k', () => 'v', options)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(await stack.get('k', () => 'v')).toBe('v'); // no breaker on this call

    const guarded = breakerStack();
    await fail(guarded.stack, 3);
    expect(await guarded.stack.get('k', () => 'v', { circuitBreaker: false })).toBe('v');
  });

  it("memory stays bounded: past 10,000 circuits, open 'key' circuits left unprobed for a window after their cooldown close", async () => {
    const { stack, clock, closed } = breakerStack({ circuitBreaker: { failureThreshold: 1, window: 1, cooldown: 1, scope: 'key' } });
    for (let i = 0; i < 10_000; i++) await stack.get(`k${i}`, boom).catch(() => undefined);
    expect(stack.getMetrics().stack.openCircuits).toBe(10_000);
    await clock.advance(2_000); // cooldown (1 s) + window (1 s) over, nobody probed
    await expect(stack.get('new', boom)).rejects.toThrow('upstream down');
    expect(stack.getMetrics().stack.openCircuits).toBe(1);
    expect(closed).toHaveLength(10_000);
  });

  it('rejects bad options with an InvalidOptionError naming them', () => {
    const cases: [unknown, string][] = [
      [{ window: 1, cooldown: 1 }, 'circuitBreaker.failureThreshold'],
      [{ failureThreshold: 0, window: 1, cooldown: 1 }, 'circuitBreaker.failureThreshold'],
      [{ failureThreshold: 1.5, window: 1, cooldown: 1 }, 'circuitBreaker.failureThreshold'],
      [{ failureThreshold: 1, cooldown: 1 }, 'circuitBreaker.window'],
      [{ failureThreshold: 1, window: 0, cooldown: 1 }, 'circuitBreaker.window'],
      [{ failureThreshold: 1, window: 1, cooldown: 'soon' }, 'circuitBreaker.cooldown'],
      [{ failureThreshold: 1, window: 1, cooldown: 1, scope: 'global' }, 'circuitBreaker.scope'],
      [{ failureThreshold: 1, window: 1, cooldown: 1, threshold: 2 }, 'circuitBreaker.threshold'],
      [true, 'circuitBreaker'],
    ];
    for (const [option, name] of cases) {
      const attempt = () => buildStack([new MemoryLayer()], { circuitBreaker: option as never });
      expect(attempt).toThrow(InvalidOptionError);
      expect(attempt).toThrow(`"${name}"`);
    }
  });
});
