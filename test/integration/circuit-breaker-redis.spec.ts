/**
 * Circuit breakers with two stacks sharing a real Redis (RedisLayer + distributed single-flight): circuits are per
 * process — each counts the loader runs it made itself, so one process's open circuit neither opens the other's
 * nor stops it from reading what the other loaded.
 */
import { CircuitOpenError } from '../../lib/core/errors.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';

const clients = useTwoTestClients();
const quiet = { warn() {}, error() {} };

const opened: CacheStack[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((stack) => stack.close()));
});

/** Two processes' stacks on one prefix, each with its own connection, coordinator and breaker. */
function twoProcesses(label: string) {
  const prefix = uniquePrefix(label);
  const [a, b] = [clients.client, clients.peer].map(
    (client) =>
      new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
        logger: new RecordingLogger(),
        singleFlight: new RedisSingleFlightCoordinator({ client, prefix, logger: quiet }),
        circuitBreaker: { failureThreshold: 2, window: 60, cooldown: 60 },
      }),
  ) as [CacheStack, CacheStack];
  opened.push(a, b);
  return { a, b };
}

const down = () => Promise.reject(new Error('upstream down'));

describe('circuitBreaker with two stacks sharing Redis and distributed single-flight', () => {
  it("counts this process's loader failures only: A opens after its own two, B (one failure) still loads", async () => {
    const { a, b } = twoProcesses('cb-per-process');
    await expect(a.get('k1', down)).rejects.toThrow('upstream down');
    await expect(b.get('k2', down)).rejects.toThrow('upstream down');
    await expect(a.get('k3', down)).rejects.toThrow('upstream down'); // A's second failure: A's circuit opens
    expect(a.getMetrics().stack).toMatchObject({ circuitOpens: 1, openCircuits: 1 });
    expect(b.getMetrics().stack).toMatchObject({ circuitOpens: 0, openCircuits: 0, loadErrors: 1 });

    let calls = 0;
    const up = () => `v${++calls}`;
    await expect(a.get('k4', up)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(0);
    expect(await b.get('k4', up)).toBe('v1'); // B's circuit is closed: B loads, and stores in Redis
    // A needs no loader for a key a peer loaded: its open circuit does not stop the read.
    expect(await a.get('k4', up)).toBe('v1');
    expect(calls).toBe(1);
    expect(a.getMetrics().stack.circuitRejections).toBe(1);
  });

  it('a failed load is counted by the process that ran it, not by the peer that waited for it (which then loads itself)', async () => {
    const { a, b } = twoProcesses('cb-one-run');
    let calls = 0;
    let fail!: (error: Error) => void;
    const held = () => {
      calls++;
      return new Promise<string>((_, reject) => {
        fail = reject;
      });
    };
    const first = a.get('hot', held).catch((e: unknown) => e);
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve)); // A holds the lease and runs its loader
    let followerCalls = 0;
    const second = b.get('hot', () => {
      followerCalls++;
      return 'from B';
    });
    while ((b.getMetrics().singleFlight?.follows ?? 0) === 0) await new Promise((resolve) => setImmediate(resolve)); // B follows A's lease
    expect(followerCalls).toBe(0);
    fail(new Error('upstream down'));
    expect(await first).toMatchObject({ message: 'upstream down' });
    // B waited for A's load; A released the lease without a value, so B ran its own loader (its circuit is closed).
    expect(await second).toBe('from B');
    expect(calls).toBe(1);
    expect(followerCalls).toBe(1);
    expect(a.getMetrics().stack.loadErrors).toBe(1);
    expect(b.getMetrics().stack.loadErrors).toBe(0);
    // A's second failure of its own opens A's circuit; B, which only waited for A's failed run, stays closed.
    await expect(a.get('k2', down)).rejects.toThrow('upstream down');
    await expect(a.get('k3', () => 'v')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(await b.get('k3', () => 'v')).toBe('v');
    expect(b.getMetrics().stack.openCircuits).toBe(0);
  });
});
