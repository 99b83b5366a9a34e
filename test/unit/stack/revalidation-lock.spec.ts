import { InvalidOptionError } from '../../../lib/core/errors.js';
import type { LockLease, RevalidationLock } from '../../../lib/core/revalidation-lock.js';
import { MemoryRevalidationLock } from '../../../lib/core/memory-revalidation.lock.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

const SWR = { ttl: 10, staleWhileRevalidate: 60 };

/** A lock over `MemoryRevalidationLock` that counts its calls and can fail, hang or wait to be let through. */
class ScriptedLock implements RevalidationLock {
  readonly calls = { acquire: 0, renew: 0, release: 0 };
  mode: 'ok' | 'fail' | 'hang' | 'manual' = 'ok';
  /** Keys whose current leases are lost (as if they expired and a peer took the key). */
  readonly lost = new Set<string>();
  readonly inner: MemoryRevalidationLock;
  private readonly waiting: (() => void)[] = [];

  constructor(
    clock: FakeClock,
    readonly shared = true,
  ) {
    this.inner = new MemoryRevalidationLock({ clock });
  }

  async acquire(key: string, ttlMs: number): Promise<LockLease | undefined> {
    this.calls.acquire++;
    if (this.mode === 'fail') throw new Error('lock down');
    if (this.mode === 'hang') return new Promise<never>(() => undefined);
    if (this.mode === 'manual') await new Promise<void>((resolve) => this.waiting.push(resolve));
    const lease = this.inner.acquire(key, ttlMs);
    if (lease === undefined) return undefined;
    return {
      key,
      renew: (ttl: number) => {
        this.calls.renew++;
        return !this.lost.has(key) && lease.renew(ttl);
      },
      release: () => {
        this.calls.release++;
        return !this.lost.has(key) && lease.release();
      },
    };
  }

  /** Lets the oldest `manual` acquire go on. */
  proceed(): void {
    const next = this.waiting.shift();
    if (next === undefined) throw new Error('no acquire waiting');
    next();
  }
}

/** A shared test layer that offers a revalidation lock of its own, as RedisLayer does. */
class LockingLayer extends ChaosLayer {
  constructor(readonly lock: RevalidationLock) {
    super(new MemoryLayer({ name: 'l2-store' }), { name: 'l2' });
  }
  createRevalidationLock(): RevalidationLock {
    return this.lock;
  }
}

async function staleStack(lock: RevalidationLock | false | undefined, clock = new FakeClock(), extra: Record<string, unknown> = {}) {
  const built = buildStack([new MemoryLayer()], { clock, ...(lock !== undefined && { revalidationLock: lock }), ...extra });
  await built.stack.set('k', 'old', SWR);
  return built;
}

