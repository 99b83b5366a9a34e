import { jest } from '@jest/globals';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { PROBE_INTERVAL_MS } from '../../../lib/stack/layer-guard.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

describe('a failing shared layer never fails the caller', () => {
  it('reads with a loader answer through the loader while L2 throws; the error is logged once per burst and counted', async () => {
    const { stack, l1, l2, logger } = buildTwoLayerStack({ layerBackoff: '1ms' });
    l2.fail(new Error('ECONNREFUSED'));
    const loader = jest.fn(() => 'from source');
    for (let i = 0; i < 5; i++) {
      l1.delete(['k']);
      expect(await stack.get('k', loader)).toBe('from source');
    }
    expect(stack.getMetrics().layers['l2']).toMatchObject({ errors: 1 }); // then skipped in its back-off window
    expect(stack.getMetrics().layers['l2']?.skipped).toBeGreaterThanOrEqual(8);
    expect(logger.lines.filter((l) => l.message.includes('ECONNREFUSED'))).toHaveLength(1);
    await expect(stack.set('x', 1)).resolves.toBeUndefined();
    await expect(stack.delete('x')).resolves.toBeUndefined();
    await expect(stack.getMany(['x'])).resolves.toEqual([undefined]);
  });

  it('a hung layer costs at most layerTimeout, then the layer is skipped for the back-off window', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerTimeout: '500ms', layerBackoff: '10s' });
    l2.hang();
    const read = stack.get('k', () => 'loaded');
    await clock.advance(499);
    let settled = false;
    void read.then(() => (settled = true));
    await clock.advance(0);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await read).toBe('loaded');
    expect(stack.getMetrics().layers['l2']).toMatchObject({ errors: 1, skipped: 1 }); // get timed out, write skipped

    const before = l2.calls['get'];
    await stack.delete('k');
    expect(await stack.get('k', () => 'again')).toBe('again'); // no wait: L2 is skipped
    expect(l2.calls['get']).toBe(before);
    expect(stack.getMetrics().layers['l2']?.skipped).toBeGreaterThan(0);
  });

  it('caching through L2 resumes after the back-off window once the layer is back, and the recovery is logged', async () => {
    const { stack, clock, l1, l2, logger } = buildTwoLayerStack({ layerBackoff: '1s' });
    l2.fail();
    await stack.get('k', () => 'v1');
    l2.heal();
    await clock.advance(1_000);
    await stack.delete('k'); // the probe: succeeds and closes the window
    await stack.get('k', () => 'v2');
    l1.delete(['k']);
    const loader = jest.fn(() => 'v3');
    expect(await stack.get('k', loader)).toBe('v2'); // served by L2
    expect(loader).not.toHaveBeenCalled();
    expect(logger.lines.some((l) => l.message.includes('recovered after'))).toBe(true);
  });

  it('the back-off window doubles on consecutive failures', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerBackoff: '1s' });
    l2.fail();
    await stack.get('a'); // fails: window 1 s
    await clock.advance(1_000);
    await stack.get('a'); // probe fails: window 2 s
    const calls = l2.calls['get'];
    await clock.advance(1_500);
    await stack.get('a');
    expect(l2.calls['get']).toBe(calls); // still inside the doubled window
    await clock.advance(500);
    await stack.get('a');
    expect(l2.calls['get']).toBe((calls ?? 0) + 1);
  });

  it('emits layer-error events', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    const events: string[] = [];
    stack.on('layer-error', ({ layer, operation }) => events.push(`${layer}:${operation}`));
    l2.fail();
    await stack.get('k');
    expect(events[0]).toBe('l2:get');
  });
});

describe('what a failing shared layer missed is replayed when it answers again', () => {
  it('a delete that failed on L2 is replayed, so L2 cannot serve the deleted value after the outage', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ layerBackoff: '1s' });
    await stack.set('k', 'old');
    l2.fail();
    await stack.delete('k');
    l2.heal();
    await clock.advance(1_000);
    await stack.get('probe'); // the first command after the window succeeds: recovery
    await stack.idle();
    l1.delete(['k']);
    expect(await stack.get('k')).toBeUndefined();
  });

  it('a write that failed on L2 removes the older L2 copy on recovery', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ layerBackoff: '1s' });
    await stack.set('k', 'v1');
    l2.fail();
    await stack.set('k', 'v2');
    expect(await stack.get('k')).toBe('v2');
    l2.heal();
    await clock.advance(1_000);
    await stack.get('probe');
    await stack.idle();
    l1.delete(['k']);
    expect(await stack.get('k')).toBeUndefined(); // never v1
  });

  it('a namespace clear that failed is replayed on recovery', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ layerBackoff: '1s' });
    const ns = stack.namespace('n');
    await ns.set('a', 1);
    await stack.set('root', 2);
    l2.fail();
    await ns.clear();
    l2.heal();
    await clock.advance(1_000);
    await stack.get('probe');
    await stack.idle();
    l1.clear(undefined);
    expect(await ns.get('a')).toBeUndefined();
    expect(await stack.get('root')).toBe(2);
  });
});

