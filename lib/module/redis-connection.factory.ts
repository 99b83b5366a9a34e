/**
 * Connections the `redis` shortcut opens (and so owns): ioredis is an optional peer, loaded here with a
 * dynamic `import()` only when the shortcut is given a URL or `RedisOptions`; nothing else in lib/ loads it.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../core/errors.js';
import { BurstLogger, type CacheLogger } from '../core/logger.js';
import { DEFAULT_LAYER_CACHE_REDIS_OPTIONS } from './layer-cache.options.js';

/** Longest wait for Redis to answer QUIT before the connection is dropped instead, in milliseconds. */
const REDIS_QUIT_TIMEOUT_MS = 1000;

/** Longest wait for a closed connection to report `end`, in milliseconds. */
const REDIS_END_TIMEOUT_MS = 1000;

/**
 * Opens a connection with {@link DEFAULT_LAYER_CACHE_REDIS_OPTIONS} under the caller's options and waits for
 * its first connection attempt (ready or failed, bounded by ioredis' `connectTimeout`), so the first cache
 * calls do not fail on a socket still connecting. A failed attempt does not fail startup: ioredis keeps
 * reconnecting and the stack answers from its other layers meanwhile. Connection errors are logged once
 * per burst.
 */
export async function openRedisConnection(target: string | RedisOptions, logger: CacheLogger): Promise<Redis> {
  let RedisClass: typeof Redis;
  try {
    ({ Redis: RedisClass } = await import('ioredis'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidOptionError('redis', `needs the optional peer dependency ioredis (npm install ioredis): ${reason}`);
  }
  const client =
    typeof target === 'string'
      ? new RedisClass(target, { ...DEFAULT_LAYER_CACHE_REDIS_OPTIONS })
      : new RedisClass({ ...DEFAULT_LAYER_CACHE_REDIS_OPTIONS, ...target });
  const log = new BurstLogger(logger);
  client.on('error', (error: unknown) => log.failure('redis connection', 'The Redis connection of LayerCacheModule failed', error));
  client.on('ready', () => log.success('redis connection'));
  await firstConnectionAttempt(client);
  return client;
}

/**
 * Closes a connection the module opened: QUIT (pending replies are read) when it is ready, else (or when
 * QUIT fails or takes longer than {@link REDIS_QUIT_TIMEOUT_MS}) `disconnect()`; then waits for `end`.
 */
export async function closeRedisConnection(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  if (client.status === 'ready') {
    const quit = client.quit().then(
      () => true,
      () => false,
    );
    if (!(await within(quit, REDIS_QUIT_TIMEOUT_MS, false))) client.disconnect();
  } else {
    client.disconnect();
  }
  // A client waiting to reconnect has no socket left to close: ioredis cancels the retry but never emits 'end'.
  if (client.status === 'reconnecting') return;
  await within(ended, REDIS_END_TIMEOUT_MS, undefined);
}

/** Resolves at the first 'ready', 'error' or 'end' of a connecting client (at once when it is not connecting). */
function firstConnectionAttempt(client: Redis): Promise<void> {
  if (client.status !== 'connecting' && client.status !== 'connect') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      client.off('ready', done);
      client.off('error', done);
      client.off('end', done);
      resolve();
    };
    client.on('ready', done);
    client.on('error', done);
    client.on('end', done);
  });
}

/** `promise`'s value, or `fallback` after `ms` milliseconds; the timer is cleared either way. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
