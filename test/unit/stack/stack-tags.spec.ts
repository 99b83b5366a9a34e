/**
 * The stack's tag side with a shared tag store (lib/stack/stack-tags.ts), on the fake clock with in-process peers: a
 * shared L2 (ChaosLayer views of one MemoryLayer), the in-process bus, and one MemoryTagStore seen by each peer
 * through its own `shared: true` connection that counts fetches and can fail. Covered: the mirror answers for tags
 * read while the bus is subscribed (no round trip), without a bus every read asks the store, a resync reads them
 * again; loads whose tags were invalidated while the loader ran are not stored (static tags, and tags computed from
 * the value, with the skew margin); a failed invalidation still takes effect here and its replay is announced with
 * the store's versions.
 */
import { MemoryTagStore } from '../../../lib/core/memory-tag.store.js';
import type { TagMatchMode, TagState, TagStore } from '../../../lib/core/tag-store.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { VALUE_TAGS_SKEW_MS } from '../../../lib/stack/stack-tags.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { MAX_KNOWLEDGE_AGE_MS } from '../../../lib/stack/tag-mirror.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { BusHub, type HubBus } from '../../support/in-process-peers.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

/** One process's connection to the shared tag store: counts the fetches, fails while `down`. */
class SharedTagStore implements TagStore {
  readonly shared = true;
  fetches = 0;
  down = false;

  constructor(private readonly inner: MemoryTagStore) {}

  probe(): Promise<void> {
    return this.down ? Promise.reject(new Error('tag store down')) : Promise.resolve();
  }
  async fetch(tags: readonly string[]): Promise<(TagState | undefined)[]> {
    this.fetches++;
    this.check();
    return this.inner.fetch(tags);
  }
  async invalidate(tags: readonly string[], mode: TagMatchMode, keepMs: number): Promise<number[]> {
    this.check();
    return this.inner.invalidate(tags, mode, keepMs);
  }
  async generations(scopes: readonly string[]): Promise<number[]> {
    this.check();
    return this.inner.generations(scopes);
  }
  async bumpGeneration(scope: string): Promise<number> {
    this.check();
    return this.inner.bumpGeneration(scope);
  }
  private check(): void {
    if (this.down) throw new Error('tag store down');
  }
}

/**
 * `count` instances over one shared L2 and one shared tag store (each its own connection), subscribed to one bus;
 * `besideLayer`: each instance's store comes from its L2 (`createTagStore`) instead of the `tagStore` option.
 */
async function cluster(count: number, { bus = true, besideLayer = false } = {}) {
  const clock = new FakeClock();
  const hub = new BusHub();
  const store = new MemoryLayer({ name: 'shared-store' });
  const tagRecords = new MemoryTagStore(clock);
  const peers = Array.from({ length: count }, () => {
    const l1 = new MemoryLayer();
    const l2 = new ChaosLayer(store, { name: 'l2' });
    const tagStore = new SharedTagStore(tagRecords);
    const peerBus = bus ? hub.bus() : undefined;
    // Beside the layer (as RedisLayer.createTagStore): the store shares the layer's connection, hence its guard.
    if (besideLayer) l2.createTagStore = () => tagStore;
    const built = buildStack([l1, l2], {
      clock,
      layerBackoff: '1s',
      ...(!besideLayer && { tagStore }),
      ...(peerBus !== undefined && { invalidationBus: peerBus }),
    });
    return { ...built, l1, l2, tagStore, bus: peerBus as HubBus };
  });
  await Promise.all(peers.map((peer) => peer.stack.ready()));
  return { clock, hub, store, tagRecords, peers: peers as [(typeof peers)[0], (typeof peers)[0], ...(typeof peers)[0][]] };
}

function counter() {
  let n = 0;
  const load = () => `v${++n}`;
  return {
    load,
    get calls() {
      return n;
    },
  };
}