describe('a shared layer that comes back is probed and used again at once', () => {
  it('a layer back long before its back-off window ends is used again within one probe interval', async () => {
    const { stack, clock, l1, l2, logger } = buildTwoLayerStack({ layerBackoff: '30s' });
    await stack.set('k', 'cached in L2');
    l2.fail();
    l1.delete(['k']);
    expect(await stack.get('k', () => 'from source')).toBe('from source'); // fails: a 30 s window opens
    l1.delete(['k']);
    l2.heal();
    await clock.advance(PROBE_INTERVAL_MS); // one probe: it answers, the window closes
    const skipped = stack.getMetrics().layers['l2']?.skipped;
    const gets = l2.calls['get'] ?? 0;
    const loader = jest.fn(() => 'from source again');
    expect(await stack.get('other', loader)).toBe('from source again');
    expect(l2.calls['get']).toBe(gets + 1); // this get reached L2, 29.5 s before the window would have ended
    expect(stack.getMetrics().layers['l2']?.skipped).toBe(skipped);
    expect(logger.lines.some((l) => l.message.includes('recovered after'))).toBe(true);
  });

  it('probes run one at a time, paced, each bounded by layerTimeout, while the layer hangs', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerBackoff: '30s', layerTimeout: '200ms' });
    l2.hang();
    const read = stack.get('k', () => 'loaded');
    await clock.advance(200);
    expect(await read).toBe('loaded'); // the get timed out: the window opens
    await clock.advance(PROBE_INTERVAL_MS); // the first probe starts, and hangs
    expect(l2.calls['probe']).toBe(1);
    await clock.advance(199);
    expect(l2.calls['probe']).toBe(1); // no second probe while the first is in flight
    await clock.advance(1 + PROBE_INTERVAL_MS); // it times out; the next one starts an interval later
    expect(l2.calls['probe']).toBe(2);
    await clock.advance(10 * (200 + PROBE_INTERVAL_MS));
    expect(l2.calls['probe']).toBe(12);
    expect(stack.getMetrics().layers['l2']?.errors).toBe(1); // failed probes are not counted as errors
    l2.heal();
    await clock.advance(200 + PROBE_INTERVAL_MS);
    const gets = l2.calls['get'] ?? 0;
    await stack.get('k2');
    expect(l2.calls['get']).toBe(gets + 1);
  });

  it('failed probes are neither logged nor counted, and leave the doubling back-off as it was', async () => {
    const { stack, clock, l2, logger } = buildTwoLayerStack({ layerBackoff: '2s' });
    l2.fail(new Error('ECONNREFUSED'));
    await stack.get('a'); // window 2 s
    await clock.advance(1_999); // three failed probes
    expect(l2.calls['probe']).toBe(3);
    const gets = l2.calls['get'] ?? 0;
    await stack.get('a');
    expect(l2.calls['get']).toBe(gets); // still skipped: a failed probe does not end the window
    await clock.advance(1);
    await stack.get('a'); // the window ended: a command tries again, fails, and the window doubles (4 s)
    expect(l2.calls['get']).toBe(gets + 1);
    await clock.advance(3_999);
    await stack.get('a');
    expect(l2.calls['get']).toBe(gets + 1);
    expect(stack.getMetrics().layers['l2']?.errors).toBe(2);
    expect(logger.lines.filter((l) => l.message.includes('ECONNREFUSED'))).toHaveLength(1);
  });

  it('a probe that succeeds replays what the layer missed, with no traffic at all', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerBackoff: '30s' });
    await stack.set('k', 'old');
    l2.fail();
    await stack.delete('k'); // fails on L2: queued for the replay
    l2.heal();
    await clock.advance(PROBE_INTERVAL_MS);
    await stack.idle();
    expect(await l2.get('k')).toBeUndefined();
  });

  it('a layer without a probe keeps its window until a command after it succeeds', async () => {
    const l1 = new MemoryLayer();
    const l2 = new ChaosLayer(new MemoryLayer({ name: 'l2-store' }), { name: 'l2', probe: false });
    const { stack, clock } = buildStack([l1, l2], { layerBackoff: '5s' });
    l2.fail();
    await stack.get('a');
    l2.heal();
    await clock.advance(4_999);
    const gets = l2.calls['get'] ?? 0;
    await stack.get('b');
    expect(l2.calls['get']).toBe(gets); // skipped until the window ends
    await clock.advance(1);
    await stack.get('b');
    expect(l2.calls['get']).toBe(gets + 1);
  });

  it('a tiny layerBackoff does not make the probes spin: at most one every 50 ms', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerBackoff: '0ms' });
    l2.fail();
    await stack.get('a');
    await clock.advance(1_000);
    expect(l2.calls['probe']).toBe(20); // 1 s / MIN_PROBE_INTERVAL_MS
  });

  it('closing the stack stops the probes', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerBackoff: '30s' });
    l2.fail();
    await stack.get('a');
    await clock.advance(PROBE_INTERVAL_MS);
    expect(l2.calls['probe']).toBe(1);
    await stack.close();
    await clock.advance(10 * PROBE_INTERVAL_MS);
    expect(l2.calls['probe']).toBe(1);
  });
});
