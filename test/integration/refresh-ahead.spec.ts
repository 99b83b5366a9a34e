/**
 * Refresh-ahead across instances on a real Redis: two "processes" (each its own L1 and connections, one Redis
 * prefix, the invalidation bus and the revalidation lock on Redis) read one hot key steadily over ten ttl periods.
 * Deadlines run on a fake clock shared by both; Redis keeps copies for the milliseconds those deadlines leave.
 */
import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { FakeClock } from '../support/fake-clock.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { eventually } from '../support/wait.js';

const TTL = 10;

describe('refreshAhead on a real Redis, two instances', () => {
  const clients: Redis[] = [];
  const stacks: CacheStack[] = [];

  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });

  function client(): Redis {
    const c = testRedisClient();
    clients.push(c);
    return c;
  }

  async function instance(prefix: string, clock: FakeClock): Promise<CacheStack> {
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: client(), prefix })], {
      clock,
      logger: new RecordingLogger(),
      invalidationBus: new RedisInvalidationBus({ client: client(), prefix }),
    });
    stacks.push(stack);
    await stack.ready();
    return stack;
  }

  async function steadyReads(refreshAhead: number) {
    const prefix = uniquePrefix('ahead');
    const clock = new FakeClock();
    const a = await instance(prefix, clock);
    const b = await instance(prefix, clock);
    let loads = 0;
    const options = { ttl: TTL, refreshAhead };
    const loader = async () => `v${++loads}`;
    const statuses: string[] = [];
    // Ten ttl periods, each instance reading every second.
    for (let second = 0; second < 10 * TTL; second++) {
      for (const stack of [a, b]) statuses.push((await stack.getDetailed('hot', loader, options)).status);
      await Promise.all([a.idle(), b.idle()]);
      // A refresh's announcement reaches the peer through Redis pub/sub: let it land before time moves on.
      const latest = `v${loads}`;
      await eventually(async () => expect(await Promise.all([a.get('hot'), b.get('hot')])).toEqual([latest, latest]));
      await clock.advance(1_000);
    }
    return { statuses, loads, a, b };
  }

  it('with refreshAhead: 0 misses after the first load, 0 stale reads, the loader runs about once per period in the cluster', async () => {
    const { statuses, loads, a, b } = await steadyReads(0.8);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'stale')).toHaveLength(0);
    // First load at 0 s, then one refresh every 8 s over the remaining 99 s: once per cluster, not per instance.
    expect(loads).toBe(1 + Math.floor(99 / 8));
    const sum = (name: 'refreshesAhead' | 'refreshes' | 'refreshesSkipped') => a.getMetrics().stack[name] + b.getMetrics().stack[name];
    // Both instances became due and asked for the key's lease; one refreshed, the other skipped.
    expect(sum('refreshesAhead')).toBe(2 * (loads - 1));
    expect(sum('refreshes')).toBe(loads - 1);
    expect(sum('refreshesSkipped')).toBe(loads - 1);
  });

  it('without it, the key misses once per period', async () => {
    const { statuses, loads } = await steadyReads(0);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(10);
    expect(loads).toBe(10);
  });
});