describe('tag reads with a shared tag store', () => {
  it('with a bus subscribed, a tag read once is followed: later L2 reads and loads do not fetch it; a peer\'s invalidation arrives with no fetch', async () => {
    const { peers } = await cluster(2);
    const [a, b] = peers;
    const { load } = counter();
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v1');
    expect(a.tagStore.fetches).toBe(1); // the versions, read before the loader
    expect(await a.stack.get('k2', load, { tags: ['t'] })).toBe('v2');
    expect(a.tagStore.fetches).toBe(1);

    expect(await b.stack.get('k')).toBe('v1'); // from L2: its tag is read once
    expect(b.tagStore.fetches).toBe(1);
    await b.l1.delete(['k']);
    const l2Reads = b.l2.calls.get ?? 0;
    expect(await b.stack.get('k')).toBe('v1');
    expect(b.l2.calls.get).toBe(l2Reads + 1); // read from L2 again …
    expect(b.tagStore.fetches).toBe(1); // … validated by the mirror
    expect(await b.stack.get('k2')).toBe('v2');
    expect(b.tagStore.fetches).toBe(1);

    await a.stack.invalidateByTag('t');
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBeUndefined(); // the copy in L1 and the one in L2: both invalid
    expect(await b.stack.get('k2', load, { tags: ['t'] })).toBe('v3');
    expect(b.tagStore.fetches).toBe(1);
    await b.l1.delete(['k2']);
    expect(await a.stack.get('k2')).toBe('v3'); // a learned b's value is newer than its invalidation
  });

  it('without a bus, every L2 read of a tagged entry and every tagged load asks the store', async () => {
    const { peers } = await cluster(2, { bus: false });
    const [a, b] = peers;
    const { load } = counter();
    await a.stack.get('k', load, { tags: ['t'] });
    await a.stack.get('k2', load, { tags: ['t'] });
    expect(a.tagStore.fetches).toBe(2);
    for (let read = 1; read <= 3; read++) {
      expect(await b.stack.get('k')).toBe('v1');
      await b.l1.delete(['k']);
      expect(b.tagStore.fetches).toBe(read);
    }
    await a.stack.invalidateByTag('t');
    expect(await b.stack.get('k')).toBeUndefined(); // learned from the store, not from a bus
    expect(b.tagStore.fetches).toBe(4);
  });

  it('a peer\'s invalidation whose bus message was lost reaches L2 reads once the tag is read again (MAX_KNOWLEDGE_AGE_MS)', async () => {
    const { clock, peers } = await cluster(2);
    const [a, b] = peers;
    const { load } = counter();
    await a.stack.get('k', load, { tags: ['t'] });
    expect(await b.stack.get('k')).toBe('v1');
    a.bus.connected = false; // a's PUBLISH fails; b's subscription is fine, so b keeps following the tag
    await a.stack.invalidateByTag('t');
    a.bus.connected = true;
    await b.l1.delete(['k']);
    expect(await b.stack.get('k')).toBe('v1'); // b has not heard: the window a lost message opens
    await b.l1.delete(['k']);
    await clock.advance(MAX_KNOWLEDGE_AGE_MS);
    expect(await b.stack.get('k')).toBeUndefined(); // read again from the store: invalid
  });

  it('while the bus is interrupted, L2 reads ask the store: an invalidation the bus missed is found at once', async () => {
    const { peers } = await cluster(2);
    const [a, b] = peers;
    const { load } = counter();
    await a.stack.get('k', load, { tags: ['t'] });
    expect(await b.stack.get('k')).toBe('v1');
    const followed = b.tagStore.fetches;
    b.bus.connected = false; // b's subscription broke: it hears nothing, and says so
    await a.stack.invalidateByTag('t');
    await flushMicrotasks();
    await b.l1.delete(['k']);
    expect(await b.stack.get('k')).toBeUndefined();
    expect(b.tagStore.fetches).toBe(followed + 1);
  });

  it('after a bus resync the tags are read from the store again: an invalidation missed meanwhile is found', async () => {
    const { peers } = await cluster(2);
    const [a, b] = peers;
    const { load } = counter();
    await a.stack.get('k', load, { tags: ['t'] });
    expect(await b.stack.get('k')).toBe('v1');
    await b.l1.delete(['k']);
    expect(await b.stack.get('k')).toBe('v1');
    expect(b.tagStore.fetches).toBe(1);

    b.bus.connected = false; // b's subscription drops: a's invalidation is lost for it
    await a.stack.invalidateByTag('t');
    await flushMicrotasks();
    b.bus.resubscribe();
    expect(await b.stack.get('k')).toBeUndefined(); // read from L2, its tag read again: invalid
    expect(b.tagStore.fetches).toBe(2);
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v2');
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBe('v2');
    expect(b.tagStore.fetches).toBe(2); // followed again until the next resync
  });
});

