/**
 * Several stacks of one "cluster" in one process: a shared L2, the in-process bus and coordinator of
 * test/support/in-process-peers.ts, one fake clock. What is tested is the stack's side of the protocols
 * (what a peer's message does to L1, who loads); the Redis transports have their own integration specs.
 */
import { InvalidOptionError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CacheStack } from '../../../lib/stack/cache-stack.js';
import { MemoryTagStore } from '../../../lib/core/memory-tag.store.js';
import type { CacheStackOptions } from '../../../lib/stack/cache-stack.options.js';
import { ChaosLayer } from '../../support/chaos.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import type { LoadCoordinator } from '../../../lib/core/load-coordinator.js';
import { BusHub, CoordinatorHub, type HubBus } from '../../support/in-process-peers.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

/** `count` stacks, each with its own L1 and its own view (ChaosLayer) of one shared L2. */
function cluster(count: number, options: CacheStackOptions & { bus?: boolean; coordinator?: boolean } = {}) {
  const clock = new FakeClock();
  const hub = new BusHub();
  const coordinators = new CoordinatorHub(clock);
  const store = new MemoryLayer({ name: 'shared-store' });
  const tagStore = new MemoryTagStore(clock);
  const { bus = true, coordinator = false, ...stackOptions } = options;
  const peers = Array.from({ length: count }, () => {
    const l1 = new MemoryLayer();
    const l2 = new ChaosLayer(store, { name: 'l2' });
    const peerBus = bus ? hub.bus() : undefined;
    const peerCoordinator = coordinator ? coordinators.coordinator() : undefined;
    const built = buildStack([l1, l2], {
      clock,
      tagStore,
      ...(peerBus !== undefined && { invalidationBus: peerBus }),
      ...(peerCoordinator !== undefined && { singleFlight: peerCoordinator }),
      ...stackOptions,
    });
    return { ...built, l1, l2, bus: peerBus, coordinator: peerCoordinator };
  });
  return { clock, hub, coordinators, store, tagStore, peers };
}

