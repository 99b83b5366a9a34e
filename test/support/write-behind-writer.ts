/**
 * A child process for test/integration/write-behind-redis.spec.ts: a `CacheStack([MemoryLayer, RedisLayer])` with
 * `writeBehind`, setting `wb:<i>` every few milliseconds and reporting each resolved set to its parent over IPC
 * (`{ i, at, batches }`: `at` = Date.now() when the set resolved, `batches` its flushes so far) until the parent kills it (SIGKILL: no shutdown, no flush).
 * Started with `node --import tsx`. Environment: WRITER_REDIS_URL, WRITER_FLUSH_MS, WRITER_EVERY_MS.
 */
import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';

const url = process.env['WRITER_REDIS_URL'];
if (url === undefined) throw new Error('WRITER_REDIS_URL is not set');
const flushMs = Number(process.env['WRITER_FLUSH_MS'] ?? '200');
const everyMs = Number(process.env['WRITER_EVERY_MS'] ?? '5');

const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
await new Promise<void>((resolve) => client.once('ready', () => resolve()));
const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix: 'wb:' })], {
  writeBehind: { flushInterval: `${flushMs}ms`, maxBatch: 10_000, maxQueue: 100_000 },
  logger: { warn: () => undefined, error: () => undefined },
});
const send = (message: unknown): void => void process.send?.(message);
send({ ready: true });
for (let i = 0; ; i++) {
  await stack.set(`k${i}`, i);
  send({ i, at: Date.now(), batches: stack.getMetrics().writeBehind?.batches ?? -1 });
  await new Promise<void>((resolve) => setTimeout(resolve, everyMs));
}
