/**
 * Several real Node processes ("replicas", test/support/peer-process.ts) sharing one redis-server, each with
 * its own L1, the Redis invalidation bus and the Redis single-flight coordinator.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Peer } from '../support/peer-client.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { TEST_REDIS_URL_ENV } from '../support/redis.global-setup.js';
import { testClusterNodes } from '../support/redis-cluster-client.js';
import { uniquePrefix } from '../support/redis-test-client.js';

jest.setTimeout(60_000);

function redisUrl(): string {
  const url = process.env[TEST_REDIS_URL_ENV];
  if (url === undefined) throw new Error(`${TEST_REDIS_URL_ENV} is not set (run through the integration project)`);
  return url;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Polls `peer` until its L1 no longer serves `stale` for `key`; resolves to the elapsed ms. */
async function untilDropped(peer: Peer, key: string, stale: unknown, since: number, boundMs: number): Promise<number> {
  for (;;) {
    const peeked = await peer.call<{ miss?: boolean; value?: unknown }>({ op: 'peek', key });
    const elapsed = performance.now() - since;
    if (peeked.miss === true || peeked.value !== stale) return elapsed;
    if (elapsed > boundMs) throw new Error(`${peer.name} still served ${JSON.stringify(stale)} ${elapsed.toFixed(0)} ms after the write`);
  }
}

/** Where the peers' Redis is: the run's single server, or its 3-master cluster (`cluster:` + nodes). */
const TARGETS: [string, () => string][] = [
  ['one Redis', redisUrl],
  ['a 3-master Redis Cluster', () => `cluster:${testClusterNodes().map((node) => `${node.host}:${node.port}`).join(',')}`],
];