describe('L1 invalidation bus (stack side)', () => {
  it('a set on one instance drops the copy in the other instances\' L1; the next read gets the new value', async () => {
    const { peers } = cluster(3);
    const [a, b, c] = peers as [(typeof peers)[0], (typeof peers)[0], (typeof peers)[0]];
    await a.stack.set('k', 'v1');
    expect(await b.stack.get('k')).toBe('v1');
    expect(await c.stack.get('k')).toBe('v1');
    expect(b.l1.get('k')?.value).toBe('v1');
    await a.stack.set('k', 'v2');
    await flushMicrotasks();
    expect(b.l1.get('k')).toBeUndefined();
    expect(c.l1.get('k')).toBeUndefined();
    expect(a.l1.get('k')?.value).toBe('v2'); // its own message is not applied to itself
    expect(await b.stack.get('k')).toBe('v2');
    expect(b.stack.getMetrics().bus).toMatchObject({ received: 2 });
    expect(a.stack.getMetrics().bus).toMatchObject({ published: 2, received: 0 });
  });

  it('without a bus, the other instance keeps serving its L1 copy (what the bus is for)', async () => {
    const { peers } = cluster(2, { bus: false });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await a.stack.set('k', 'v1');
    await b.stack.get('k');
    await a.stack.set('k', 'v2');
    await flushMicrotasks();
    expect(await b.stack.get('k')).toBe('v1');
  });

  it('delete, deleteMany, clear and a namespace clear reach the other instances', async () => {
    const { peers } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    const users = a.stack.namespace('users');
    await a.stack.setMany([
      { key: 'x', value: 1 },
      { key: 'y', value: 2 },
      { key: 'z', value: 3 },
    ]);
    await users.set('u1', 'ada');
    await b.stack.getMany(['x', 'y', 'z']);
    await b.stack.namespace('users').get('u1');
    await a.stack.delete('x');
    await a.stack.deleteMany(['y']);
    await flushMicrotasks();
    expect(b.l1.get('x')).toBeUndefined();
    expect(b.l1.get('y')).toBeUndefined();
    expect(b.l1.get('z')?.value).toBe(3);
    await users.clear();
    await flushMicrotasks();
    expect(await b.stack.namespace('users').get('u1')).toBeUndefined();
    expect(b.l1.get('z')?.value).toBe(3);
    await a.stack.clear();
    await flushMicrotasks();
    expect(b.l1.size).toBe(0);
  });

  it('a tag invalidation on one instance makes the tagged L1 entries of the others invalid, without a scan', async () => {
    const { peers } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    let version = 0;
    const load = () => `v${++version}`;
    expect(await b.stack.get('p:1', load, { tags: ['products'] })).toBe('v1');
    expect(await b.stack.get('p:2', load, { tags: ['other'] })).toBe('v2');
    await a.stack.invalidateByTag('products');
    await flushMicrotasks();
    expect(b.l1.get('p:1')?.value).toBe('v1'); // still held, no scan …
    expect(await b.stack.get('p:1', load, { tags: ['products'] })).toBe('v3'); // … but no longer valid
    expect(await b.stack.get('p:2', load, { tags: ['other'] })).toBe('v2');
  });

  it('a late message about an older write does not drop a newer copy (versions)', async () => {
    const { peers, hub } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    hub.hold();
    await a.stack.set('k', 'old'); // its message is held in flight
    hub.release();
    await flushMicrotasks();
    hub.hold();
    await a.stack.set('k', 'older-message-follows'); // held: announces version v2
    const held = hub.log.length;
    await b.stack.set('k', 'newest'); // b writes after a: a higher version, in b's L1 and the shared layer
    expect(hub.log.length).toBe(held + 1);
    // Deliver only a's message (older than b's copy): b keeps its copy.
    hub.release((deliveries) => deliveries.slice(0, 1));
    await flushMicrotasks();
    expect(b.l1.get('k')?.value).toBe('newest');
    expect(await b.stack.get('k')).toBe('newest');
  });

  it('an L2 read in flight when an invalidation arrives does not put its old value into L1', async () => {
    const { peers } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await a.stack.set('k', 'old');
    b.l2.pause(); // b's read of the shared layer returns 'old', but late
    const read = b.stack.get('k');
    await flushMicrotasks();
    await a.stack.delete('k');
    await flushMicrotasks(); // b hears the delete while its read is in flight
    b.l2.resume();
    expect(await read).toBe('old'); // the caller that started before the delete may see the old value …
    await b.stack.idle();
    expect(b.l1.get('k')).toBeUndefined(); // … but it is not kept
    expect(await b.stack.get('k')).toBeUndefined();
  });

  it('an L2 read in flight that returns the announced write itself still fills L1 (versions, not a blanket drop)', async () => {
    const { peers, hub } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await a.stack.set('k', 'old');
    await b.stack.get('k');
    hub.hold();
    await a.stack.set('k', 'new'); // in Redis; its announcement is still in flight
    b.l1.delete(['k']); // (b's copy aged out meanwhile)
    b.l2.pause(); // b's read runs now (reads 'new') but its reply comes late …
    const read = b.stack.get('k');
    await flushMicrotasks();
    hub.release(); // … after the announcement of that very write
    await flushMicrotasks();
    b.l2.resume();
    expect(await read).toBe('new');
    await b.stack.idle();
    expect(b.l1.get('k')?.value).toBe('new');
  });

  it('after a resubscription the instance clears its L1 (it may have missed messages) and counts it', async () => {
    const { peers, hub } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await a.stack.set('k', 'v1');
    await b.stack.get('k');
    // b's subscription drops: a's next write is lost for b.
    const bBus = b.bus as HubBus;
    bBus.connected = false;
    await a.stack.set('k', 'v2');
    await flushMicrotasks();
    expect(b.l1.get('k')?.value).toBe('v1'); // missed
    bBus.resubscribe();
    expect(b.l1.get('k')).toBeUndefined();
    expect(await b.stack.get('k')).toBe('v2');
    expect(b.stack.getMetrics().bus).toMatchObject({ resyncs: 1 });
    expect(b.logger.lines.some((l) => l.message.includes('Invalidation bus resubscribed'))).toBe(true);
    void hub;
  });

  it('a failing publish never fails the write; it is counted and logged once per burst', async () => {
    const { peers } = cluster(2);
    const [a] = peers as [(typeof peers)[0]];
    const aBus = a.bus as HubBus;
    aBus.connected = false;
    await expect(a.stack.set('k', 1)).resolves.toBeUndefined();
    await a.stack.set('k', 2);
    await a.stack.idle();
    expect(a.stack.getMetrics().bus).toMatchObject({ publishErrors: 2, published: 0 });
    expect(a.logger.lines.filter((l) => l.message.includes('Could not announce')).length).toBe(1);
    expect(await a.stack.get('k')).toBe(2);
  });
});

