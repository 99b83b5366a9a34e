/**
 * The load-lease record's lifetime and fencing on a real Redis: a release deletes the record, a lease that ends
 * unreleased leaves it a few seconds (its successor's version is fenced above it), versions are at least the
 * caller's floor (its write clock), and an acquire resent with the token of the live lease gets that lease back.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../../lib/core/errors.js';
import type { LoadLease, LoadTicket } from '../../lib/core/load-coordinator.js';
import { ACQUIRE_LEASE, parseAcquireReply } from '../../lib/redis/redis-load.lease.js';
import { ENDED_LEASE_MEMORY_MS, LOAD_KEY_MARK, RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { runScript } from '../../lib/redis/redis-client.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { keysUnder, uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { sleep, waitFor } from '../support/wait.js';

const clients = useTwoTestClients();
const quiet = { warn() {}, error() {} };

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((closable) => closable.close()));
});

function coordinator(prefix: string, peer = false): RedisSingleFlightCoordinator {
  const created = new RedisSingleFlightCoordinator({ client: peer ? clients.peer : clients.client, prefix, logger: quiet });
  opened.push(created);
  return created;
}

function leaseOf(ticket: LoadTicket): LoadLease {
  if (ticket.role !== 'leader') throw new Error('expected the leader ticket');
  return ticket.lease;
}

/** The lease records under `prefix` (SCAN). */
async function leaseRecords(prefix: string): Promise<string[]> {
  return (await keysUnder(clients.client, prefix + LOAD_KEY_MARK)).map((key) => key.toString());
}

describe('load-lease records on a real Redis', () => {
  it('a miss through a stack leaves no lease record once its lease is released', async () => {
    const prefix = uniquePrefix('lease-gone');
    const stacks = [clients.client, clients.peer].map(
      (client) =>
        new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
          logger: new RecordingLogger(),
          singleFlight: new RedisSingleFlightCoordinator({ client, prefix, logger: quiet }),
        }),
    );
    opened.push(...stacks);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const values = await Promise.all(keys.flatMap((key) => stacks.map((stack) => stack.get(key, () => `v:${key}`))));
    expect(values).toEqual(keys.flatMap((key) => [`v:${key}`, `v:${key}`]));
    expect(stacks.map((stack) => stack.getMetrics().singleFlight?.leads ?? 0).reduce((x, y) => x + y)).toBe(20);
    // The releases run in the background right after each get: the records go with them, not a minute later.
    await waitFor(async () => (await leaseRecords(prefix)).length === 0, 2_000);
    expect((await keysUnder(clients.client, prefix)).length).toBe(20); // the entries alone
  });

  it('2,000 cold keys at once, the event loop stalled past layerTimeout: no lease is left owned once all are served', async () => {
    const prefix = uniquePrefix('lease-burst');
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: clients.client, prefix })], {
      logger: new RecordingLogger(),
      layerTimeout: '20ms', // shorter than the stall of 2,000 gets started at once
      singleFlight: new RedisSingleFlightCoordinator({ client: clients.client, prefix, logger: quiet }),
    });
    opened.push(stack);
    expect(await stack.get('warm', () => 'w')).toBe('w');
    const keys = Array.from({ length: 2_000 }, (_, i) => `burst:${i}`);
    const values = await Promise.all(keys.map((key) => stack.get(key, () => `v:${key}`)));
    expect(values).toEqual(keys.map((key) => `v:${key}`));
    await waitFor(async () => {
      const records = await leaseRecords(prefix);
      const owners = await Promise.all(records.map((key) => clients.client.get(key)));
      return owners.every((record) => record === null || record.startsWith('|'));
    }, 2_000);
  }, 20_000);

  it('a lease that ends unreleased leaves its record 5 s past its end (PTTL), so its successor gets the next version', async () => {
    const prefix = uniquePrefix('lease-ended');
    const a = coordinator(prefix);
    const lease = leaseOf(await a.acquire('k', 300, 1_000, Number.MAX_SAFE_INTEGER - 10)); // a version far ahead of TIME
    const pttl = await clients.client.pttl(a.lockKey('k'));
    expect(pttl).toBeGreaterThan(ENDED_LEASE_MEMORY_MS);
    expect(pttl).toBeLessThanOrEqual(300 + ENDED_LEASE_MEMORY_MS);
    expect(await lease.renew(400)).toBe(true);
    expect(await clients.client.pttl(a.lockKey('k'))).toBeGreaterThan(300 + ENDED_LEASE_MEMORY_MS);
    await sleep(450); // its holder "died": the lease ended unreleased, its record stays a few seconds
    const next = leaseOf(await coordinator(prefix, true).acquire('k', 10_000, 1_000));
    expect(next.version).toBe(lease.version + 1); // fenced above the ended lease, though far ahead of TIME
    expect(await next.release()).toBe(true);
    expect(await leaseRecords(prefix)).toEqual([]);
  });

  it("a lease's version is max(TIME, the caller's floor); a floor that is not a safe integer of µs is rejected", async () => {
    const prefix = uniquePrefix('lease-floor');
    const a = coordinator(prefix);
    const serverTime = async () => {
      const [seconds, micros] = await clients.client.time();
      return Number(seconds) * 1_000_000 + Number(micros);
    };
    const ahead = (await serverTime()) + 3_600_000_000; // the write clock of a process an hour ahead
    const first = leaseOf(await a.acquire('k', 10_000, 1_000, ahead));
    expect(first.version).toBe(ahead);
    expect(await first.release()).toBe(true);
    const before = await serverTime();
    const second = leaseOf(await a.acquire('k', 10_000, 1_000, 1_000)); // a floor behind TIME: TIME
    expect(second.version).toBeGreaterThanOrEqual(before);
    expect(second.version).toBeLessThan(ahead);
    expect(await second.release()).toBe(true);
    for (const floor of [-1, 1.5, Number.NaN, 2 ** 53]) {
      await expect(a.acquire('k', 10_000, 1_000, floor)).rejects.toThrow(InvalidOptionError);
    }
    expect(await leaseRecords(prefix)).toEqual([]);
  });

  it('an acquire resent with the token of the live lease gets that lease back (a reply lost on a reconnection)', async () => {
    const prefix = uniquePrefix('lease-resent');
    const a = coordinator(prefix);
    const token = randomBytes(16).toString('base64url');
    const run = async (withToken: string) => parseAcquireReply(await runScript(clients.client, ACQUIRE_LEASE, [a.lockKey('k')], [withToken, 10_000, 0, ENDED_LEASE_MEMORY_MS]));
    const [taken, version] = await run(token);
    expect(taken).toBe(true);
    expect(await run(token)).toEqual([true, version]); // the same lease, not "follow yourself"
    const [other, left] = await run('someone-else');
    expect(other).toBe(false);
    expect(left).toBeGreaterThan(9_000);
  });
});
