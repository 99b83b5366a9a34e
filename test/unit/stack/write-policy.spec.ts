/**
 * `writePolicy`: best-effort (the default) swallows a shared layer's failure; strict undoes the write in the
 * layers that took it and rejects with a `WriteFailedError` naming the layer. On the fake clock, with a
 * ChaosLayer as the shared layer and an in-process bus for the peers.
 */
import { WriteFailedError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { BusHub } from '../../support/in-process-peers.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

describe("writePolicy: 'strict'", () => {
  it('a set the shared layer fails rejects with WriteFailedError naming it, and L1 does not keep the value', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack({ writePolicy: 'strict' });
    await stack.set('k', 'old');
    l2.fail(new Error('ECONNREFUSED'));
    const error = await stack.set('k', 'new').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WriteFailedError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED', layer: 'l2', layers: ['l2'], operation: 'set', keys: ['k'] });
    expect((error as WriteFailedError).message).toContain('Layer "l2" failed on set of "k"');
    expect((error as WriteFailedError).cause).toEqual(new Error('ECONNREFUSED'));
    expect(l1.get('k')).toBeUndefined();
    expect(stack.getMetrics().strictWriteFailures).toBe(1);
  });

  it('the failed layer gets the key deleted when it recovers (it may hold an older value): the key ends absent', async () => {
    const { stack, clock, l2 } = buildTwoLayerStack({ writePolicy: 'strict', layerBackoff: '1s' });
    await stack.set('k', 'old');
    l2.fail();
    await expect(stack.set('k', 'new')).rejects.toBeInstanceOf(WriteFailedError);
    l2.heal();
    await clock.advance(1_000); // the probe closes the window; the recovery replays the delete
    await stack.idle();
    expect(await stack.get('k')).toBeUndefined();
    expect(await l2.get('k')).toBeUndefined();
  });

  it('a layer in its back-off window counts as failed', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack({ writePolicy: 'strict', layerBackoff: '10s' });
    l2.fail();
    await expect(stack.set('a', 1)).rejects.toBeInstanceOf(WriteFailedError);
    l2.heal(); // healthy again, but the window is open: the layer is skipped, so not written
    const calls = l2.calls['set'] ?? 0;
    await expect(stack.set('b', 2)).rejects.toMatchObject({ layer: 'l2', keys: ['b'] });
    expect(l2.calls['set'] ?? 0).toBe(calls);
    expect(l1.get('b')).toBeUndefined();
  });

  it('setMany: every key of the call is undone and named', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack({ writePolicy: 'strict' });
    l2.fail();
    await expect(
      stack.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ]),
    ).rejects.toMatchObject({ code: 'WRITE_FAILED', layer: 'l2', operation: 'set', keys: ['a', 'b'] });
    expect(l1.get('a')).toBeUndefined();
    expect(l1.get('b')).toBeUndefined();
    expect(await stack.getMany(['a', 'b'])).toEqual([undefined, undefined]);
  });

  it('a namespaced set names the stored key', async () => {
    const { stack, l2 } = buildTwoLayerStack({ writePolicy: 'strict' });
    l2.fail();
    const error = (await stack.namespace('users').set('1', 'x').catch((e: unknown) => e)) as WriteFailedError;
    expect(error.keys).toHaveLength(1);
    expect(error.keys[0]).toContain('users');
  });

  it('a timed-out set is undone too', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ writePolicy: 'strict', layerTimeout: '100ms' });
    l2.hang();
    const set = stack.set('k', 'v').catch((e: unknown) => e);
    await clock.advance(100);
    expect(await set).toMatchObject({ code: 'WRITE_FAILED', layer: 'l2' });
    expect(l1.get('k')).toBeUndefined();
  });

  it('a delete the shared layer fails rejects after deleting from the layers that answered; the failed one replays it', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ writePolicy: 'strict', layerBackoff: '1s' });
    await stack.set('k', 'v');
    l2.fail();
    await expect(stack.delete('k')).rejects.toMatchObject({ code: 'WRITE_FAILED', layer: 'l2', operation: 'delete', keys: ['k'] });
    expect(l1.get('k')).toBeUndefined();
    l2.heal();
    await clock.advance(1_000);
    await stack.idle();
    expect(await l2.get('k')).toBeUndefined();
    await expect(stack.deleteMany(['x', 'y'])).resolves.toBeUndefined();
  });

  it("peers are told to drop their copies of a failed strict set", async () => {
    const clock = new FakeClock();
    const hub = new BusHub();
    const store = new MemoryLayer({ name: 'shared-store' });
    const l2a = new ChaosLayer(store, { name: 'l2' });
    const l2b = new ChaosLayer(store, { name: 'l2' });
    const a = buildStack([new MemoryLayer(), l2a], { clock, writePolicy: 'strict', invalidationBus: hub.bus() }).stack;
    const b = buildStack([new MemoryLayer(), l2b], { clock, invalidationBus: hub.bus() }).stack;
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'v1');
    expect(await b.get('k')).toBe('v1'); // in b's L1 now
    l2a.fail();
    await expect(a.set('k', 'v2')).rejects.toBeInstanceOf(WriteFailedError);
    await a.idle();
    await clock.advance(0);
    expect(b.peek('k')).not.toBe('v1');
  });
});

describe("writePolicy: 'best-effort' (the default)", () => {
  it('a set or delete the shared layer fails resolves, and L1 keeps the value', async () => {
    for (const options of [{}, { writePolicy: 'best-effort' as const }]) {
      const { stack, l1, l2 } = buildTwoLayerStack(options);
      l2.fail();
      await expect(stack.set('k', 'v')).resolves.toBeUndefined();
      expect(l1.get('k')?.value).toBe('v');
      await expect(stack.delete('k')).resolves.toBeUndefined();
      expect(stack.getMetrics().strictWriteFailures).toBe(0);
    }
  });

  it('rejects an unknown writePolicy, naming the option', () => {
    expect(() => buildTwoLayerStack({ writePolicy: 'always' as never })).toThrow(/Invalid option "writePolicy": expected 'best-effort' or 'strict', got "always"/);
  });
});