describe('distributed single-flight (stack side)', () => {
  it('2 × 50 concurrent cold gets on two instances run the loader once; every caller gets its value', async () => {
    const { peers, coordinators } = cluster(2, { coordinator: true });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    const source = controlledLoader<string>();
    const reads = [...Array.from({ length: 50 }, () => a.stack.get('cold', source.loader)), ...Array.from({ length: 50 }, () => b.stack.get('cold', source.loader))];
    await flushMicrotasks();
    expect(source.calls).toBe(1);
    expect(coordinators.acquires).toBe(2); // one per instance: the in-process single-flight collapses the rest
    source.resolveNext('value');
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 100 }, () => 'value'));
    expect(source.calls).toBe(1);
    const metrics = [a, b].map((p) => p.stack.getMetrics().singleFlight);
    expect(metrics.map((m) => m?.leads).sort()).toEqual([0, 1]);
    expect(metrics.map((m) => m?.servedFromPeer).sort()).toEqual([0, 1]);
    await Promise.all([a.stack.idle(), b.stack.idle()]);
    expect(coordinators.held('cold')).toBe(false); // released after the fill
  });

  it('a leader that dies mid-load blocks the others for at most its lease, then one of them loads', async () => {
    const { peers, clock, coordinators } = cluster(2, { coordinator: true, singleFlightLease: 3 });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    // a's process will freeze while loading: its renewals never reach the coordinator.
    coordinators.freezeRenewals(a.coordinator as LoadCoordinator);
    const dying = controlledLoader<string>();
    void a.stack.get('k', dying.loader).catch(() => undefined);
    await flushMicrotasks();
    expect(dying.calls).toBe(1);
    const survivor = controlledLoader<string>();
    const read = b.stack.get('k', survivor.loader);
    await flushMicrotasks();
    expect(survivor.calls).toBe(0); // b follows a
    expect(coordinators.held('k')).toBe(true);
    await clock.advance(2_000);
    expect(survivor.calls).toBe(0); // within a's lease, b waits
    await clock.advance(2_000); // the lease (3 s) expired; b's poll notices and b takes over
    expect(survivor.calls).toBe(1);
    survivor.resolveNext('from-b');
    expect(await read).toBe('from-b');
  });

  it('a stale leader that finishes after a newer leader wrote cannot overwrite the newer value (fencing)', async () => {
    const { peers, clock, store, coordinators } = cluster(2, { coordinator: true, singleFlightLease: 3, loaderTimeout: 60 });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    // Freeze a's renewals so its lease expires while its loader still runs.
    coordinators.freezeRenewals(a.coordinator as LoadCoordinator);
    const slow = controlledLoader<string>();
    const first = a.stack.get('k', slow.loader);
    await flushMicrotasks();
    const fast = controlledLoader<string>();
    const second = b.stack.get('k', fast.loader);
    await clock.advance(4_000); // a's lease expired; b took it
    expect(fast.calls).toBe(1);
    fast.resolveNext('newer');
    expect(await second).toBe('newer');
    slow.resolveNext('stale-leader');
    expect(await first).toBe('stale-leader'); // a's callers get a's value …
    await Promise.all([a.stack.idle(), b.stack.idle()]);
    expect(store.get('k')?.value).toBe('newer'); // … but the shared layer keeps the newer one
  });

  it('when the coordinator fails, each instance loads locally (a cache failure never stops a load)', async () => {
    const { peers, coordinators } = cluster(2, { coordinator: true });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    coordinators.failure = new Error('redis down');
    let calls = 0;
    const load = () => `v${++calls}`;
    await Promise.all([a.stack.get('k', load), b.stack.get('k', load)]);
    expect(calls).toBe(2);
    expect(a.stack.getMetrics().singleFlight).toMatchObject({ localFallbacks: 1, errors: 1 });
  });

  it('a coordinator that answers again is used within one probe interval, not after its back-off window', async () => {
    const { peers, coordinators, clock } = cluster(1, { coordinator: true, layerBackoff: '30s' });
    const [a] = peers as [(typeof peers)[0]];
    coordinators.failure = new Error('redis down');
    expect(await a.stack.get('k1', () => 'v1')).toBe('v1'); // loaded locally; the coordinator's window opens
    expect(a.stack.getMetrics().singleFlight).toMatchObject({ localFallbacks: 1, errors: 1 });
    await clock.advance(1_000); // still down: the background probes fail and change nothing
    coordinators.failure = undefined;
    await clock.advance(500); // one probe interval: the first probe that answers closes the window
    expect(await a.stack.get('k2', () => 'v2')).toBe('v2');
    expect(a.stack.getMetrics().singleFlight).toMatchObject({ leads: 1, localFallbacks: 1, errors: 1 });
  });

  it('a leader whose loader fails lets a follower take over at once (released, not filled)', async () => {
    const { peers } = cluster(2, { coordinator: true });
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    const failing = controlledLoader<string>();
    const first = a.stack.get('k', failing.loader);
    await flushMicrotasks();
    const backup = controlledLoader<string>();
    const second = b.stack.get('k', backup.loader);
    await flushMicrotasks();
    failing.rejectNext(new Error('source down'));
    await expect(first).rejects.toThrow('source down');
    await flushMicrotasks();
    expect(backup.calls).toBe(1);
    backup.resolveNext('ok');
    expect(await second).toBe('ok');
  });
});

