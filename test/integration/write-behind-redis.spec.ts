/**
 * Write-behind and strict writes against a real redis-server: a writer process killed (SIGKILL) after its sets
 * loses at most the last flush interval of them; a stack's `close()` flushes; strict writes with Redis stopped
 * reject with `WriteFailedError` and leave no value in L1.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { WriteFailedError } from '../../lib/core/errors.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { sleep, waitFor } from '../support/wait.js';

const FLUSH_MS = 200;

/** Whether `key` exists, asked on a connection of its own. */
async function check(server: RedisServerHandle, key: string): Promise<number> {
  const client = new Redis(server.url);
  try {
    return await client.exists(key);
  } finally {
    client.disconnect();
  }
}
/** What a flush may take beyond its interval on a busy test machine: the pipeline's round trip, a late timer. */
const FLUSH_SLACK_MS = 150;

describe('write-behind on a real Redis', () => {
  let server: RedisServerHandle;
  let client: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  it('a writer killed after its sets loses only the sets of its last flush interval: every older one is in Redis', async () => {
    await client.flushall();
    const here = dirname(fileURLToPath(import.meta.url));
    const child = fork(join(here, '../support/write-behind-writer.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, WRITER_REDIS_URL: server.url, WRITER_FLUSH_MS: String(FLUSH_MS), WRITER_EVERY_MS: '5' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const acknowledged: { i: number; at: number; batches: number }[] = [];
    child.on('message', (message: { i?: number; at?: number; batches?: number }) => {
      if (message.i !== undefined && message.at !== undefined) acknowledged.push({ i: message.i, at: message.at, batches: message.batches ?? -1 });
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(() => acknowledged.length >= 150, 30_000, 5);
    await sleep(FLUSH_MS / 2 + Math.random() * FLUSH_MS); // anywhere within a flush interval
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited;

    const stored = new Set<number>();
    for (const { i } of acknowledged) if ((await client.exists(`wb:k${i}`)) === 1) stored.add(i);
    const lost = acknowledged.filter(({ i }) => !stored.has(i));
    // Everything acknowledged more than one flush interval (and a flush's own time) before the kill reached Redis...
    const lostTooOld = lost.filter(({ at }) => killedAt - at > FLUSH_MS + FLUSH_SLACK_MS).map(({ i, at }) => ({ i, ageMs: killedAt - at }));
    expect(lostTooOld).toEqual([]);
    // ...and what was lost is a tail: no older set is missing while a newer one was flushed.
    const firstLost = lost[0]?.i ?? Number.POSITIVE_INFINITY;
    expect(acknowledged.filter(({ i }) => i > firstLost && stored.has(i)).map(({ i }) => i)).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(100);
    // The sets went to Redis in batches (one pipeline per flush interval), not one by one.
    const batches = acknowledged.at(-1)?.batches ?? -1;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(acknowledged.length / 5);
  }, 60_000);

  it('close() flushes the queue to Redis', async () => {
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix: 'wbclose:' })], { writeBehind: { flushInterval: '1h' } });
    await stack.setMany([1, 2, 3].map((i) => ({ key: `k${i}`, value: i })));
    expect(await client.exists('wbclose:k1')).toBe(0);
    await stack.close();
    expect(await client.exists('wbclose:k1', 'wbclose:k2', 'wbclose:k3')).toBe(3);
  });

  it('200 sets within one interval reach Redis in one batch', async () => {
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix: 'wbbatch:' })], { writeBehind: { flushInterval: '50ms', maxBatch: 1_000 } });
    for (let i = 0; i < 200; i++) await stack.set(`k${i}`, i);
    expect(stack.getMetrics().writeBehind?.batches).toBe(0);
    await waitFor(() => stack.getMetrics().writeBehind?.pending === 0);
    expect(stack.getMetrics().writeBehind).toMatchObject({ queued: 200, flushed: 200, batches: 1 });
    expect(await client.exists(...Array.from({ length: 200 }, (_, i) => `wbbatch:k${i}`))).toBe(200);
    await stack.close();
  });
});

describe("writePolicy: 'strict' with Redis stopped", () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('a set rejects with WriteFailedError naming redis and leaves no value in L1; once Redis is back, sets resolve', async () => {
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    const l1 = new MemoryLayer();
    const stack = new CacheStack([l1, new RedisLayer({ client, prefix: 'strict:' })], {
      writePolicy: 'strict',
      layerTimeout: '200ms',
      layerBackoff: '100ms',
      logger: new RecordingLogger(),
    });
    await waitFor(() => client.status === 'ready');
    await stack.set('k', 'before');
    await server.stop();

    const error = await stack.set('k', 'during').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteFailedError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED', layer: 'redis', operation: 'set', keys: ['k'] });
    expect(l1.get('k')).toBeUndefined();
    await expect(stack.setMany([{ key: 'a', value: 1 }])).rejects.toMatchObject({ layer: 'redis', keys: ['a'] });
    expect(l1.get('a')).toBeUndefined();
    await expect(stack.delete('k')).rejects.toMatchObject({ layer: 'redis', operation: 'delete' });

    await server.restart();
    await waitFor(() => client.status === 'ready');
    await waitFor(async () => (await stack.set('probe', 1).then(() => true, () => false)));
    await stack.idle(); // the recovery replays the deletes the outage left owed (the failed set of k, the failed delete)
    expect(await check(server, 'strict:k')).toBe(0);
    await stack.set('k', 'after');
    expect(await stack.get('k')).toBe('after');
    expect(await check(server, 'strict:k')).toBe(1);
    await stack.close();
    client.disconnect();
  }, 30_000);
});
