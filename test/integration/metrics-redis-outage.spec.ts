import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { waitFor } from '../support/wait.js';

/**
 * Honest write counters against a real redis-server stopped mid-test: `setAttempts` counts every write sent to the
 * layer, `sets` only those Redis confirmed; the latency of Redis commands is measured for real.
 */
describe('metrics with Redis stopped', () => {
  let server: RedisServerHandle;
  let client: Redis;
  let stack: CacheStack;

  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    stack = new CacheStack([new MemoryLayer({ name: 'memory' }), new RedisLayer({ client, prefix: `metrics:${Date.now()}:` })], {
      logger: new RecordingLogger(),
      layerTimeout: '200ms',
      layerBackoff: '10s',
    });
  });
  afterAll(async () => {
    await stack.close();
    client.disconnect();
    await server.stop();
  });

  it('counts setAttempts 3 against sets 1 when Redis is down for two of three sets (one failed, one skipped)', async () => {
    await waitFor(() => client.status === 'ready');
    await stack.set('a', 1);
    expect(stack.getMetrics().layers['redis']).toMatchObject({ setAttempts: 1, sets: 1, errors: 0 });
    await server.stop();
    await waitFor(() => client.status !== 'ready');
    await stack.set('b', 2); // fails: the back-off window opens
    await stack.set('c', 3); // skipped in the window
    const redis = stack.getMetrics().layers['redis'];
    expect(redis).toMatchObject({ setAttempts: 3, sets: 1, errors: 1, skipped: 1 });
    expect(stack.getMetrics().layers['memory']).toMatchObject({ setAttempts: 3, sets: 3 });
    // The confirmed and the failed writes were timed (the skipped one was not), with real durations.
    expect(redis?.latency.set.count).toBe(2);
    expect(redis?.latency.set.sum).toBeGreaterThan(0);
    expect(redis?.latency.set.buckets.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