describe('generations (bumpGeneration)', () => {
  it('a namespace bump invalidates its entries and its nested namespaces\' in O(1), not its siblings or the root', async () => {
    const { peers } = cluster(1);
    const [{ stack, l1 }] = peers as [(typeof peers)[0]];
    const users = stack.namespace('users');
    const admins = users.namespace('admins');
    await stack.set('root', 'r');
    await stack.namespace('usersx').set('k', 'sibling');
    await users.set('k', 'u');
    await admins.set('k', 'a');
    expect(users.generation).toBe(0);
    expect(await users.bumpGeneration()).toBe(1);
    expect(users.generation).toBe(1);
    expect(admins.generation).toBe(0); // its own generation; its keys moved with its parent's
    expect(await users.get('k')).toBeUndefined();
    expect(await admins.get('k')).toBeUndefined();
    expect(await stack.get('root')).toBe('r');
    expect(await stack.namespace('usersx').get('k')).toBe('sibling');
    expect([...l1['lru'].keys()].some((key: string) => key.startsWith('users\u001f'))).toBe(false); // dropped at once
    await users.set('k', 'u2');
    expect(await users.get('k')).toBe('u2');
    expect(await stack.namespace('users').get('k')).toBe('u2'); // another view of the same namespace agrees
  });

  it('a root bump invalidates everything', async () => {
    const { peers } = cluster(1);
    const [{ stack }] = peers as [(typeof peers)[0]];
    await stack.set('a', 1);
    await stack.namespace('n').set('b', 2);
    await stack.bumpGeneration();
    expect(await stack.get('a')).toBeUndefined();
    expect(await stack.namespace('n').get('b')).toBeUndefined();
  });

  it('a bump on one instance reaches the others through the bus, and a new instance reads it at ready()', async () => {
    const { peers, clock, hub, store, tagStore } = cluster(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await a.stack.namespace('users').set('k', 'old');
    expect(await b.stack.namespace('users').get('k')).toBe('old');
    await a.stack.namespace('users').bumpGeneration();
    await flushMicrotasks();
    expect(b.stack.namespace('users').generation).toBe(1);
    expect(await b.stack.namespace('users').get('k')).toBeUndefined();
    // A third instance starting now, on the same shared stores.
    const late = buildStack([new MemoryLayer(), new ChaosLayer(store, { name: 'l2' })], { clock, tagStore, invalidationBus: hub.bus() });
    const lateUsers = late.stack.namespace('users');
    await late.stack.ready();
    expect(lateUsers.generation).toBe(1);
    await a.stack.namespace('users').set('k', 'new');
    expect(await lateUsers.get('k')).toBe('new');
  });
});

describe('generations: fetching at start', () => {
  it('a failing fetch does not open the layer\'s back-off window and is retried until it succeeds', async () => {
    const clock = new FakeClock();
    const tagStore = new MemoryTagStore(clock);
    tagStore.bumpGeneration('');
    tagStore.bumpGeneration('');
    let failures = 2;
    const flaky = Object.assign(Object.create(tagStore) as MemoryTagStore, {
      shared: true,
      generations: (scopes: readonly string[]) => (failures-- > 0 ? Promise.reject(new Error('connecting')) : Promise.resolve(tagStore.generations(scopes))),
    });
    const l2 = new ChaosLayer(new MemoryLayer({ name: 'store' }), { name: 'l2' });
    const { stack } = buildStack([new MemoryLayer(), l2], { clock, tagStore: flaky });
    await flushMicrotasks();
    expect(stack.generation).toBe(0);
    await stack.set('k', 'v'); // the shared layer is not in a back-off window
    expect(l2.calls['set']).toBe(1);
    await clock.advance(1_000);
    expect(stack.generation).toBe(0);
    await clock.advance(1_000);
    expect(stack.generation).toBe(2);
    expect(stack.getMetrics().layers['l2']).toMatchObject({ errors: 0, skipped: 0 });
  });
});

describe('multi-instance options', () => {
  it('rejects collaborators of the wrong shape and a non-positive lease, naming the option', () => {
    const layers = () => [new MemoryLayer()];
    expect(() => new CacheStack(layers(), { invalidationBus: {} as never })).toThrow('Invalid option "invalidationBus": expected an object with start, publish, close methods');
    expect(() => new CacheStack(layers(), { singleFlight: { acquire: 1 } as never })).toThrow('Invalid option "singleFlight"');
    const coordinators = new CoordinatorHub(new FakeClock());
    expect(() => new CacheStack(layers(), { singleFlight: coordinators.coordinator(), singleFlightLease: 0 })).toThrow('Invalid option "singleFlightLease"');
    expect(() => new CacheStack(layers(), { singleFlight: coordinators.coordinator(), singleFlightLease: 'soon' as never })).toThrow(InvalidOptionError);
  });
});
