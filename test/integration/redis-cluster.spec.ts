import { jest } from '@jest/globals';
import { Cluster } from 'ioredis';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisRevalidationLock } from '../../lib/redis/redis-revalidation.lock.js';
import { redisSlot } from '../../lib/redis/redis-slot.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';
import { clusterKeysUnder, keysByMaster, removeClusterKeys, testClusterNodes, useTestClusterClients } from '../support/redis-cluster-client.js';
import { countRoundTrips, uniquePrefix } from '../support/redis-test-client.js';
import { describeRevalidationLockContract } from '../support/revalidation-lock-contract.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { describeTagStoreContract } from '../support/tag-store-contract.js';

// Everything here runs on the 3-master Redis Cluster started by the integration project's globalSetup.
const clients = useTestClusterClients();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const now = Date.now();

/** `count` writes under keys `<stem>0`, `<stem>1`, ... (no hash tag: they spread over the slots). */
function writes(count: number, stem = 'k') {
  return Array.from({ length: count }, (_, i) => ({ key: `${stem}${i}`, entry: makeEntry(`${stem}${i}`, now), ttlMs: 60_000 }));
}

/** How many masters hold at least one key under `prefix`. */
async function mastersHolding(prefix: string): Promise<number> {
  return [...(await keysByMaster(clients.client, prefix)).values()].filter((keys) => keys.length > 0).length;
}

describe('the test cluster', () => {
  it('has 3 masters, each serving slots', async () => {
    expect(testClusterNodes()).toHaveLength(3);
    expect(clients.client.nodes('master')).toHaveLength(3);
    const ranges = (await clients.client.cluster('SLOTS')) as [number, number, ...unknown[]][];
    expect(ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0)).toBe(16_384);
  });

  it('redisSlot agrees with the server (CLUSTER KEYSLOT)', async () => {
    const prefix = uniquePrefix('slot');
    const keys = [
      'foo',
      '{user1000}.following',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'a}b{c}',
      'ключ 🔑',
      'x\u001f{tags}:seq',
      ...writes(40).map((write) => prefix + write.key),
      `{${prefix}}:pinned`,
    ];
    const server = await Promise.all(keys.map((key) => clients.client.cluster('KEYSLOT', key) as Promise<number>));
    expect(keys.map((key) => redisSlot(key))).toEqual(server);
  });
});

