import { Redis } from 'ioredis';
import { RedisRevalidationLock } from '../../lib/redis/redis-revalidation.lock.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { controlledLoader, RecordingLogger } from '../support/stack-builder.js';

const SWR = { ttl: 10, staleWhileRevalidate: 60 };

/**
 * Stale-while-revalidate once per cluster: two "processes" (each its own L1 and its own Redis connection, on
 * one Redis prefix) see the same stale entry. Entries go stale on a fake clock shared by both instances;
 * leases expire on Redis's own clock, so the crash test waits a little real time.
 */
describe('SWR refresh once per cluster, on a real Redis', () => {
  const clients: Redis[] = [];
  const stacks: CacheStack[] = [];

  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });

  /** One process: its own connection and memory layer, Redis under `prefix`. */
  function instance(prefix: string, clock: FakeClock, options: CacheStackOptions = {}) {
    const client = testRedisClient();
    clients.push(client);
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], { logger: new RecordingLogger(), clock, ...options });
    stacks.push(stack);
    return stack;
  }

  /** Two instances that both hold `k` = 'old' in L1 and in Redis, now stale. */
  async function staleCluster(options: CacheStackOptions = {}) {
    const prefix = uniquePrefix('swr-lock');
    const clock = new FakeClock();
    const a = instance(prefix, clock, options);
    const b = instance(prefix, clock, options);
    await a.set('k', 'old', SWR);
    expect(await b.get('k')).toBe('old'); // now in b's L1 too
    await clock.advance(11_000);
    return { a, b, prefix, clock };
  }

  const skipped = (...stacks: CacheStack[]) => stacks.reduce((n, s) => n + s.getMetrics().stack.refreshesSkipped, 0);

  it('two instances reading a stale entry concurrently run the loader once in total', async () => {
    const { a, b, prefix } = await staleCluster();
    const control = controlledLoader<string>();
    const reads = await Promise.all([a.get('k', control.loader, SWR), b.get('k', control.loader, SWR), b.get('k', control.loader, SWR)]);
    expect(reads).toEqual(['old', 'old', 'old']);
    await waitFor(() => control.calls + skipped(a, b) === 2);
    expect(control.calls).toBe(1);
    expect(skipped(a, b)).toBe(1);
    const lockKey = new RedisRevalidationLock({ client: clients[0] as Redis, prefix }).lockKey('k');
    const pttl = await (clients[0] as Redis).pttl(lockKey);
    expect(pttl).toBeGreaterThan(25_000); // the lease lives revalidationTimeout (30 s), not the stale window
    expect(pttl).toBeLessThanOrEqual(30_000);

    control.resolveNext('new');
    await Promise.all([a.idle(), b.idle()]);
    expect(await (clients[0] as Redis).exists(lockKey)).toBe(0); // released
    // Both instances now read the refreshed value (the one that skipped finds it in Redis).
    expect(await a.get('k', control.loader, SWR)).toBe('new');
    expect(await b.get('k', control.loader, SWR)).toBe('new');
    expect(control.calls).toBe(1);
  });

  it('without the lock (revalidationLock: false) each instance refreshes: the baseline the lock improves on', async () => {
    const { a, b } = await staleCluster({ revalidationLock: false });
    let calls = 0;
    const loader = () => `v${++calls}`;
    await Promise.all([a.get('k', loader, SWR), b.get('k', loader, SWR)]);
    await Promise.all([a.idle(), b.idle()]);
    expect(calls).toBe(2);
  });

  it('a holder that crashes mid-refresh blocks the key only until revalidationTimeout, then another instance refreshes', async () => {
    const { a, b } = await staleCluster({ revalidationTimeout: '300ms', loaderTimeout: 60 });
    // a takes the lease and "crashes": its loader never settles and its renewal timer (on the fake clock,
    // which does not move) never fires, so its lease is neither renewed nor released.
    const hung = controlledLoader<string>();
    await a.get('k', hung.loader, SWR);
    await waitFor(() => hung.calls === 1);
    let calls = 0;
    const loader = () => `b${++calls}`;
    expect(await b.get('k', loader, SWR)).toBe('old');
    await b.idle();
    expect(calls).toBe(0);
    expect(skipped(b)).toBe(1);
    await sleep(350); // Redis expires the lease
    expect(await b.get('k', loader, SWR)).toBe('old');
    await b.idle();
    expect(calls).toBe(1);
    expect(await b.get('k')).toBe('b1');
  });

  describe('with Redis down', () => {
    let server: RedisServerHandle;

    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('each instance refreshes locally, serving stale meanwhile', async () => {
      const clock = new FakeClock();
      const connect = () => {
        // A cache's recommended settings: fail fast instead of queueing while disconnected.
        const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
        clients.push(client);
        return client;
      };
      const [c1, c2] = [connect(), connect()];
      await waitFor(() => c1.status === 'ready' && c2.status === 'ready');
      const make = (client: Redis) => {
        const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix: 'down:' })], { logger: new RecordingLogger(), clock });
        stacks.push(stack);
        return stack;
      };
      const a = make(c1);
      const b = make(c2);
      await a.set('k', 'old', SWR);
      expect(await b.get('k')).toBe('old');
      await clock.advance(11_000);
      await server.stop();
      try {
        let calls = 0;
        const loader = () => `v${++calls}`;
        expect(await Promise.all([a.get('k', loader, SWR), b.get('k', loader, SWR)])).toEqual(['old', 'old']);
        await Promise.all([a.idle(), b.idle()]);
        expect(calls).toBe(2);
        expect([await a.get('k'), await b.get('k')].sort()).toEqual(['v1', 'v2']);
        expect(skipped(a, b)).toBe(0);
        expect(a.getMetrics().layers['redis']?.errors).toBeGreaterThan(0);
      } finally {
        // Back up, so the clients can quit cleanly after the test, pass or fail.
        await server.restart();
        await waitFor(() => c1.status === 'ready' && c2.status === 'ready');
      }
    });
  });
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
