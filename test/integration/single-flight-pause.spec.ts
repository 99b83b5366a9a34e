/**
 * Load leases across a Redis pause, on a redis-server of this spec's own (SIGSTOP / SIGCONT: connections stay
 * open, commands wait in Redis and run when it resumes). An acquire the stack gave up on (`layerTimeout`) must
 * not leave a lease nobody owns: the next miss of the key, on another instance, loads at once after recovery
 * instead of following that lease for its whole ttl (`singleFlightLease`, 5 s here).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Duration } from '../../lib/core/duration.js';
import { LOAD_KEY_MARK, RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { answersPing, startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { keysUnder, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { waitFor } from '../support/wait.js';

const quiet = { warn() {}, error() {} };

let server: RedisServerHandle;
let admin: Redis;
const clients: Redis[] = [];
const stacks: CacheStack[] = [];
const coordinators: RedisSingleFlightCoordinator[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterEach(async () => {
  server.resume(); // a failed test may have left it paused
  await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  await Promise.all(coordinators.splice(0).map((coordinator) => coordinator.close()));
  await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => client.disconnect())));
});

afterAll(async () => {
  await admin.quit();
  await server.stop();
});

function client(options: RedisOptions = {}): Redis {
  const created = new Redis(server.url, { maxRetriesPerRequest: 1, ...options });
  clients.push(created);
  return created;
}

/**
 * One instance: L1 + Redis, a Redis coordinator, a 5 s lease, a 200 ms layer timeout. `backoff` is long for
 * the instance that lives through the pause, so that its value never reaches Redis: the other instance's miss
 * then needs the lease.
 */
function instance(prefix: string, backoff: Duration) {
  const redis = client();
  const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: redis, prefix })], {
    logger: new RecordingLogger(),
    layerTimeout: '200ms',
    layerBackoff: backoff,
    singleFlight: new RedisSingleFlightCoordinator({ client: redis, prefix, logger: quiet }),
    singleFlightLease: '5s',
  });
  stacks.push(stack);
  return stack;
}

/** The lease records under `prefix` (SCAN). */
async function leaseRecords(prefix: string): Promise<string[]> {
  return (await keysUnder(admin, prefix + LOAD_KEY_MARK)).map((key) => key.toString());
}

/** The lease records under `prefix` that have an owner (a lease being held). */
async function ownedLeases(prefix: string): Promise<string[]> {
  const owned: string[] = [];
  for (const key of await leaseRecords(prefix)) if (!((await admin.get(key)) ?? '|').startsWith('|')) owned.push(key);
  return owned;
}

/** Both instances connected, subscribed, with the scripts cached, and their warm-up leases released. */
async function warmUp(prefix: string, a: CacheStack, b: CacheStack): Promise<void> {
  expect(await a.get('warm', () => 'a')).toBe('a');
  expect(await b.get('warm', () => 'b')).toMatch(/^[ab]$/); // 'b' when a busy machine made a's write time out
  await waitFor(async () => (await ownedLeases(prefix)).length === 0);
}

async function resumeAndWait(): Promise<void> {
  server.resume();
  await waitFor(() => answersPing(server.port));
}

describe('load leases across a Redis pause (SIGSTOP)', () => {
  it('a cold get during the pause loads locally; after SIGCONT the next miss elsewhere loads at once, no lease left', async () => {
    const prefix = uniquePrefix('sf-pause');
    const a = instance(prefix, '30s');
    const b = instance(prefix, '100ms');
    await warmUp(prefix, a, b);

    server.pause();
    const started = Date.now();
    expect(await a.get('k', () => 'from-a')).toBe('from-a'); // L2 and acquire time out: loaded locally
    expect(Date.now() - started).toBeLessThan(2_000);
    await resumeAndWait();

    let loads = 0;
    const since = Date.now();
    expect(await b.get('k', () => `from-b ${++loads}`)).toBe('from-b 1');
    expect(Date.now() - since).toBeLessThan(1_500); // not after the 5 s lease granted to a's late acquire
    expect(a.getMetrics().singleFlight).toMatchObject({ localFallbacks: 1 }); // a did ask, and gave up
    await waitFor(async () => (await ownedLeases(prefix)).length === 0, 1_000);
  }, 15_000);

  it('500 cold keys during the pause: no lease is left owned after recovery, and every next miss loads at once', async () => {
    const prefix = uniquePrefix('sf-pause-many');
    const a = instance(prefix, '30s');
    const b = instance(prefix, '100ms');
    await warmUp(prefix, a, b);
    const keys = Array.from({ length: 500 }, (_, i) => `cold:${i}`);

    server.pause();
    const values = await Promise.all(keys.map((key) => a.get(key, () => `a:${key}`)));
    expect(values).toEqual(keys.map((key) => `a:${key}`));
    await resumeAndWait();

    const since = Date.now();
    const loaded: string[] = [];
    const fromB = await Promise.all(keys.map((key) => b.get(key, () => (loaded.push(key), `b:${key}`))));
    expect(Date.now() - since).toBeLessThan(2_500);
    expect(fromB).toEqual(keys.map((key) => `b:${key}`));
    expect(loaded.sort()).toEqual([...keys].sort()); // each key loaded once, by b
    await waitFor(async () => (await ownedLeases(prefix)).length === 0, 1_000); // b's releases run just after its gets
  }, 15_000);

  it('an acquire rejected by the client (commandTimeout) while Redis is paused leaves no lease once Redis runs it', async () => {
    const prefix = uniquePrefix('sf-pause-rejected');
    const coordinator = new RedisSingleFlightCoordinator({ client: client({ commandTimeout: 100 }), prefix, logger: quiet });
    const peer = new RedisSingleFlightCoordinator({ client: client(), prefix, logger: quiet, pollInterval: '60s' });
    coordinators.push(coordinator, peer);
    const warm = await coordinator.acquire('warm', 5_000, 1_000);
    if (warm.role === 'leader') await warm.lease.release();

    server.pause();
    await expect(coordinator.acquire('k', 5_000, 1_000)).rejects.toThrow(/timed out/i);
    await resumeAndWait();

    // Redis ran the acquire, then the release of its token sent right after the rejection.
    await waitFor(async () => (await ownedLeases(prefix)).length === 0, 1_000);
    const next = await peer.acquire('k', 5_000, 10_000);
    expect(next.role).toBe('leader');
    if (next.role === 'leader') await next.lease.release();
  });
});