describeLayerContract('RedisLayer on a Redis Cluster', () => {
  const prefix = uniquePrefix('cluster-layer');
  const layer = new RedisLayer({ client: clients.client, prefix });
  return {
    layer,
    now: () => Date.now(),
    async expectLifetime(key, ttlMs) {
      const pttl = await clients.client.pttl(prefix + key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(ttlMs);
      expect(pttl).toBeGreaterThan(ttlMs - 5000);
    },
    async teardown() {
      await layer.clear(undefined);
      expect(await clusterKeysUnder(clients.client, prefix)).toEqual([]);
    },
  };
});

describe('RedisLayer on a Redis Cluster', () => {
  let prefix: string;
  let layer: RedisLayer;

  beforeEach(() => {
    prefix = uniquePrefix('cluster');
    layer = new RedisLayer({ client: clients.client, prefix });
  });

  afterEach(() => removeClusterKeys(clients.client, prefix));

  it('getMany, setMany and delete work across slots on every master, one command per slot', async () => {
    const items = writes(60);
    const slots = new Set(items.map((item) => redisSlot(prefix + item.key)));
    const counter = countRoundTrips(clients.client);
    try {
      await layer.setMany(items);
      expect(counter.roundTrips).toBe(slots.size); // one pipeline per slot
      expect(counter.commands).toEqual(items.map(() => 'set'));
      expect(await mastersHolding(prefix)).toBe(3);
      expect(await clusterKeysUnder(clients.client, prefix)).toEqual(items.map((item) => prefix + item.key).sort());

      counter.reset();
      const asked = ['missing', ...items.map((item) => item.key).reverse(), 'k7', 'other-missing'];
      const got = await layer.getMany(asked);
      expect(got.map((entry) => entry?.value)).toEqual(asked.map((key) => (key.includes('missing') ? undefined : key)));
      const askedSlots = new Set(asked.map((key) => redisSlot(prefix + key)));
      expect(counter.commands).toEqual([...askedSlots].map(() => 'mget'));

      counter.reset();
      await layer.delete([...items.slice(0, 30).map((item) => item.key), 'missing']);
      expect(counter.commands.every((name) => name === 'unlink')).toBe(true);
      expect(await clusterKeysUnder(clients.client, prefix)).toEqual(items.slice(30).map((item) => prefix + item.key).sort());
      expect((await layer.getMany(['k0', 'k30'])).map((entry) => entry?.value)).toEqual([undefined, 'k30']);
    } finally {
      counter.restore();
    }
  });

  it('setMany writes "if newer" items across slots through the script', async () => {
    const older = writes(20).map((item) => ({ ...item, entry: makeEntry('old', now, { version: 1 }) }));
    await layer.setMany(older);
    const newer = writes(20).map((item, i) => ({ ...item, entry: makeEntry(`new${i}`, now, { version: i % 2 === 0 ? 2 : 0.5 }), ifNewer: true }));
    await layer.setMany(newer);
    const got = await layer.getMany(newer.map((item) => item.key));
    expect(got.map((entry) => entry?.value)).toEqual(newer.map((item, i) => (i % 2 === 0 ? item.entry.value : 'old')));
    expect(await mastersHolding(prefix)).toBeGreaterThanOrEqual(2);
  });

  it('a prefix with a hash tag pins the layer to one slot: every bulk call is one command again', async () => {
    const pinnedPrefix = `{${uniquePrefix('pin')}}:`;
    const pinned = new RedisLayer({ client: clients.client, prefix: pinnedPrefix });
    const counter = countRoundTrips(clients.client);
    try {
      const items = writes(30);
      await pinned.setMany(items);
      expect(counter.roundTrips).toBe(1);
      counter.reset();
      expect((await pinned.getMany(['k3', 'x', 'k29'])).map((entry) => entry?.value)).toEqual(['k3', undefined, 'k29']);
      expect(counter.commands).toEqual(['mget']);
      expect(await mastersHolding(pinnedPrefix)).toBe(1);
      counter.reset();
      await pinned.delete(items.map((item) => item.key));
      expect(counter.commands).toEqual(['unlink']);
      expect(await clusterKeysUnder(clients.client, pinnedPrefix)).toEqual([]);
    } finally {
      counter.restore();
      await removeClusterKeys(clients.client, pinnedPrefix);
    }
  });

  it('clear(prefix) removes the keys on every master and keeps other prefixes, tags and locks', async () => {
    const otherPrefix = uniquePrefix('cluster-other');
    const other = new RedisLayer({ client: clients.client, prefix: otherPrefix });
    try {
      await layer.setMany([...writes(200, 'n\u001f'), ...writes(40, 'keep')]);
      await other.setMany(writes(40, 'n\u001f'));
      const tags = layer.createTagStore();
      await tags.invalidate(['users', 'posts'], 'any', 60_000);
      const lease = await layer.createRevalidationLock().acquire('n\u001f1', 60_000);
      expect(lease).toBeDefined();
      expect(await mastersHolding(`${prefix}n\u001f`)).toBe(3);

      await layer.clear('n\u001f');
      expect(await clusterKeysUnder(clients.client, `${prefix}n\u001f`)).toEqual([]);
      expect(await clusterKeysUnder(clients.client, `${prefix}keep`)).toHaveLength(40);
      expect(await clusterKeysUnder(clients.client, otherPrefix)).toHaveLength(40);

      await layer.clear(undefined);
      const left = await clusterKeysUnder(clients.client, prefix);
      expect(left.sort()).toEqual([tags.tagKey('posts'), tags.tagKey('users'), `${prefix}\u001flock:n\u001f1`].sort());
      expect((await tags.fetch(['users']))[0]?.any).toBeGreaterThan(0);
      expect(await clusterKeysUnder(clients.client, otherPrefix)).toHaveLength(40);
    } finally {
      await removeClusterKeys(clients.client, otherPrefix);
    }
  });

  it.each([
    ['connecting', {}],
    ['lazy', { lazyConnect: true }],
  ])('clear on a %s client that knows one startup node still scans every master', async (_, options) => {
    await layer.setMany(writes(60));
    expect(await mastersHolding(prefix)).toBe(3);
    const fresh = new Cluster([testClusterNodes()[0] as { host: string; port: number }], { ...options, redisOptions: { maxRetriesPerRequest: 1 } });
    try {
      expect(fresh.status).not.toBe('ready');
      await new RedisLayer({ client: fresh, prefix }).clear(undefined);
      expect(await clusterKeysUnder(clients.client, prefix)).toEqual([]);
    } finally {
      await fresh.quit();
    }
  });

  it('a single-key call and a single-slot bulk call are one command', async () => {
    const counter = countRoundTrips(clients.client);
    try {
      await layer.set('one', makeEntry(1, now), 60_000);
      expect((await layer.getMany(['one', 'one'])).map((entry) => entry?.value)).toEqual([1, 1]);
      await layer.delete(['one']);
      expect(counter.commands).toEqual(['set', 'mget', 'unlink']);
      expect(counter.roundTrips).toBe(3);
    } finally {
      counter.restore();
    }
  });
});

describeTagStoreContract('RedisTagStore on a Redis Cluster', () => {
  const prefix = uniquePrefix('cluster-tags');
  return {
    store: new RedisTagStore({ client: clients.client, prefix }),
    peer: () => new RedisTagStore({ client: clients.peer, prefix }),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    teardown: () => removeClusterKeys(clients.client, prefix),
  };
}, 2_000);

describe('RedisTagStore on a Redis Cluster', () => {
  it('spreads the tag records over the masters (no common hash tag), each invalidated and fetched on its own', async () => {
    const prefix = uniquePrefix('cluster-tags');
    const store = new RedisTagStore({ client: clients.client, prefix });
    try {
      const tags = Array.from({ length: 30 }, (_, i) => `tag:${i}`);
      const versions = await store.invalidate(tags, 'any', 60_000);
      await store.invalidate(['x', 'y'], 'all', 60_000);
      await store.bumpGeneration('ns\u001f', 60_000);
      const keys = await clusterKeysUnder(clients.client, prefix);
      expect(keys).toHaveLength(32);
      expect(new Set(keys.map((key) => redisSlot(key))).size).toBeGreaterThan(20);
      expect(await mastersHolding(prefix)).toBe(3);
      expect((await store.fetch(tags)).map((state) => state?.any)).toEqual(versions);
      expect(await store.generations(['ns\u001f', 'other\u001f'])).toEqual([1, 0]);
    } finally {
      await removeClusterKeys(clients.client, prefix);
    }
  });
});

describeRevalidationLockContract('RedisRevalidationLock on a Redis Cluster', () => {
  const prefix = uniquePrefix('cluster-lock');
  return {
    lock: new RedisRevalidationLock({ client: clients.client, prefix }),
    peer: new RedisRevalidationLock({ client: clients.peer, prefix }),
    pass: sleep, // Redis expires keys on its own clock: real time has to pass
    shortTtl: 250,
    teardown: () => removeClusterKeys(clients.client, prefix),
  };
});

describe('CacheStack on memory + a RedisLayer over a Redis Cluster', () => {
  const stacks: CacheStack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  });

  /** A "process": its own L1 and its own cluster client, on the shared prefix. */
  function instance(prefix: string, client: Cluster) {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix })], { logger: new RecordingLogger() });
    stacks.push(stack);
    return { stack, l1 };
  }

  it('get/set, bulk calls and tag invalidation round-trip between two instances, without a layer error', async () => {
    const prefix = uniquePrefix('cluster-stack');
    const a = instance(prefix, clients.client);
    const b = instance(prefix, clients.peer);
    try {
      await a.stack.set('user:1', { id: 1, at: new Date(0) }, { tags: ['users', 'user:1'] });
      expect(await b.stack.get('user:1')).toEqual({ id: 1, at: new Date(0) });

      const keys = Array.from({ length: 30 }, (_, i) => `item:${i}`);
      await a.stack.setMany(keys.map((key, i) => ({ key, value: i, options: { tags: ['items'] } })));
      expect(await mastersHolding(prefix)).toBeGreaterThanOrEqual(2);
      expect(await b.stack.getMany(keys)).toEqual(keys.map((_, i) => i));

      await a.stack.invalidateByTag('user:1');
      b.l1.delete(['user:1']); // B's L1 copy is the bus's job; its L2 read must miss
      const loader = jest.fn(() => ({ id: 1, fresh: true }));
      expect(await b.stack.get('user:1', loader)).toEqual({ id: 1, fresh: true });
      expect(loader).toHaveBeenCalledTimes(1);

      await a.stack.deleteMany(keys.slice(0, 10));
      b.l1.delete(keys);
      expect(await b.stack.getMany(keys)).toEqual(keys.map((_, i) => (i < 10 ? undefined : i)));

      await a.stack.namespace('ns').set('x', 1);
      await a.stack.namespace('ns').clear();
      expect(await instance(prefix, clients.peer).stack.namespace('ns').get('x')).toBeUndefined();

      // The stack swallows layer failures (a CROSSSLOT error would read as a miss): none happened.
      for (const { stack } of [a, b]) expect(stack.getMetrics().layers['redis']).toMatchObject({ errors: 0, skipped: 0 });
    } finally {
      await removeClusterKeys(clients.client, prefix);
    }
  });
});