describe('CacheStack revalidation lock (once per cluster)', () => {
  it('two stacks sharing a lock refresh a stale key once in total', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const a = await staleStack(lock, clock);
    const b = await staleStack(lock, clock);
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    const reads = await Promise.all([a.stack.get('k', control.loader, SWR), b.stack.get('k', control.loader, SWR), a.stack.get('k', control.loader, SWR)]);
    expect(reads).toEqual(['old', 'old', 'old']);
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    expect(lock.calls.acquire).toBe(2); // one per process: the second read of `a` joined its own attempt
    const skipped = a.stack.getMetrics().stack.refreshesSkipped + b.stack.getMetrics().stack.refreshesSkipped;
    expect(skipped).toBe(1);
    expect(lock.inner.isHeld('k')).toBe(true);
    control.resolveNext('new');
    await Promise.all([a.stack.idle(), b.stack.idle()]);
    expect(lock.inner.isHeld('k')).toBe(false); // released on completion
    expect(lock.calls.release).toBe(1);
    expect(a.stack.getMetrics().stack.refreshes + b.stack.getMetrics().stack.refreshes).toBe(1);
  });

  it('while a peer holds the lease the stale value is served and nothing runs; once it is released, a stale read refreshes', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    const peer = lock.inner.acquire('k', 30_000);
    let calls = 0;
    const loader = () => `v${++calls}`;
    expect(await stack.get('k', loader, SWR)).toBe('old');
    await stack.idle();
    expect(await stack.get('k', loader, SWR)).toBe('old');
    await stack.idle();
    expect(calls).toBe(0);
    expect(stack.getMetrics().stack).toMatchObject({ stale: 2, refreshes: 0, refreshesSkipped: 2, loads: 0 });
    peer?.release();
    expect(await stack.get('k', loader, SWR)).toBe('old');
    await stack.idle();
    expect(calls).toBe(1);
    expect(await stack.get('k', loader, SWR)).toBe('v1');
  });

  it('a crashed holder (never renews nor releases) blocks refreshes only for revalidationTimeout', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock, { revalidationTimeout: '5s' });
    await clock.advance(11_000);
    lock.inner.acquire('k', 5_000); // the "crashed" peer's lease: nobody will renew or release it
    let calls = 0;
    const loader = () => `v${++calls}`;
    expect(await stack.get('k', loader, SWR)).toBe('old');
    await stack.idle();
    expect(calls).toBe(0);
    await clock.advance(4_999);
    await stack.get('k', loader, SWR);
    await stack.idle();
    expect(calls).toBe(0);
    await clock.advance(1);
    await stack.get('k', loader, SWR);
    await stack.idle();
    expect(calls).toBe(1);
  });

  it('renews the lease every third of revalidationTimeout while the loader runs, and stops after', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock, { revalidationTimeout: '3s', layerBackoff: '10s' });
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    await stack.get('k', control.loader, { ...SWR, loaderTimeout: 60 });
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    await clock.advance(999);
    expect(lock.calls.renew).toBe(0);
    await clock.advance(1);
    expect(lock.calls.renew).toBe(1);
    await clock.advance(9_000); // three times the lease ttl: held only thanks to the renewals
    expect(lock.calls.renew).toBe(10);
    expect(lock.inner.isHeld('k')).toBe(true);
    expect(lock.inner.acquire('k', 3_000)).toBeUndefined();
    control.resolveNext('new');
    await stack.idle();
    expect(lock.inner.isHeld('k')).toBe(false);
    await clock.advance(10_000);
    expect(lock.calls.renew).toBe(10); // the timer stopped with the refresh
  });

  it('stops renewing a lease it lost (a peer may hold the key now)', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock, { revalidationTimeout: '3s', layerBackoff: '10s' });
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    await stack.get('k', control.loader, { ...SWR, loaderTimeout: 60 });
    await flushMicrotasks();
    lock.lost.add('k'); // the lease expired (a long pause) and a peer took the key
    await clock.advance(1_000);
    expect(lock.calls.renew).toBe(1);
    await clock.advance(5_000);
    expect(lock.calls.renew).toBe(1); // no further renewal attempts
    control.resolveNext('new');
    await stack.idle();
    expect(lock.calls.release).toBe(1); // tried, refused: compare-and-delete is the lock's job
    expect(stack.getMetrics().stack.refreshes).toBe(1); // the refresh itself still completes
  });

  it('releases the lease when the refresh fails', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    expect(await stack.get('k', () => Promise.reject(new Error('source down')), SWR)).toBe('old');
    await stack.idle();
    expect(stack.getMetrics().stack.refreshErrors).toBe(1);
    expect(lock.calls.release).toBe(1);
    expect(lock.inner.isHeld('k')).toBe(false);
  });

  it('a lock that fails degrades to a local refresh, counted and logged once', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'fail';
    const { stack, logger } = await staleStack(lock, clock);
    await clock.advance(11_000);
    let calls = 0;
    expect(await stack.get('k', () => `v${++calls}`, SWR)).toBe('old');
    await stack.idle();
    expect(calls).toBe(1);
    expect(await stack.get('k')).toBe('v1');
    expect(stack.getMetrics().revalidationLock.errors).toBe(1);
    expect(logger.lines.filter((l) => l.message.includes('revalidation-lock'))).toHaveLength(1);
  });

  it('a lock that hangs costs one layerTimeout, then the refresh runs locally', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'hang';
    const { stack } = await staleStack(lock, clock, { layerTimeout: '200ms' });
    await clock.advance(11_000);
    let calls = 0;
    await stack.get('k', () => `v${++calls}`, SWR);
    await clock.advance(199);
    expect(calls).toBe(0);
    await clock.advance(1);
    await stack.idle();
    expect(calls).toBe(1);
    expect(stack.getMetrics().revalidationLock.errors).toBe(1);
  });

  it('an acquire that times out but is granted late gives the lease back at once, so a peer refreshes', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'manual';
    const a = await staleStack(lock, clock, { layerTimeout: '200ms' });
    const b = await staleStack(lock, clock);
    await clock.advance(11_000);
    let calls = 0;
    await a.stack.get('k', () => `a${++calls}`, SWR);
    await clock.advance(200); // the acquire times out: A refreshes locally
    await a.stack.idle();
    expect(calls).toBe(1);
    lock.proceed(); // Redis runs the acquire late and grants the lease to nobody
    await flushMicrotasks();
    expect(lock.calls.release).toBe(1);
    expect(lock.inner.isHeld('k')).toBe(false);
    lock.mode = 'ok';
    await clock.advance(11_000);
    let peerCalls = 0;
    await b.stack.get('k', () => `b${++peerCalls}`, SWR);
    await b.stack.idle();
    expect(peerCalls).toBe(1);
    expect(b.stack.getMetrics().stack.refreshesSkipped).toBe(0);
  });

  it('a held lease is renewed and released even while the lock guard is in its back-off window', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = await staleStack(lock, clock, { revalidationTimeout: '3s', layerBackoff: '10s' });
    await stack.set('other', 'old', SWR);
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    await stack.get('k', control.loader, SWR);
    await flushMicrotasks();
    expect(lock.inner.isHeld('k')).toBe(true);
    lock.mode = 'fail'; // another key's acquire fails: the guard opens its window
    await stack.get('other', () => 'other-new', SWR);
    await flushMicrotasks();
    expect(stack.getMetrics().revalidationLock.errors).toBe(1);
    lock.mode = 'ok';
    await clock.advance(1_000);
    expect(lock.calls.renew).toBe(1);
    control.resolveNext('new');
    await stack.idle();
    expect(lock.calls.release).toBe(1);
    expect(lock.inner.isHeld('k')).toBe(false);
  });

  it('a refresh that takes the lease after a peer refreshed serves the peer\u2019s result instead of loading again', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const shared = new ChaosLayer(new MemoryLayer({ name: 'l2-store' }), { name: 'l2' });
    const a = buildStack([new MemoryLayer(), shared], { clock, revalidationLock: lock });
    const b = buildStack([new MemoryLayer(), shared], { clock, revalidationLock: lock });
    await a.stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    expect(await a.stack.get('k', control.loader, SWR)).toBe('old'); // A takes the lease and refreshes
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    lock.mode = 'manual';
    let calls = 0;
    expect(await b.stack.get('k', () => `new-from-b-${++calls}`, SWR)).toBe('old'); // B's acquire is on its way
    control.resolveNext('new-from-a');
    await a.stack.idle(); // A stored its result and released the lease
    lock.proceed(); // B's acquire reaches the lock only now, and takes the free lease
    await b.stack.idle();
    expect(calls).toBe(0);
    expect(b.stack.getMetrics().stack.refreshesSkipped).toBe(1);
    expect(await b.stack.get('k')).toBe('new-from-a');
    expect(lock.inner.isHeld('k')).toBe(false);
  });

  it('stale reads while the lease is being acquired start no second attempt', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'manual';
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    const control = controlledLoader<string>();
    for (let i = 0; i < 5; i++) await stack.get('k', control.loader, SWR);
    expect(lock.calls.acquire).toBe(1);
    lock.proceed();
    await flushMicrotasks();
    expect(control.calls).toBe(1);
    control.resolveNext('new');
    await stack.idle();
    expect(await stack.get('k')).toBe('new');
  });

  it('a key deleted while its lease is being acquired is not refreshed; the lease is given back', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'manual';
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    let calls = 0;
    await stack.get('k', () => `v${++calls}`, SWR);
    await stack.delete('k');
    lock.proceed();
    await stack.idle();
    expect(calls).toBe(0);
    expect(await stack.get('k')).toBeUndefined();
    expect(lock.inner.isHeld('k')).toBe(false);
    expect(lock.calls.release).toBe(1);
  });

  it('a refresh whose lease arrives after close() began is aborted like any running refresh, and its lease released', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'manual';
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    const signals: AbortSignal[] = [];
    const never = ({ signal }: { signal: AbortSignal }) => (signals.push(signal), new Promise<string>(() => undefined));
    const errors: unknown[] = [];
    stack.on('refresh-error', ({ error }) => errors.push(error));
    await stack.get('k', never, SWR);
    let closed = false;
    const closing = stack.close().then(() => (closed = true));
    await flushMicrotasks();
    expect(closed).toBe(false); // close() waits for the acquisition (background work)
    lock.proceed();
    await closing; // does not wait for the never-settling loader: it was aborted
    // Aborted while it re-read the shared layers under its lease, before the loader could start: never called.
    expect(signals).toHaveLength(0);
    expect(errors).toEqual([]); // an abort on close is not a failure of the source
    expect(lock.inner.isHeld('k')).toBe(false);
  });

  it('a refresh aborted before its loader starts (close during the tag snapshot) never calls the loader', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    lock.mode = 'manual';
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    let calls = 0;
    await stack.get('k', () => `v${++calls}`, { ...SWR, tags: ['t'] });
    const closing = stack.close();
    lock.proceed();
    await closing;
    expect(calls).toBe(0);
    expect(lock.inner.isHeld('k')).toBe(false);
  });

  it('by default uses the first shared layer\u2019s lock, through that layer\u2019s guard', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const l2 = new LockingLayer(lock);
    const { stack } = buildStack([new MemoryLayer(), l2], { clock });
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    lock.mode = 'fail';
    let calls = 0;
    expect(await stack.get('k', () => `v${++calls}`, SWR)).toBe('old');
    await stack.idle();
    expect(lock.calls.acquire).toBe(1);
    expect(calls).toBe(1); // refreshed locally
    const metrics = stack.getMetrics();
    expect(metrics.layers.l2?.errors).toBe(1); // counted on the layer: one connection, one guard
    expect(metrics.revalidationLock.errors).toBe(0);
  });

  it('revalidationLock: false turns the layer\u2019s lock off; memory-only stacks have none', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = buildStack([new MemoryLayer(), new LockingLayer(lock)], { clock, revalidationLock: false });
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    let calls = 0;
    await stack.get('k', () => `v${++calls}`, SWR);
    await stack.idle();
    expect(calls).toBe(1);
    expect(lock.calls.acquire).toBe(0);

    const local = new LockingLayer(lock);
    Object.defineProperty(local, 'shared', { value: false });
    const memoryOnly = buildStack([new MemoryLayer(), local], { clock });
    await memoryOnly.stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    await memoryOnly.stack.get('k', () => 'new', SWR);
    await memoryOnly.stack.idle();
    expect(lock.calls.acquire).toBe(0); // a local layer's lock is never taken by default
    expect(await memoryOnly.stack.get('k')).toBe('new');
  });

  it('a local (unshared) lock is called without a guard and its failure still refreshes locally', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock, false);
    lock.mode = 'fail';
    const { stack } = await staleStack(lock, clock);
    await clock.advance(11_000);
    let calls = 0;
    await stack.get('k', () => `v${++calls}`, SWR);
    await stack.idle();
    expect(calls).toBe(1);
    expect(stack.getMetrics().revalidationLock.errors).toBe(0);
  });

  it('the foreground miss path does not use the lock', async () => {
    const clock = new FakeClock();
    const lock = new ScriptedLock(clock);
    const { stack } = buildStack([new MemoryLayer()], { clock, revalidationLock: lock });
    expect(await stack.get('k', () => 'v', SWR)).toBe('v');
    expect(lock.calls.acquire).toBe(0);
  });

  it('validates revalidationTimeout and revalidationLock, naming the option', () => {
    const layers = () => [new MemoryLayer()];
    for (const revalidationTimeout of [0, -1, 'soon', '0ms']) {
      expect(() => buildStack(layers(), { revalidationTimeout: revalidationTimeout as never })).toThrow(InvalidOptionError);
      expect(() => buildStack(layers(), { revalidationTimeout: revalidationTimeout as never })).toThrow(/revalidationTimeout/);
    }
    expect(() => buildStack(layers(), { revalidationLock: {} as never })).toThrow(/"revalidationLock"/);
    expect(() => buildStack(layers(), { revalidationLock: true as never })).toThrow(/"revalidationLock"/);
    expect(() => buildStack(layers(), { revalidationTimeout: '250ms' })).not.toThrow();
  });
});
