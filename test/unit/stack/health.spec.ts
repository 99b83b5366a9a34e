import { InvalidOptionError } from '../../../lib/core/errors.js';
import type { BusSubscriptionState, InvalidationBus, InvalidationBusHandlers } from '../../../lib/core/invalidation-bus.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { HEALTH_PING_KEY } from '../../../lib/stack/stack-health.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

/** A bus whose start is settled by the test, with or without a `subscription()` of its own. */
class ScriptedBus implements InvalidationBus {
  readonly originId = 'scripted';
  handlers: InvalidationBusHandlers | undefined;
  state: BusSubscriptionState | undefined;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private readonly started = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(own: boolean) {
    if (!own) this.subscription = undefined;
  }

  start(handlers: InvalidationBusHandlers): Promise<void> {
    this.handlers = handlers;
    return this.started;
  }
  subscribe(): void {
    this.settle.resolve();
  }
  failToSubscribe(): void {
    this.settle.reject(new Error('no subscription'));
  }
  publish(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  subscription?: () => BusSubscriptionState = () => this.state ?? 'subscribing';
}

describe('CacheStack.health()', () => {
  it('up: every layer answers its ping (probe where the layer has one, else a get of the reserved key), timed on the stack clock', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    const report = await stack.health();
    expect(report).toEqual({
      status: 'up',
      layers: [
        { name: 'memory', shared: false, status: 'up', ping: 'get', latencyMs: 0, backoff: false, error: undefined },
        { name: 'l2', shared: true, status: 'up', ping: 'probe', latencyMs: 0, backoff: false, error: undefined },
      ],
      bus: undefined,
      problems: [],
    });
    expect(l2.calls['probe']).toBe(1);
    expect(l2.calls['get']).toBeUndefined();
    expect(HEALTH_PING_KEY.charCodeAt(0)).toBe(0x1f); // never a user key
  });

  it('a layer without probe() is pinged with a get, and its latency is measured', async () => {
    const l2 = new ChaosLayer(new MemoryLayer({ name: 'inner' }), { name: 'l2', probe: false });
    const { stack, clock } = buildStack([new MemoryLayer(), l2]);
    l2.pause();
    const pending = stack.health();
    await clock.advance(120);
    l2.resume();
    const report = await pending;
    expect(report.layers[1]).toMatchObject({ name: 'l2', ping: 'get', status: 'up', latencyMs: 120 });
    expect(l2.calls['get']).toBe(1);
  });

  it('degraded with details when a shared layer fails; the stack still serves; counters and back-off are untouched', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    l2.fail(new Error('ECONNREFUSED'));
    const report = await stack.health();
    expect(report.status).toBe('degraded');
    expect(report.layers[1]).toMatchObject({ name: 'l2', status: 'down', error: 'Error: ECONNREFUSED', backoff: false });
    expect(report.problems).toEqual(['layer "l2" is down: Error: ECONNREFUSED']);
    expect(stack.getMetrics().layers['l2']).toMatchObject({ errors: 0, skipped: 0 }); // a health ping is not a command
    expect(await stack.get('k', () => 'loaded')).toBe('loaded');
    expect((await stack.health()).layers[1]?.backoff).toBe(true); // that read failed on l2: now in its window
  });

  it('a hanging layer is down after the timeout (the stack layerTimeout by default, or the timeout option)', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ layerTimeout: '500ms' });
    l2.hang();
    let report: Awaited<ReturnType<typeof stack.health>> | undefined;
    void stack.health().then((r) => (report = r));
    await clock.advance(499);
    expect(report).toBeUndefined();
    await clock.advance(1);
    expect(report?.layers[1]).toMatchObject({ status: 'down', latencyMs: 500, error: 'no answer within 500 ms' });

    let short: typeof report;
    void stack.health({ timeout: '50ms' }).then((r) => (short = r));
    await clock.advance(50);
    expect(short?.status).toBe('degraded');
    expect(short?.layers[1]).toMatchObject({ latencyMs: 50, error: 'no answer within 50 ms' });
  });

  it('a layer whose ping throws synchronously is down, never a rejection', async () => {
    const layer = new MemoryLayer({ name: 'broken' });
    layer.get = () => {
      throw new TypeError('boom');
    };
    const { stack } = buildStack([layer]);
    const report = await stack.health();
    expect(report).toMatchObject({ status: 'degraded', layers: [{ name: 'broken', status: 'down', error: 'TypeError: boom' }] });
  });

  it('down once the stack is closed (no layer is pinged)', async () => {
    const { stack, l2 } = buildTwoLayerStack();
    await stack.close();
    const report = await stack.health();
    expect(report.status).toBe('down');
    expect(report.problems).toEqual(['the stack is closed']);
    expect(report.layers.every((layer) => layer.status === 'down')).toBe(true);
    expect(l2.calls['probe']).toBeUndefined();
  });

  it('the bus: its own subscription() answer; degraded while it is not subscribed', async () => {
    const bus = new ScriptedBus(true);
    const { stack } = buildStack([new MemoryLayer()], { invalidationBus: bus });
    bus.subscribe();
    expect((await stack.health()).bus).toEqual({ subscription: 'subscribing' }); // the bus's word, not the stack's
    bus.state = 'interrupted';
    expect(await stack.health()).toMatchObject({ status: 'degraded', bus: { subscription: 'interrupted' } });
    expect((await stack.health()).problems).toEqual(["the invalidation bus is interrupted: peers' invalidations do not reach this process's L1"]);
    bus.state = 'subscribed';
    expect(await stack.health()).toMatchObject({ status: 'up', bus: { subscription: 'subscribed' } });
  });

  it('the bus without subscription(): judged by its start and its resubscriptions', async () => {
    const bus = new ScriptedBus(false);
    const { stack } = buildStack([new MemoryLayer()], { invalidationBus: bus });
    expect((await stack.health()).bus).toEqual({ subscription: 'subscribing' });
    bus.failToSubscribe();
    await stack.ready();
    expect(await stack.health()).toMatchObject({ status: 'degraded', bus: { subscription: 'interrupted' } });
    bus.handlers?.onResubscribed();
    expect(await stack.health()).toMatchObject({ status: 'up', bus: { subscription: 'subscribed' } });
    await stack.close();
    expect((await stack.health()).bus).toEqual({ subscription: 'closed' });
  });

  it('bad options are an InvalidOptionError naming them', async () => {
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack.health({ timeout: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(stack.health({ timeout: 'soon' as never })).rejects.toThrow(/timeout/);
    await expect(stack.health({ timeout: 1, tiemout: 2 } as never)).rejects.toThrow(/options\.tiemout/);
    await expect(stack.health(null as never)).rejects.toThrow(InvalidOptionError);
  });
});
