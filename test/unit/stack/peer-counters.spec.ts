/**
 * The bounds on peers' counters (lib/stack/peer-counters.ts), on the in-process bus and one fake clock: a
 * forged message with an out-of-range version, tag version or generation is rejected (counted, logged once
 * per burst) and does no lasting harm, while honest messages — also reordered ones, or a clock ahead within
 * the bound — are still applied. The Redis transport's side (raw PUBLISH) is in
 * test/integration/bus-forgery.spec.ts.
 */
import type { InvalidationMessage } from '../../../lib/core/invalidation-bus.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { MemoryTagStore } from '../../../lib/core/memory-tag.store.js';
import { MAX_PEER_CLOCK_SKEW_MS } from '../../../lib/stack/peer-counters.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { BusHub } from '../../support/in-process-peers.js';
import { buildStack } from '../../support/stack-builder.js';

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 − 1

/** Two stacks sharing an L2 and a tag store, plus a bus an attacker publishes on. */
function cluster() {
  const clock = new FakeClock();
  const hub = new BusHub();
  const store = new MemoryLayer({ name: 'shared-store' });
  const tagStore = new MemoryTagStore(clock);
  const peers = [0, 1].map(() => {
    const l1 = new MemoryLayer();
    const built = buildStack([l1, new ChaosLayer(store, { name: 'l2' })], { clock, tagStore, invalidationBus: hub.bus() });
    return { ...built, l1 };
  });
  const attacker = hub.bus();
  const forge = async (message: InvalidationMessage): Promise<void> => {
    await attacker.publish(message);
    await flushMicrotasks();
    await Promise.all(peers.map((peer) => peer.stack.idle()));
  };
  const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
  const send = (message: InvalidationMessage): Promise<void> => attacker.publish(message); // not waiting for checks
  return { clock, hub, a, b, forge, send, tagStore };
}

const rejectionLogs = (logger: { lines: { message: string }[] }) => logger.lines.filter((line) => line.message.includes('out-of-range counter'));

describe('peers\' counters are bounded', () => {
  it('a forged version of 2^53−1 is rejected: the version clock does not freeze, a peer\'s set still evicts the L1 copy', async () => {
    const { a, b, forge } = cluster();
    await forge({ kind: 'keys', keys: ['other'], version: MAX });
    await b.stack.set('k', 'b-old');
    await a.stack.set('k', 'a-new');
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBe('a-new');
    await a.stack.delete('k');
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBeUndefined();
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 });
    expect(rejectionLogs(b.logger)).toHaveLength(1);
    expect(rejectionLogs(b.logger)[0]?.message).toMatch(/"keys" message with version 9007199254740991/);
  });

  it('a forged "clear" far ahead is not applied either; versions within the skew bound are', async () => {
    const { clock, a, b, forge } = cluster();
    await a.stack.set('k', 'v');
    expect(await b.stack.get('k')).toBe('v');
    await forge({ kind: 'clear', prefix: undefined, version: (clock.now() + MAX_PEER_CLOCK_SKEW_MS + 1000) * 1000 });
    expect(b.l1.get('k')?.value).toBe('v');
    await forge({ kind: 'clear', prefix: undefined, version: (clock.now() + MAX_PEER_CLOCK_SKEW_MS - 1000) * 1000 });
    expect(b.l1.get('k')).toBeUndefined();
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 });
  });

  it('logs a burst of rejections once, and counts each', async () => {
    const { b, forge } = cluster();
    for (let i = 0; i < 5; i++) await forge({ kind: 'keys', keys: ['x'], version: MAX - i });
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 5 });
    expect(rejectionLogs(b.logger)).toHaveLength(1);
  });

  it('a forged tag version of 2^53−1 is rejected: the tag\'s entries keep hitting instead of reloading on every read', async () => {
    const { b, forge } = cluster();
    let loads = 0;
    const load = () => `v${++loads}`;
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    await forge({ kind: 'tags', tags: ['products'], mode: 'any', versions: [MAX] });
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    expect(loads).toBe(1);
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 });
    expect(rejectionLogs(b.logger)[0]?.message).toMatch(/"tags" message with version 9007199254740991, \d+ ms ahead of this clock/);
  });

  it('honest tag invalidations still apply, also when they arrive out of order', async () => {
    const { hub, a, b } = cluster();
    let loads = 0;
    const load = () => `v${++loads}`;
    await b.stack.get('p', load, { tags: ['products'] });
    await b.stack.get('q', load, { tags: ['orders'] });
    hub.hold();
    await a.stack.invalidateByTag('products');
    await a.stack.invalidateByTag('orders');
    hub.release((deliveries) => [...deliveries].reverse()); // the second arrives first
    await flushMicrotasks();
    await b.stack.idle();
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v3');
    expect(await b.stack.get('q', load, { tags: ['orders'] })).toBe('v4');
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 0 });
  });

  it('a forged generation of 2^53−1 is rejected: a peer\'s bumpGeneration() still moves this instance\'s keys', async () => {
    const { a, b, forge } = cluster();
    await forge({ kind: 'generation', scope: '', generation: MAX });
    await b.stack.set('k', 'before-bump');
    expect(await b.stack.get('k')).toBe('before-bump');
    expect(await a.stack.bumpGeneration()).toBe(1);
    await flushMicrotasks();
    await b.stack.idle();
    expect(await b.stack.get('k')).toBeUndefined();
    expect(await b.stack.bumpGeneration()).toBe(2);
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 });
    expect(rejectionLogs(b.logger)[0]?.message).toMatch(/"generation" message for "" with generation 9007199254740991, beyond the tag store's 0/);
  });

  it('a generation the store cannot confirm is capped at one step past the known one', async () => {
    const { b, forge, tagStore } = cluster();
    const generations = tagStore.generations.bind(tagStore);
    tagStore.generations = () => {
      throw new Error('store down');
    };
    await forge({ kind: 'generation', scope: 'ns\u001f', generation: 5 });
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 });
    await forge({ kind: 'generation', scope: 'ns\u001f', generation: 1 });
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1 }); // one step: accepted unverified
    tagStore.generations = generations;
  });

  it('a flood of generations for distinct scopes while the store hangs: at most 1,000 checks wait, the rest are rejected at once', async () => {
    const { clock, b, send, tagStore } = cluster();
    tagStore.generations = () => new Promise<number[]>(() => undefined) as unknown as number[]; // never answers
    for (let i = 0; i < 1_500; i++) await send({ kind: 'generation', scope: `forged-${i}\u001f`, generation: 5 });
    await flushMicrotasks();
    expect(b.stack.getMetrics().bus).toMatchObject({ received: 1_500, rejected: 500 });
    await clock.advance(60_000); // the checks time out (layerTimeout): unverifiable, not one step ahead
    expect(b.stack.getMetrics().bus).toMatchObject({ rejected: 1_500 });
  });
});
