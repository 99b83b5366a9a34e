import type { InvalidationBus, InvalidationBusHandlers } from '../../lib/core/invalidation-bus.js';
import { LATENCY_BUCKETS_MS, LatencyRecorder } from '../../lib/core/latency.js';
import { L1_READ_SAMPLE } from '../../lib/core/metrics.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { FakeClock } from '../support/fake-clock.js';
import { buildStack, buildTwoLayerStack, controlledLoader } from '../support/stack-builder.js';

/** The slot of `ms` in `LATENCY_BUCKETS_MS` (the +Inf slot past the last bound). */
const slot = (ms: number): number => {
  const i = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
};

describe('LatencyRecorder: the bucket math', () => {
  it('counts each duration once in its bucket (bounds inclusive, +Inf last), with count, sum, mean and max', () => {
    const recorder = new LatencyRecorder();
    for (const ms of [0.05, 0.06, 1, 1, 7, 6000]) recorder.record(ms);
    const snap = recorder.snapshot();
    expect(snap).toMatchObject({ count: 6, max: 6000 });
    expect(snap.sum).toBeCloseTo(6009.11, 6);
    expect(snap.mean).toBeCloseTo(6009.11 / 6, 6);
    expect(snap.buckets).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    expect(snap.buckets[0]).toBe(1); // 0.05 <= 0.05
    expect(snap.buckets[1]).toBe(1); // 0.06 in (0.05, 0.1]
    expect(snap.buckets[slot(1)]).toBe(2);
    expect(snap.buckets[slot(7)]).toBe(1); // (5, 10]
    expect(snap.buckets[LATENCY_BUCKETS_MS.length]).toBe(1); // +Inf
    expect(snap.buckets.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('estimates percentiles as the upper bound of the bucket holding them, capped at max', () => {
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 90; i++) recorder.record(0.3); // (0.25, 0.5]
    for (let i = 0; i < 9; i++) recorder.record(20); // (10, 25]
    recorder.record(3000); // (2500, 5000]
    expect(recorder.snapshot()).toMatchObject({ p50: 0.5, p90: 0.5, p99: 25, max: 3000 });
    const one = new LatencyRecorder();
    one.record(0.3);
    expect(one.snapshot()).toMatchObject({ p50: 0.3, p99: 0.3 }); // capped at max
    const beyond = new LatencyRecorder();
    beyond.record(9000);
    expect(beyond.snapshot().p99).toBe(9000); // +Inf slot: max
  });

  it('reads all zeros when empty, and counts a negative or non-finite duration as 0', () => {
    const recorder = new LatencyRecorder();
    expect(recorder.snapshot()).toMatchObject({ count: 0, sum: 0, mean: 0, max: 0, p50: 0, p90: 0, p99: 0 });
    recorder.record(-40);
    recorder.record(Number.NaN);
    expect(recorder.snapshot()).toMatchObject({ count: 2, sum: 0, max: 0 });
    expect(recorder.snapshot().buckets[0]).toBe(2);
  });

  it('returns a copy: recording after a snapshot does not change it', () => {
    const recorder = new LatencyRecorder();
    recorder.record(1);
    const snap = recorder.snapshot();
    recorder.record(2);
    expect(snap.count).toBe(1);
    expect(snap.buckets.reduce((a, b) => a + b, 0)).toBe(1);
  });
});

describe('stack latency metrics on the fake clock', () => {
  it('times a shared layer command to its answer: a hung get costs exactly layerTimeout; skipped commands are not timed', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerTimeout: '500ms', layerBackoff: '10s' });
    l2.hang();
    const read = stack.get('k', () => 'loaded');
    await clock.advance(500);
    expect(await read).toBe('loaded');
    const l2Metrics = stack.getMetrics().layers['l2'];
    expect(l2Metrics?.latency.get).toMatchObject({ count: 1, sum: 500, max: 500, p50: 500 });
    expect(l2Metrics?.latency.set.count).toBe(0); // the write was skipped (back-off window)
    expect(l2Metrics).toMatchObject({ skipped: 1, setAttempts: 1, sets: 0 });
  });

  it('setAttempts counts every write, sets only the confirmed ones', async () => {
    const { stack, l2 } = buildTwoLayerStack({ layerBackoff: '1ms' });
    await stack.set('a', 1);
    l2.fail(new Error('down'));
    await stack.set('b', 2);
    await stack.set('c', 3);
    const [l1, shared] = Object.values(stack.getMetrics().layers);
    expect(l1).toMatchObject({ sets: 3, setAttempts: 3 });
    expect(shared).toMatchObject({ sets: 1, setAttempts: 3, errors: 1 });
  });

  it('records every loader run with its exact duration (misses, refreshes, failures)', async () => {
    const { stack, clock } = buildStack([new MemoryLayer({ name: 'l1' })], { ttl: '1s', staleWhileRevalidate: '1m' });
    const loads = controlledLoader<string>();
    const first = stack.get('k', loads.loader);
    await clock.advance(30);
    loads.resolveNext('v1');
    await first;
    await clock.advance(1000); // stale now
    expect(await stack.get('k', loads.loader)).toBe('v1'); // starts a background refresh
    await clock.advance(120);
    loads.rejectNext(new Error('source down'));
    await stack.idle();
    expect(stack.getMetrics().loaderDuration).toMatchObject({ count: 2, sum: 150, max: 120, p50: 50, p99: 120 });
  });

  it('samples the synchronous L1 reads of the hit path: one in L1_READ_SAMPLE is timed', async () => {
    const { stack } = buildStack([new MemoryLayer({ name: 'l1' })], { ttl: '1h' });
    await stack.set('k', 'v');
    for (let i = 0; i < L1_READ_SAMPLE * 3; i++) stack.peek('k');
    const get = stack.getMetrics().layers['l1']?.latency.get;
    expect(get?.count).toBe(3);
    expect(get?.sum).toBe(0); // the fake clock does not move during a read
    expect(stack.getMetrics().layers['l1']?.hits).toBe(L1_READ_SAMPLE * 3);
  });

  it('measures the bus lag from the message timestamp against this clock, only for stamped messages', async () => {
    const clock = new FakeClock();
    let handlers: InvalidationBusHandlers | undefined;
    const bus: InvalidationBus = {
      originId: 'me',
      start: (h) => ((handlers = h), Promise.resolve()),
      publish: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const { stack } = buildStack([new MemoryLayer({ name: 'l1' })], { clock, invalidationBus: bus });
    await stack.ready();
    handlers?.onMessage({ kind: 'keys', keys: ['x'], version: 1 }, clock.now() - 7);
    handlers?.onMessage({ kind: 'keys', keys: ['y'], version: 2 }, clock.now() - 300);
    handlers?.onMessage({ kind: 'keys', keys: ['z'], version: 3 }); // unstamped: received, not timed
    handlers?.onMessage({ kind: 'keys', keys: ['w'], version: 4 }, clock.now() + 50); // sender's clock ahead: 0
    const metrics = stack.getMetrics().bus;
    expect(metrics).toMatchObject({ received: 4 });
    expect(metrics?.lag).toMatchObject({ count: 3, sum: 307, max: 300 });
    expect(metrics?.lag.buckets[0]).toBe(1);
  });
});
