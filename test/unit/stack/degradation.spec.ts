import { jest } from '@jest/globals';
import { buildTwoLayerStack } from '../../support/stack-builder.js';

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