describe('many instances on a Redis Cluster: bus, single-flight, generations, pattern invalidation', () => {
  const stacks: CacheStack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  });

  /** A "process" with its own L1, cluster client, bus and coordinator, on the shared prefix. */
  async function instance(prefix: string, client: Cluster) {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix })], {
      logger: new RecordingLogger(),
      invalidationBus: new RedisInvalidationBus({ client, prefix }),
      singleFlight: new RedisSingleFlightCoordinator({ client, prefix, pollInterval: 60 }),
    });
    stacks.push(stack);
    await stack.ready();
    return { stack, l1 };
  }

  async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await sleep(5);
    }
  }

  it('a write on one instance drops the other\'s L1 copy; tags and generations reach it too', async () => {
    const prefix = uniquePrefix('cluster-bus');
    const a = await instance(prefix, clients.client);
    const b = await instance(prefix, clients.peer);
    try {
      await a.stack.set('k', 'v1', { tags: ['t'] });
      expect(await b.stack.get('k')).toBe('v1');
      await a.stack.set('k', 'v2', { tags: ['t'] });
      await eventually(() => b.l1.get('k')?.value !== 'v1', "B's L1 dropped k");
      expect(await b.stack.get('k')).toBe('v2');
      await a.stack.invalidateByTag('t');
      await eventually(async () => (await b.stack.get('k')) === undefined, 'the tag invalidation reached B');
      await b.stack.namespace('users').set('u', 1);
      expect(await a.stack.namespace('users').get('u')).toBe(1);
      await b.stack.namespace('users').bumpGeneration();
      await eventually(() => a.stack.namespace('users').generation === 1, 'A learned the generation');
      expect(await a.stack.namespace('users').get('u')).toBeUndefined();
      for (const { stack } of [a, b]) expect(stack.getMetrics().layers['redis']).toMatchObject({ errors: 0, skipped: 0 });
    } finally {
      await removeClusterKeys(clients.client, prefix);
    }
  });

  it('2 × 20 concurrent cold gets on two instances run the loader once', async () => {
    const prefix = uniquePrefix('cluster-sf');
    const a = await instance(prefix, clients.client);
    const b = await instance(prefix, clients.peer);
    try {
      let calls = 0;
      const loader = async () => {
        calls++;
        await sleep(50);
        return 'loaded';
      };
      const values = await Promise.all([...Array.from({ length: 20 }, () => a.stack.get('cold', loader)), ...Array.from({ length: 20 }, () => b.stack.get('cold', loader))]);
      expect(values).toEqual(Array.from({ length: 40 }, () => 'loaded'));
      expect(calls).toBe(1);
      expect([a, b].map(({ stack }) => stack.getMetrics().singleFlight?.errors)).toEqual([0, 0]);
    } finally {
      await removeClusterKeys(clients.client, prefix);
    }
  });

  it('invalidateByPattern finds keys on every master; a namespace named with a hash tag lives in one slot', async () => {
    const prefix = uniquePrefix('cluster-pattern');
    const a = await instance(prefix, clients.client);
    const b = await instance(prefix, clients.peer);
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `user:${i}`);
      await a.stack.setMany(keys.map((key) => ({ key, value: key })));
      await a.stack.set('other', 1);
      expect(await mastersHolding(prefix)).toBeGreaterThanOrEqual(2);
      expect(await b.stack.getMany(keys.slice(0, 3))).toEqual(keys.slice(0, 3));
      await expect(a.stack.invalidateByPattern('user:*', { limit: 10 })).rejects.toThrow('nothing was deleted');
      expect(await a.stack.invalidateByPattern('user:*')).toBe(30);
      await eventually(() => b.l1.get('user:0') === undefined, "B's L1 dropped the matched keys");
      expect(await b.stack.getMany(keys)).toEqual(keys.map(() => undefined));
      expect(await b.stack.get('other')).toBe(1);

      const pinned = a.stack.namespace('{users}');
      await pinned.setMany(keys.map((key) => ({ key, value: key })));
      const slots = new Set((await clusterKeysUnder(clients.client, `${prefix}{users}`)).map((key) => redisSlot(key)));
      expect(slots.size).toBe(1);
    } finally {
      await removeClusterKeys(clients.client, prefix);
    }
  });
});
