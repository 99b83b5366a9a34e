/**
 * `CacheStack.warm()` across instances on a real Redis: two stacks (each its own L1 and connections, one Redis
 * prefix, a `RedisSingleFlightCoordinator` each) warming the same keys at once load each key once in the
 * cluster; what one loaded, the other reports `skipped` (it did not load it; the key is warm).
 */
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { WarmEntry } from '../../lib/stack/warm-entries.js';
import { uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { sleep } from '../support/wait.js';

const clients = useTwoTestClients();
const quiet = { warn() {}, error() {} };

const opened: CacheStack[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((stack) => stack.close()));
});

/** One instance per client of the pair, on `prefix`, with or without the cluster's single-flight. */
function instances(prefix: string, singleFlight = true): CacheStack[] {
  const stacks = [clients.client, clients.peer].map(
    (client) =>
      new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
        logger: new RecordingLogger(),
        // Once per cluster is the subject here, not degradation: on a loaded machine a Redis command can exceed the
        // default 500 ms, and an acquire that times out loads locally by design (distributed-loads.ts, point 4).
        layerTimeout: '10s',
        ...(singleFlight && { singleFlight: new RedisSingleFlightCoordinator({ client, prefix, logger: quiet }) }),
      }),
  );
  opened.push(...stacks);
  return stacks;
}

/** 50 entries whose loaders take a few ms and count their runs by key, across instances. */
function entries(runs: Map<string, number>): WarmEntry[] {
  return Array.from({ length: 50 }, (_, i) => ({
    key: `product:${i}`,
    priority: i % 3,
    loader: async ({ key }) => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await sleep(5);
      return { key, price: i };
    },
  }));
}

describe('warm() across two instances on a real Redis', () => {
  it('warming the same 50 keys at once runs each loader once in the cluster; the other instance reports those keys skipped', async () => {
    const [a, b] = instances(uniquePrefix('warm-race')) as [CacheStack, CacheStack];
    const runs = new Map<string, number>();
    const list = entries(runs);
    const [fromA, fromB] = await Promise.all([a.warm(list, { concurrency: 10 }), b.warm(list, { concurrency: 10 })]);
    expect(runs.size).toBe(50);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
    expect(fromA.failed + fromB.failed).toBe(0);
    expect(fromA.loaded + fromB.loaded).toBe(50);
    expect(fromA.skipped + fromB.skipped).toBe(50);
    // Per key: loaded on exactly one instance, skipped on the other.
    fromA.entries.forEach((entry, i) => {
      const other = fromB.entries[i];
      expect(other?.key).toBe(entry.key);
      expect([entry.status, other?.status].sort()).toEqual(['loaded', 'skipped']);
    });
    const peerServed = (a.getMetrics().singleFlight?.servedFromPeer ?? 0) + (b.getMetrics().singleFlight?.servedFromPeer ?? 0);
    expect(peerServed).toBeGreaterThan(0); // the cluster's single-flight did the collapsing
    for (const stack of [a, b]) expect(await stack.get('product:42')).toEqual({ key: 'product:42', price: 42 });
  });

  it('without the coordinator the same race loads keys on both instances (what the coordinator is for)', async () => {
    const [a, b] = instances(uniquePrefix('warm-race-alone'), false) as [CacheStack, CacheStack];
    const runs = new Map<string, number>();
    const list = entries(runs);
    await Promise.all([a.warm(list, { concurrency: 10 }), b.warm(list, { concurrency: 10 })]);
    expect([...runs.values()].some((n) => n > 1)).toBe(true);
  });

  it('an instance that warms after a peer did finds every key in Redis: all skipped, no loader runs, its L1 is filled', async () => {
    const [a, b] = instances(uniquePrefix('warm-after')) as [CacheStack, CacheStack];
    const runs = new Map<string, number>();
    const list = entries(runs);
    expect((await a.warm(list)).loaded).toBe(50);
    const second = await b.warm(list);
    expect(second).toMatchObject({ total: 50, loaded: 0, skipped: 50, failed: 0 });
    expect(runs.size).toBe(50);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    await b.idle();
    expect(b.peek('product:7')).toEqual({ key: 'product:7', price: 7 }); // backfilled from Redis
  });
});
