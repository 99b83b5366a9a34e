/**
 * The recovery replay is announced on the bus: a peer that read the pre-outage value back from the shared layer
 * (e.g. a promoted Redis replica that never got the write) before the replay drops it from its L1 once the replay ran.
 */
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { BusHub } from '../../support/in-process-peers.js';
import { buildStack } from '../../support/stack-builder.js';

describe('a replayed invalidation reaches the peers', () => {
  function peers() {
    const clock = new FakeClock();
    const hub = new BusHub();
    const store = new MemoryLayer({ name: 'l2-store' }); // the one shared Redis
    const instance = () => {
      const l1 = new MemoryLayer();
      const l2 = new ChaosLayer(store, { name: 'l2' }); // this instance's connection to it
      return { ...buildStack([l1, l2], { clock, layerBackoff: '1s', invalidationBus: hub.bus() }), l1, l2 };
    };
    return { clock, hub, a: instance(), b: instance() };
  }

  it('a write that failed on L2 is replayed as a delete and announced: the peer drops what it read back meanwhile', async () => {
    const { clock, hub, a, b } = peers();
    await a.stack.set('k', 'before');
    b.l2.fail();
    await b.stack.set('k', 'after'); // L2 does not take it: queued for the replay; the write is announced
    await a.stack.idle();
    expect(a.l1.get('k')).toBeUndefined();
    expect(await a.stack.get('k')).toBe('before'); // read back from L2, which missed B's write
    expect(a.l1.get('k')?.value).toBe('before');

    b.l2.heal();
    await clock.advance(1_000);
    await b.stack.get('probe'); // B's first command after its window: recovery, the replay runs
    await b.stack.idle();
    await a.stack.idle();
    expect(hub.log.at(-1)?.message).toMatchObject({ kind: 'keys', keys: ['k'] });
    expect(a.l1.get('k')).toBeUndefined();
    expect(await a.stack.get('k')).toBeUndefined();
  });

  it('a clear that failed on L2 is announced again when replayed', async () => {
    const { clock, hub, a, b } = peers();
    await a.stack.namespace('n').set('x', 1);
    b.l2.fail();
    await b.stack.namespace('n').clear();
    await a.stack.idle();
    expect(await a.stack.namespace('n').get('x')).toBe(1); // read back from L2, which missed the clear
    b.l2.heal();
    await clock.advance(1_000);
    await b.stack.get('probe');
    await b.stack.idle();
    await a.stack.idle();
    expect(hub.log.at(-1)?.message).toMatchObject({ kind: 'clear' });
    expect(await a.stack.namespace('n').get('x')).toBeUndefined();
  });
});