describe('loads whose tags are invalidated while the loader runs', () => {
  it.each(['this instance', 'a peer'])('static tags invalidated by %s during the load: the value is returned, not stored', async (who) => {
    const { peers, store } = await cluster(2);
    const [a, b] = peers;
    await a.stack.get('other', () => 'x', { tags: ['t'] }); // t is followed by a's mirror: the next load reads no store
    const loader = controlledLoader<string>();
    const pending = a.stack.get('k', loader.loader, { tags: ['t'] });
    await flushMicrotasks();
    expect(loader.pending).toBe(1);
    await (who === 'a peer' ? b : a).stack.invalidateByTag('t');
    await flushMicrotasks();
    loader.resolveNext('loaded-during');
    expect(await pending).toBe('loaded-during');
    await a.stack.idle();
    expect(a.l1.get('k')).toBeUndefined();
    expect(store.get('k')).toBeUndefined();
    expect(a.stack.getMetrics().stack.discardedLoads).toBe(1);
    // The next load, after the invalidation, is stored.
    expect(await a.stack.get('k', () => 'after', { tags: ['t'] })).toBe('after');
    expect(store.get('k')?.value).toBe('after');
    expect(await b.stack.get('k')).toBe('after');
  });
});

describe('tags computed from the loaded value', () => {
  const byValue = { tags: (value: string) => [`tag-of-${value}`] };

  /** Starts a load of `k` on `stack` resolving to `value`; returns what to await once it is let through. */
  async function startLoad(peer: Awaited<ReturnType<typeof cluster>>['peers'][0], value: string) {
    const loader = controlledLoader<string>();
    const pending = peer.stack.get('k', loader.loader, byValue);
    await flushMicrotasks();
    expect(loader.pending).toBe(1);
    return async () => {
      loader.resolveNext(value);
      const result = await pending;
      await peer.stack.idle();
      return result;
    };
  }

  it.each([
    ['this instance, with a bus', true, 'self'],
    ['a peer, heard on the bus', true, 'peer'],
    ['a peer, learned only from the store after the load (no bus)', false, 'peer'],
  ] as const)('an invalidation during the load by %s: not stored (discardedLoads)', async (_, bus, who) => {
    const { peers, store, clock } = await cluster(2, { bus });
    const [a, b] = peers;
    const finish = await startLoad(a, 'x');
    await clock.advance(10);
    await (who === 'peer' ? b : a).stack.invalidateByTag('tag-of-x');
    await flushMicrotasks();
    await clock.advance(10);
    expect(await finish()).toBe('x');
    expect(a.l1.get('k')).toBeUndefined();
    expect(store.get('k')).toBeUndefined();
    expect(a.stack.getMetrics().stack.discardedLoads).toBe(1);
  });

  it('a peer\'s invalidation made within VALUE_TAGS_SKEW_MS before the load, learned only after it: not stored (clocks may disagree)', async () => {
    const { peers, store, clock } = await cluster(2, { bus: false });
    const [a, b] = peers;
    await b.stack.invalidateByTag('tag-of-x');
    await clock.advance(VALUE_TAGS_SKEW_MS - 1);
    const finish = await startLoad(a, 'x');
    expect(await finish()).toBe('x');
    expect(store.get('k')).toBeUndefined();
    expect(a.stack.getMetrics().stack.discardedLoads).toBe(1);
  });

  it('a peer\'s invalidation made more than VALUE_TAGS_SKEW_MS before the load, learned only after it: stored, and valid', async () => {
    const { peers, store, clock } = await cluster(2, { bus: false });
    const [a, b] = peers;
    await b.stack.invalidateByTag('tag-of-x');
    await clock.advance(VALUE_TAGS_SKEW_MS + 1);
    const finish = await startLoad(a, 'x');
    expect(await finish()).toBe('x');
    expect(a.stack.getMetrics().stack.discardedLoads).toBe(0);
    expect(store.get('k')?.value).toBe('x');
    let loads = 0;
    expect(await b.stack.get('k', () => `reloaded-${++loads}`, byValue)).toBe('x'); // valid for the peer too
    await a.l1.delete(['k']);
    expect(await a.stack.get('k', () => `reloaded-${++loads}`, byValue)).toBe('x');
    expect(loads).toBe(0);
    // And a later invalidation still reaches it.
    await b.stack.invalidateByTag('tag-of-x');
    await a.l1.delete(['k']);
    expect(await a.stack.get('k', () => `reloaded-${++loads}`, byValue)).toBe('reloaded-1');
  });

  it.each([true, false])('this instance invalidates, then reloads at once (bus: %s): stored', async (bus) => {
    const { peers, store } = await cluster(2, { bus });
    const [a, b] = peers;
    await a.stack.get('k', () => 'x', byValue);
    await a.stack.invalidateByTag('tag-of-x');
    await flushMicrotasks();
    let loads = 0;
    expect(await a.stack.get('k', () => `x${++loads}`, byValue)).toBe('x1');
    await a.stack.idle();
    expect(a.stack.getMetrics().stack.discardedLoads).toBe(0);
    expect(store.get('k')?.value).toBe('x1');
    expect(await a.stack.get('k', () => `x${++loads}`, byValue)).toBe('x1');
    expect(await b.stack.get('k', () => `x${++loads}`, byValue)).toBe('x1');
    expect(loads).toBe(1);
  });
});

