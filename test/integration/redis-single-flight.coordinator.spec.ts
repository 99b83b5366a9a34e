import { Redis } from 'ioredis';
import { LayerCacheError } from '../../lib/core/errors.js';
import type { LoadLease, LoadTicket } from '../../lib/core/load-coordinator.js';
import {
  ENDED_LEASE_MEMORY_MS,
  LOAD_CHANNEL_MARK,
  LOAD_KEY_MARK,
  RedisSingleFlightCoordinator,
  type RedisSingleFlightCoordinatorOptions,
} from '../../lib/redis/redis-single-flight.coordinator.js';
import { FakeClock } from '../support/fake-clock.js';
import { startRedisServer } from '../support/redis-server.js';
import { keysUnder, testRedisUrl, uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { sleep, waitFor } from '../support/wait.js';

const clients = useTwoTestClients();

type Outcome = 'filled' | 'released' | 'timeout';

/** The outcome of `wait` if it has settled by the next turn of the event loop, else 'pending'. */
function peek(wait: Promise<Outcome>): Promise<Outcome | 'pending'> {
  return Promise.race([wait, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

/** Records when each wait settles (ms after `since`) and how. */
function track(waits: readonly Promise<Outcome>[], since: number): Promise<{ outcome: Outcome; afterMs: number }[]> {
  return Promise.all(waits.map((wait) => wait.then((outcome) => ({ outcome, afterMs: Date.now() - since }))));
}

function leaseOf(ticket: LoadTicket): LoadLease {
  if (ticket.role !== 'leader') throw new Error('expected the leader ticket');
  return ticket.lease;
}

function waitOf(ticket: LoadTicket): Promise<Outcome> {
  if (ticket.role !== 'follower') throw new Error('expected a follower ticket');
  return ticket.wait;
}

const opened: RedisSingleFlightCoordinator[] = [];

/** A coordinator closed after the test. */
function coordinator(options: RedisSingleFlightCoordinatorOptions): RedisSingleFlightCoordinator {
  const created = new RedisSingleFlightCoordinator({ logger: { warn() {}, error() {} }, ...options });
  opened.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

/** Two coordinators on one prefix over separate connections, as two processes would have. */
function pair(options: Partial<RedisSingleFlightCoordinatorOptions> = {}, label = 'sf') {
  const prefix = options.prefix ?? uniquePrefix(label);
  return {
    prefix,
    a: coordinator({ ...options, client: clients.client, prefix }),
    b: coordinator({ ...options, client: clients.peer, prefix }),
  };
}

describe('RedisSingleFlightCoordinator on a real Redis', () => {
  it('keeps one record per key, `<prefix>\\x1fload:<key>` = `token|version|deadline`, deleted on release', async () => {
    const { prefix, a } = pair({}, 'sf-layout');
    expect(a.lockKey('user:1')).toBe(`${prefix}${LOAD_KEY_MARK}user:1`);
    expect(a.channel).toBe(`${prefix}${LOAD_CHANNEL_MARK}`);
    const lease = leaseOf(await a.acquire('user:1', 30_000, 1_000));
    const record = await clients.client.get(a.lockKey('user:1'));
    const [owner, version, deadline] = (record ?? '').split('|');
    expect(owner).toMatch(/^[\w-]{16,}$/);
    expect(Number(version)).toBe(lease.version);
    expect(Number(deadline) - Number(version)).toBeGreaterThan(29_000_000); // µs
    expect(Number(deadline) - Number(version)).toBeLessThanOrEqual(30_000_000);
    const pttl = await clients.client.pttl(a.lockKey('user:1'));
    expect(pttl).toBeGreaterThan(28_000 + ENDED_LEASE_MEMORY_MS);
    expect(pttl).toBeLessThanOrEqual(30_000 + ENDED_LEASE_MEMORY_MS);
    expect((await keysUnder(clients.client, prefix)).map((k) => k.toString())).toEqual([a.lockKey('user:1')]);

    expect(await lease.release()).toBe(true);
    expect(await keysUnder(clients.client, prefix)).toEqual([]);
    expect(await lease.release()).toBe(false);
  });

  it('lease versions are Redis TIME in µs', async () => {
    const { a } = pair({}, 'sf-time');
    const before = Date.now() * 1000;
    const lease = leaseOf(await a.acquire('k', 10_000, 1_000));
    // The test server runs on this machine: same clock, give or take scheduling.
    expect(lease.version).toBeGreaterThan(before - 5_000_000);
    expect(lease.version).toBeLessThan(Date.now() * 1000 + 5_000_000);
    expect(Number.isSafeInteger(lease.version)).toBe(true);
    await lease.release();
  });

  it('50 concurrent acquires on each of two processes: one leader; every follower wakes on filled(), not by polling', async () => {
    // Long poll interval, ttl and wait: only the notice can wake the followers within the test.
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-herd');
    const tickets = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).acquire('hot', 30_000, 30_000)),
    );
    const leaders = tickets.filter((t) => t.role === 'leader');
    expect(leaders).toHaveLength(1);
    const waits = tickets.filter((t) => t.role === 'follower').map(waitOf);
    expect(waits).toHaveLength(99);
    await sleep(100);
    expect(await Promise.all(waits.map(peek))).toEqual(waits.map(() => 'pending')); // nothing before the fill

    const lease = leaseOf(leaders[0] as LoadTicket);
    const filledAt = Date.now();
    await lease.filled();
    const results = await track(waits, filledAt);
    expect(results.every((r) => r.outcome === 'filled')).toBe(true);
    expect(Math.max(...results.map((r) => r.afterMs))).toBeLessThan(1_000);
    expect(await lease.release()).toBe(true);
  });

  it('a release without a fill wakes the followers of both processes with `released`', async () => {
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-release');
    const lease = leaseOf(await a.acquire('k', 30_000, 30_000));
    const waits = [waitOf(await a.acquire('k', 30_000, 30_000)), waitOf(await b.acquire('k', 30_000, 30_000))];
    await sleep(50);
    expect(await Promise.all(waits.map(peek))).toEqual(['pending', 'pending']);
    const releasedAt = Date.now();
    expect(await lease.release()).toBe(true);
    const results = await track(waits, releasedAt);
    expect(results.map((r) => r.outcome)).toEqual(['released', 'released']);
    expect(Math.max(...results.map((r) => r.afterMs))).toBeLessThan(1_000);
    // Now free: the next acquire leads.
    const next = leaseOf(await b.acquire('k', 30_000, 30_000));
    expect(next.version).toBeGreaterThan(lease.version);
    await next.release();
  });

  it('a filled notice published while the acquire of a follower is in flight is not missed', async () => {
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-inflight');
    const lease = leaseOf(await a.acquire('k', 30_000, 30_000));
    // A spy on the follower's connection: once its acquire script has answered (follower), and before
    // acquire() sees the reply, the leader fills the key and the notice reaches b's subscriber.
    const target = clients.peer as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> };
    const original = target.evalsha;
    target.evalsha = async function (this: unknown, ...args: unknown[]) {
      target.evalsha = original;
      const reply = await original.apply(this, args);
      await lease.filled();
      await sleep(50);
      return reply;
    };
    try {
      const wait = waitOf(await b.acquire('k', 30_000, 2_000));
      expect(await wait).toBe('filled');
    } finally {
      target.evalsha = original;
      await lease.release();
    }
  });

  it('a leader that dies (never renews nor releases): followers get `released` by polling once its lease expires', async () => {
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-dead');
    const lease = leaseOf(await a.acquire('k', 400, 20_000));
    const start = Date.now();
    const waits = [waitOf(await a.acquire('k', 400, 20_000)), waitOf(await b.acquire('k', 400, 20_000))];
    // The lease is dropped. No notice is ever published: only a poll, at the lease's end, can wake them.
    const results = await track(waits, start);
    expect(results.map((r) => r.outcome)).toEqual(['released', 'released']);
    for (const r of results) {
      expect(r.afterMs).toBeGreaterThanOrEqual(300);
      expect(r.afterMs).toBeLessThan(3_000); // well before pollInterval (60 s) and maxWaitMs (20 s)
    }
    const next = leaseOf(await b.acquire('k', 400, 20_000));
    expect(next.version).toBeGreaterThan(lease.version);
    expect(await lease.renew(400)).toBe(false);
    await next.release();
  });

  it('keeps following a leader that renews its lease past its first ttl (the polls find it live)', async () => {
    const { a, b } = pair({ pollInterval: '50ms' }, 'sf-renew');
    const lease = leaseOf(await a.acquire('k', 300, 20_000));
    const wait = waitOf(await b.acquire('k', 300, 20_000));
    for (let i = 0; i < 8; i++) {
      await sleep(100);
      expect(await lease.renew(300)).toBe(true);
    }
    expect(await peek(wait)).toBe('pending'); // 800 ms > ttl: still following the renewed lease
    await lease.filled();
    expect(await wait).toBe('filled');
    await lease.release();
  });

  it('a follower that hears nothing resolves `timeout` after maxWaitMs', async () => {
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-timeout');
    const lease = leaseOf(await a.acquire('k', 30_000, 30_000));
    const start = Date.now();
    const results = await track([waitOf(await b.acquire('k', 30_000, 300))], start);
    expect(results[0]?.outcome).toBe('timeout');
    expect(results[0]?.afterMs).toBeGreaterThanOrEqual(250);
    expect(results[0]?.afterMs).toBeLessThan(2_000);
    await lease.release();
  });

  it('clears every timer of a wait once it resolves (injected clock)', async () => {
    const clock = new FakeClock();
    const prefix = uniquePrefix('sf-timers');
    const a = coordinator({ client: clients.client, prefix });
    const b = coordinator({ client: clients.peer, prefix, clock, pollInterval: '1s' });
    const lease = leaseOf(await a.acquire('k', 30_000, 30_000));
    const filledWait = waitOf(await b.acquire('k', 30_000, 5_000));
    expect(clock.pendingTimers).toBe(2); // the key's poll and the wait's timeout
    await lease.filled();
    expect(await filledWait).toBe('filled');
    expect(clock.pendingTimers).toBe(0);

    const timedOut = waitOf(await b.acquire('k', 30_000, 5_000));
    await clock.advance(999);
    expect(await peek(timedOut)).toBe('pending');
    await clock.advance(1); // the poll: the lease is live, polled again in a second
    await waitFor(() => clock.pendingTimers === 2);
    await clock.advance(4_000);
    expect(await timedOut).toBe('timeout');
    expect(clock.pendingTimers).toBe(0);
    await lease.release();
  });

  it('lease versions strictly increase across successive leases of a key: released, expired, and above a live record\'s', async () => {
    const { a, b } = pair({}, 'sf-versions');
    const versions: number[] = [];
    for (let i = 0; i < 20; i++) {
      const lease = leaseOf(await (i % 2 === 0 ? a : b).acquire('k', 10_000, 1_000));
      versions.push(lease.version);
      await lease.release();
    }
    const expiring = leaseOf(await a.acquire('k', 50, 1_000));
    versions.push(expiring.version);
    await sleep(80);
    const afterExpiry = leaseOf(await b.acquire('k', 10_000, 1_000));
    versions.push(afterExpiry.version);
    await afterExpiry.release();
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1] as number);

    // A record still there with a version ahead of TIME (its writer's clock was ahead): the next one is above it.
    const ahead = afterExpiry.version + 3_600_000_000;
    await clients.client.set(a.lockKey('k'), `|${ahead}|0`, 'PX', 60_000);
    const free = leaseOf(await b.acquire('k', 10_000, 1_000));
    expect(free.version).toBe(ahead + 1);
    await clients.client.set(a.lockKey('k'), `someone|${ahead + 10}|1`, 'PX', 60_000); // an expired lease
    const taken = leaseOf(await a.acquire('k', 10_000, 1_000));
    expect(taken.version).toBe(ahead + 11);
    await taken.release();
  });

  it('renew and release of a lost lease return false and leave the new holder alone (no notice either)', async () => {
    const { a, b } = pair({ pollInterval: '60s' }, 'sf-lost');
    const stale = leaseOf(await a.acquire('k', 100, 1_000));
    await sleep(150); // the stale leader stalls past its ttl
    const current = leaseOf(await b.acquire('k', 30_000, 30_000));
    expect(current.version).toBeGreaterThan(stale.version);
    const follower = waitOf(await a.acquire('k', 30_000, 30_000));
    const record = await clients.client.get(b.lockKey('k'));

    expect(await stale.renew(30_000)).toBe(false);
    expect(await stale.release()).toBe(false);
    expect(await clients.client.get(b.lockKey('k'))).toBe(record);
    await sleep(50);
    expect(await peek(follower)).toBe('pending'); // the stale release announced nothing

    expect(await current.renew(30_000)).toBe(true);
    expect(await current.release()).toBe(true);
    expect(await follower).toBe('released');
  });

  it('an expired lease nobody took can be neither renewed nor released', async () => {
    const { a } = pair({}, 'sf-expired');
    const lease = leaseOf(await a.acquire('k', 50, 1_000));
    await sleep(80);
    expect(await lease.renew(10_000)).toBe(false);
    expect(await lease.release()).toBe(false);
    const next = leaseOf(await a.acquire('k', 10_000, 1_000));
    await next.release();
  });

  it('coordinators on different prefixes are independent', async () => {
    const one = coordinator({ client: clients.client, prefix: uniquePrefix('sf-p1'), pollInterval: '60s' });
    const two = coordinator({ client: clients.peer, prefix: uniquePrefix('sf-p2'), pollInterval: '60s' });
    const leaseOne = leaseOf(await one.acquire('k', 30_000, 30_000));
    const leaseTwo = leaseOf(await two.acquire('k', 30_000, 30_000)); // not blocked by the other prefix
    const followerTwo = waitOf(await two.acquire('k', 30_000, 30_000));
    await leaseOne.filled();
    expect(await leaseOne.release()).toBe(true);
    await sleep(50);
    expect(await peek(followerTwo)).toBe('pending');
    await leaseTwo.filled();
    expect(await followerTwo).toBe('filled');
    await leaseTwo.release();
  });

  it('close() resolves pending waits, closes its own subscriber connection only, and rejects later acquires', async () => {
    const name = `sf-close-${Date.now()}`;
    const client = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1, connectionName: name });
    try {
      const prefix = uniquePrefix('sf-close');
      const holder = coordinator({ client: clients.peer, prefix });
      const closing = new RedisSingleFlightCoordinator({ client, prefix, pollInterval: '60s' });
      const lease = leaseOf(await holder.acquire('k', 30_000, 30_000));
      const wait = waitOf(await closing.acquire('k', 30_000, 30_000));
      const named = async () => String(await clients.client.client('LIST')).split('\n').filter((line: string) => line.includes(`name=${name} `)).length;
      expect(await named()).toBe(2); // the client and the coordinator's subscriber (a duplicate: same options)

      await closing.close();
      expect(await wait).toBe('timeout');
      await expect(closing.acquire('k', 30_000, 30_000)).rejects.toMatchObject({ code: 'STACK_CLOSED' });
      await expect(closing.acquire('k', 30_000, 30_000)).rejects.toBeInstanceOf(LayerCacheError);
      expect(await client.ping()).toBe('PONG');
      await waitFor(async () => (await named()) === 1);
      await closing.close(); // idempotent
      await lease.release();
    } finally {
      await client.quit();
    }
  });

  it('validates its options', () => {
    expect(() => new RedisSingleFlightCoordinator({ client: {} as never })).toThrow(/client/);
    expect(() => new RedisSingleFlightCoordinator({ client: clients.client, prefix: '' })).toThrow(/prefix/);
    expect(() => new RedisSingleFlightCoordinator({ client: clients.client, pollInterval: '0ms' })).toThrow(/pollInterval/);
    expect(() => new RedisSingleFlightCoordinator({ client: clients.client, pollInterval: 'soon' as never })).toThrow(/pollInterval/);
  });

  it('rejects invalid ttlMs and maxWaitMs', async () => {
    const { a } = pair({}, 'sf-args');
    await expect(a.acquire('k', 0, 1_000)).rejects.toThrow(/ttlMs/);
    await expect(a.acquire('k', Number.NaN, 1_000)).rejects.toThrow(/ttlMs/);
    await expect(a.acquire('k', 1_000, 0)).rejects.toThrow(/maxWaitMs/);
  });
});