describe('several processes sharing one Redis', () => {
  let peers: Peer[] = [];
  afterEach(async () => {
    await Promise.all(peers.map((peer) => peer.stop()));
    peers = [];
  });

  async function start(count: number, options: { redisUrl?: string; leaseSeconds?: number } = {}): Promise<Peer[]> {
    const prefix = `${uniquePrefix()}:`;
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) => Peer.start(`peer-${i + 1}`, { redisUrl: options.redisUrl ?? redisUrl(), prefix, leaseSeconds: options.leaseSeconds })),
    );
    peers.push(...started);
    return started;
  }

  describe.each(TARGETS)('on %s', (where, target) => {
    it('a write on A stops B\'s L1 from serving the old value within a bounded time (p50/p99 printed)', async () => {
      const [a, b] = (await start(2, { redisUrl: target() })) as [Peer, Peer];
      const delays: number[] = [];
      for (let round = 0; round < 40; round++) {
        const key = `k${round % 5}`;
        await a.call({ op: 'set', key, value: `old-${round}` });
        expect(await b.call({ op: 'get', key })).toBe(`old-${round}`); // now in B's L1
        const since = performance.now();
        const op = round % 2 === 0 ? a.call({ op: 'set', key, value: `new-${round}` }) : a.call({ op: 'delete', key });
        await op;
        delays.push(await untilDropped(b, key, `old-${round}`, since, 2_000));
      }
      delays.sort((x, y) => x - y);
      const p50 = percentile(delays, 50);
      const p99 = percentile(delays, 99);
      console.log(`${where} — L1 invalidation propagation between two processes (write resolved → peer L1 dropped, incl. one IPC round trip per poll): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
      expect(p99).toBeLessThan(2_000);
    });

    it('a tag invalidation on A invalidates B\'s tagged L1 entries', async () => {
      const [a, b] = (await start(2, { redisUrl: target() })) as [Peer, Peer];
      await a.call({ op: 'set', key: 'p1', value: 'v', tags: ['products'] });
      await a.call({ op: 'set', key: 'o1', value: 'w', tags: ['orders'] });
      expect(await b.call({ op: 'get', key: 'p1' })).toBe('v');
      expect(await b.call({ op: 'get', key: 'o1' })).toBe('w');
      await a.call({ op: 'invalidateTag', tag: 'products' });
      const since = performance.now();
      await untilDropped(b, 'p1', 'v', since, 2_000);
      expect(await b.call({ op: 'get', key: 'p1' })).toBeUndefined();
      expect(await b.call({ op: 'get', key: 'o1' })).toBe('w');
    });

    it('2 × 50 concurrent cold gets on two processes run the loader once in the cluster', async () => {
      const [a, b] = (await start(2, { redisUrl: target() })) as [Peer, Peer];
      const [ra, rb] = await Promise.all([
        a.call<{ values: unknown[] }>({ op: 'load', key: 'cold', count: 50, delayMs: 100, value: 'loaded' }),
        b.call<{ values: unknown[] }>({ op: 'load', key: 'cold', count: 50, delayMs: 100, value: 'loaded' }),
      ]);
      expect([...ra.values, ...rb.values]).toEqual(Array.from({ length: 100 }, () => 'loaded'));
      const calls = await Promise.all([a, b].map((peer) => peer.call<{ loaderCalls: number }>({ op: 'metrics' })));
      expect(calls[0]!.loaderCalls + calls[1]!.loaderCalls).toBe(1);
    });

    it('a lease holder killed mid-load: another process loads after the lease expires', async () => {
      const [a, b] = (await start(2, { redisUrl: target(), leaseSeconds: 1 })) as [Peer, Peer];
      const started = a.event((reply) => reply.event === 'loader-started');
      void a.call({ op: 'load', key: 'k', count: 1, delayMs: -1, value: 'never' }).catch(() => undefined);
      await started;
      const since = performance.now();
      const waiting = b.call<{ values: unknown[] }>({ op: 'load', key: 'k', count: 5, delayMs: 10, value: 'from-b' });
      a.kill();
      const result = await waiting;
      const elapsed = performance.now() - since;
      expect(result.values).toEqual(Array.from({ length: 5 }, () => 'from-b'));
      expect(elapsed).toBeLessThan(10_000); // bounded by the lease (1 s) plus a poll, not by the loader timeout
      const metrics = await b.call<{ loaderCalls: number }>({ op: 'metrics' });
      expect(metrics.loaderCalls).toBe(1);
    });
  });

  it('a killed subscriber connection: the peer resubscribes, clears its L1 and hears later writes', async () => {
    const [a, b] = (await start(2)) as [Peer, Peer];
    await a.call({ op: 'set', key: 'k', value: 'v1' });
    expect(await b.call({ op: 'get', key: 'k' })).toBe('v1');
    const admin = new Redis(redisUrl());
    try {
      await admin.client('KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
    // B notices the reconnection, clears its L1 (it may have missed messages) and counts it.
    const deadline = Date.now() + 10_000;
    let resyncs = 0;
    while (resyncs === 0 && Date.now() < deadline) {
      const { metrics } = await b.call<{ metrics: { bus: { resyncs: number } } }>({ op: 'metrics' });
      resyncs = metrics.bus.resyncs;
      if (resyncs === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(resyncs).toBeGreaterThanOrEqual(1);
    expect(await b.call({ op: 'peek', key: 'k' })).toEqual({ miss: true });
    expect(await b.call({ op: 'get', key: 'k' })).toBe('v1');
    await a.call({ op: 'set', key: 'k', value: 'v2' });
    await untilDropped(b, 'k', 'v1', performance.now(), 5_000);
  });

  describe('with a Redis that restarts', () => {
    let server: RedisServerHandle;
    beforeEach(async () => {
      server = await startRedisServer();
    });
    afterEach(async () => {
      await Promise.all(peers.map((peer) => peer.stop()));
      peers = [];
      await server.stop();
    });

    it('serves through the outage (loads locally) and propagates invalidations again afterwards', async () => {
      const [a, b] = (await start(2, { redisUrl: server.url })) as [Peer, Peer];
      await a.call({ op: 'set', key: 'k', value: 'v1' });
      expect(await b.call({ op: 'get', key: 'k' })).toBe('v1');
      await server.stop();
      // Redis down: a cold key still loads (locally), nothing fails.
      const during = await b.call<{ values: unknown[] }>({ op: 'load', key: 'cold', count: 3, delayMs: 5, value: 'local' });
      expect(during.values).toEqual(['local', 'local', 'local']);
      await server.restart();
      // After the reconnection B's L1 was cleared (it may have missed messages); writes propagate again.
      const deadline = Date.now() + 15_000;
      for (;;) {
        await a.call({ op: 'set', key: 'k', value: 'v2' }).catch(() => undefined);
        const got = await b.call({ op: 'get', key: 'k' }).catch(() => undefined);
        if (got === 'v2') break;
        if (Date.now() > deadline) throw new Error(`B still answers ${JSON.stringify(got)} after the restart`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await a.call({ op: 'set', key: 'k', value: 'v3' });
      await untilDropped(b, 'k', 'v2', performance.now(), 5_000);
      expect(await b.call({ op: 'get', key: 'k' })).toBe('v3');
    });
  });
});
