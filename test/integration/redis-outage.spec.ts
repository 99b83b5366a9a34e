import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { encodeEntry } from '../../lib/core/entry-codec.js';
import type { CacheEntry } from '../../lib/core/entry.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { waitFor } from '../support/wait.js';

/** A fresh entry for a minute from now (real clock: this test runs against a real server). */
function buildEntry(value: unknown): CacheEntry {
  const now = Date.now();
  return { value, createdAt: now, freshUntil: now + 60_000, staleUntil: now + 60_000, errorUntil: now + 60_000, tags: undefined, tagVersions: undefined, version: 1 };
}

/**
 * Redis stopped mid-test, for real: its own redis-server process, stopped and restarted on the same port.
 * Reads keep answering through the loader; once Redis is back, caching through it resumes.
 */
describe('Redis outage', () => {
  let server: RedisServerHandle;
  let client: Redis;
  let stack: CacheStack;
  let l1: MemoryLayer;
  let logger: RecordingLogger;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  beforeEach(() => {
    // The recommended client settings for a cache: fail fast instead of queueing while disconnected.
    client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    l1 = new MemoryLayer();
    logger = new RecordingLogger();
    stack = new CacheStack([l1, new RedisLayer({ client, prefix: 'outage:' })], {
      logger,
      layerTimeout: '200ms',
      layerBackoff: '100ms',
    });
  });
  afterEach(async () => {
    await stack.close();
    client.disconnect();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('reads keep answering through the loader while Redis is down, and caching resumes once it is back', async () => {
    await waitFor(() => client.status === 'ready');
    let loads = 0;
    const loader = () => `value ${++loads}`;
    expect(await stack.get('k', loader)).toBe('value 1');
    await server.stop();

    for (let i = 0; i < 10; i++) {
      l1.delete(['k']);
      const started = Date.now();
      expect(await stack.get('k', loader)).toMatch(/^value \d+$/);
      expect(Date.now() - started).toBeLessThan(2_000); // bounded by layerTimeout, never the OS's TCP timeout
    }
    expect(stack.getMetrics().layers['redis']?.errors).toBeGreaterThan(0);
    expect(logger.lines.filter((l) => l.message.includes('Layer "redis" failed'))).toHaveLength(1);

    await server.restart();
    await waitFor(() => client.status === 'ready');
    // Once the back-off window passes, a write goes through to Redis and another instance reads it.
    await waitFor(async () => {
      await stack.set('after', 'cached again');
      return (await client.exists('outage:after')) === 1;
    });
    const other = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix: 'outage:' })], { logger });
    expect(await other.get('after', () => 'not from cache')).toBe('cached again');
    await other.close();
    expect(logger.lines.some((l) => l.message.includes('recovered after'))).toBe(true);
  });

  it('a tag invalidation made while the connection was lost reaches Redis when it is back', async () => {
    await waitFor(() => client.status === 'ready');
    await stack.set('user:1', 'before', { tags: ['user:1'] });
    // The connection drops (the server keeps its data, as a persistent Redis or a network split would).
    client.disconnect();
    await waitFor(() => client.status === 'end');
    await stack.invalidateByTag('user:1');
    expect(await stack.get('user:1')).toBeUndefined(); // this process stops serving it at once
    await client.connect();
    // Another instance with an empty L1 must not get the invalidated value from L2, once the probe after the
    // back-off window has let the replay run.
    const observer = new Redis(server.url);
    try {
      await waitFor(async () => {
        await stack.get('probe');
        await stack.idle();
        const other = new CacheStack([new MemoryLayer(), new RedisLayer({ client: observer, prefix: 'outage:' })], { logger });
        const seen = await other.get('user:1');
        await other.close();
        return seen === undefined;
      });
    } finally {
      observer.disconnect();
    }
  });

  it('once Redis is back, the probe closes a long back-off window and the first get after it reaches Redis', async () => {
    const probed = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix: 'outage:' })], {
      logger,
      layerTimeout: '200ms',
      layerBackoff: '30s', // without the probe, Redis would stay unused for 30 s after the failure
    });
    try {
      await waitFor(() => client.status === 'ready');
      await server.stop();
      expect(await probed.get('during', () => 'from source')).toBe('from source'); // fails: the 30 s window opens
      expect(probed.getMetrics().layers['redis']?.errors).toBe(1);

      await server.restart();
      const observer = new Redis(server.url);
      try {
        // Written by another instance once Redis is back (the restarted server is empty).
        await observer.set('outage:after', encodeEntry(buildEntry('from Redis'), new MsgpackSerializer()));
      } finally {
        observer.disconnect();
      }
      // The recovery is logged by the probe that closes the window: within a few probe intervals of the
      // client reconnecting (generous bound for a busy machine; far below the 30 s window).
      await waitFor(() => logger.lines.some((l) => l.message.includes('layer redis recovered after')), 5_000);
      const before = { ...probed.getMetrics().layers['redis'] };
      expect(await probed.get('after', () => 'from source')).toBe('from Redis');
      const after = probed.getMetrics().layers['redis'];
      expect(after?.hits).toBe((before.hits ?? 0) + 1);
      expect(after?.skipped).toBe(before.skipped);
    } finally {
      await probed.close();
    }
  });

  it('a Redis that hangs (SIGSTOP) and resumes (SIGCONT) is probed through its timeouts and used again once it answers', async () => {
    const memory = new MemoryLayer();
    const probed = new CacheStack([memory, new RedisLayer({ client, prefix: 'outage:' })], {
      logger,
      layerTimeout: '200ms',
      layerBackoff: '30s', // without the probe, Redis would stay unused for 30 s after the timeout
    });
    try {
      await waitFor(() => client.status === 'ready');
      await probed.set('kept', 'from Redis'); // a paused server keeps its data
      const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGSTOP');
      try {
        expect(await probed.get('cold', () => 'from source')).toBe('from source'); // times out: the window opens
        expect(probed.getMetrics().layers['redis']?.errors).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // probes time out meanwhile, one at a time
        expect(logger.lines.some((l) => l.message.includes('recovered after'))).toBe(false);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await waitFor(() => logger.lines.some((l) => l.message.includes('layer redis recovered after')), 5_000);
      memory.delete(['kept']);
      const before = { ...probed.getMetrics().layers['redis'] };
      expect(await probed.get('kept', () => 'from source')).toBe('from Redis');
      const after = probed.getMetrics().layers['redis'];
      expect(after?.hits).toBe((before.hits ?? 0) + 1);
      expect(after?.skipped).toBe(before.skipped);
      expect(after?.errors).toBe(1); // failed probes are not counted
    } finally {
      await probed.close();
    }
  });

  it('a stack created while Redis is down serves from the loader and L1', async () => {
    await server.stop();
    try {
      let loads = 0;
      expect(await stack.get('k', () => ++loads)).toBe(1);
      expect(await stack.get('k', () => ++loads)).toBe(1); // L1 still caches
    } finally {
      await server.restart();
    }
  });
});