describe('RedisSingleFlightCoordinator when Redis is down', () => {
  it('rejects acquire; waits in progress resolve (never reject); notices work again once Redis is back', async () => {
    const server = await startRedisServer();
    const options = { maxRetriesPerRequest: 1, retryStrategy: () => 50 };
    const client = new Redis(server.url, options);
    const peer = new Redis(server.url, options);
    client.on('error', () => {});
    peer.on('error', () => {});
    try {
      const prefix = uniquePrefix('sf-down');
      const a = coordinator({ client, prefix, pollInterval: '100ms' });
      const b = coordinator({ client: peer, prefix, pollInterval: '100ms' });
      leaseOf(await a.acquire('k', 30_000, 30_000));
      const wait = waitOf(await b.acquire('k', 30_000, 30_000));

      await server.stop();
      const stoppedAt = Date.now();
      expect(await wait).toBe('released'); // a failed poll releases the follower: its stack loads locally
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      await expect(a.acquire('k2', 30_000, 30_000)).rejects.toThrow();
      await expect(b.acquire('k2', 30_000, 30_000)).rejects.toThrow();

      await server.restart(); // an empty server: the old lease is gone
      await waitFor(async () => {
        try {
          await b.acquire('probe', 1, 1);
          return true;
        } catch {
          return false;
        }
      });
      // Give the subscribers a moment to re-subscribe, then check that a notice reaches the other process.
      await waitFor(async () => (await client.pubsub('NUMSUB', a.channel))[1] === 2);
      const lease = leaseOf(await a.acquire('k3', 30_000, 30_000));
      const follower = waitOf(await b.acquire('k3', 30_000, 30_000));
      const slow = coordinator({ client: peer, prefix, pollInterval: '60s' });
      const slowFollower = waitOf(await slow.acquire('k3', 30_000, 30_000));
      await lease.filled();
      expect(await follower).toBe('filled');
      expect(await slowFollower).toBe('filled');
      await lease.release();
    } finally {
      await Promise.all(opened.splice(0).map((c) => c.close()));
      client.disconnect();
      peer.disconnect();
      await server.stop();
    }
  });

  it('a notice lost while the subscriber reconnects is made up for by a poll once it is subscribed again', async () => {
    const server = await startRedisServer();
    const options = { maxRetriesPerRequest: 1, retryStrategy: () => 300 };
    const client = new Redis(server.url, options);
    const peer = new Redis(server.url, options);
    try {
      const prefix = uniquePrefix('sf-resubscribe');
      const a = coordinator({ client, prefix, pollInterval: '60s' });
      const b = coordinator({ client: peer, prefix, pollInterval: '60s' });
      const lease = leaseOf(await a.acquire('k', 30_000, 30_000));
      const wait = waitOf(await b.acquire('k', 30_000, 4_000));
      await client.client('KILL', 'TYPE', 'pubsub'); // this server is ours alone: only the coordinators' subscribers
      expect(await lease.release()).toBe(true); // its `released` notice reaches nobody
      expect(await client.pubsub('NUMSUB', a.channel)).toEqual([a.channel, 0]);
      const start = Date.now();
      expect(await wait).toBe('released');
      expect(Date.now() - start).toBeLessThan(3_000); // not the 4 s maxWaitMs, nor the 60 s poll interval
    } finally {
      await Promise.all(opened.splice(0).map((c) => c.close()));
      await Promise.all([client.quit(), peer.quit()]);
      await server.stop();
    }
  });

  it('a coordinator whose client points to a stopped server rejects acquire, and works once the server is up', async () => {
    const server = await startRedisServer();
    await server.stop();
    // The recommended client settings for a cache: fail fast instead of queueing while disconnected.
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => {});
    try {
      const prefix = uniquePrefix('sf-dead-server');
      const dead = coordinator({ client, prefix, pollInterval: '60s' });
      const started = Date.now();
      await expect(dead.acquire('k', 1_000, 1_000)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);

      // Its first subscription failed; once Redis is up it subscribes and hears notices.
      await server.restart();
      await waitFor(() => client.status === 'ready');
      await waitFor(async () => (await client.pubsub('NUMSUB', dead.channel))[1] === 1);
      const lease = leaseOf(await dead.acquire('k', 30_000, 30_000));
      const follower = waitOf(await dead.acquire('k', 30_000, 30_000));
      await lease.filled();
      expect(await follower).toBe('filled');
      await lease.release();
      await dead.close();
    } finally {
      await client.quit().catch(() => client.disconnect());
      await server.stop();
    }
  });
});