describe('a tag store that fails', () => {
  it('invalidate still invalidates here and on the bus; the replay after recovery is announced with the store\'s versions, which a peer learns', async () => {
    const { peers, hub, clock, tagRecords } = await cluster(3);
    const [a, b, c] = peers as [(typeof peers)[0], (typeof peers)[0], (typeof peers)[0]];
    const { load } = counter();
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v1');
    expect(await b.stack.get('k')).toBe('v1'); // b follows t from now on

    a.tagStore.down = true;
    await expect(a.stack.invalidateByTag('t')).resolves.toBeUndefined();
    expect(tagRecords.fetch(['t'])).toEqual([undefined]); // the store missed it
    await a.l1.delete(['k']);
    expect(await a.stack.get('k')).toBeUndefined(); // the L2 copy is invalid here
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBeUndefined(); // and for the peer that heard it on the bus
    expect(a.stack.getMetrics().tagStore.errors).toBeGreaterThan(0);

    a.tagStore.down = false;
    await clock.advance(1_000); // the store's health check answers: the invalidation is replayed
    await a.stack.idle();
    await flushMicrotasks();
    const stored = tagRecords.fetch(['t'])[0];
    expect(stored?.any).toBeGreaterThan(0);
    expect(hub.log.at(-1)?.message).toEqual({ kind: 'tags', tags: ['t'], mode: 'any', versions: [stored?.any] });

    // b loads with the version it learned from the replay's message (no fetch); c, which reads t from the store,
    // finds b's value valid: had b kept the version of the outage, c would reject it.
    const bFetches = b.tagStore.fetches;
    expect(await b.stack.get('k', load, { tags: ['t'] })).toBe('v2');
    expect(b.tagStore.fetches).toBe(bFetches);
    expect(await c.stack.get('k', load, { tags: ['t'] })).toBe('v2');
    expect(c.tagStore.fetches).toBe(1);
  });

  it('a store beside a failing layer (its guard): the layer\'s recovery replays the invalidation and announces the store\'s versions', async () => {
    const { peers, hub, clock, tagRecords } = await cluster(2, { besideLayer: true });
    const [a, b] = peers;
    const { load } = counter();
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v1');
    expect(a.tagStore.fetches).toBe(1); // the layer's store is the one used
    expect(await b.stack.get('k')).toBe('v1');

    a.l2.fail(); // the connection is down: the layer and the store beside it
    a.tagStore.down = true;
    await expect(a.stack.invalidateByTag('t')).resolves.toBeUndefined();
    expect(tagRecords.fetch(['t'])).toEqual([undefined]);
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v2'); // invalid here at once: reloaded
    await flushMicrotasks();
    await b.l1.delete(['k']);
    expect(await b.stack.get('k')).toBeUndefined(); // b heard it (the L2 copy is v1: a could not write v2)

    a.l2.heal();
    a.tagStore.down = false;
    await clock.advance(1_000); // the layer's health check answers: its recovery replays the tag store's part too
    await a.stack.idle();
    await flushMicrotasks();
    const stored = tagRecords.fetch(['t'])[0];
    expect(stored?.any).toBeGreaterThan(0);
    const announced = hub.log.filter(({ message }) => message.kind === 'tags').map(({ message }) => message);
    expect(announced.at(-1)).toEqual({ kind: 'tags', tags: ['t'], mode: 'any', versions: [stored?.any] });
    expect(await b.stack.get('k', load, { tags: ['t'] })).toBe('v3');
    expect(await a.stack.get('k', load, { tags: ['t'] })).toBe('v3'); // a's v2, recorded with the outage's version, is invalid now
  });
});
