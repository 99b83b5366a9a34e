/**
 * The helpers every Redis piece shares: the ioredis client type (imported for types only: ioredis is an optional
 * peer), duck-typed checks of a client and a prefix, glob escaping, pipeline replies, Lua scripts by EVALSHA.
 * Hard part: EVALSHA falls back to EVAL when the server has not cached the script (a restart, a new node).
 */
import type { Cluster, Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../core/errors.js';

/**
 * An ioredis client: a `Redis` connection or a `Cluster`. ioredis is an optional peer, so it is imported
 * for its types only; the library loads without it installed.
 *
 * Redis Cluster: every key one command touches must hash to one slot. The tag store and the revalidation lock
 * touch one key per command (or script), so their keys spread over the slots. `RedisLayer` splits its bulk commands (`getMany`, `setMany`, `delete`, `clear`) by
 * hash slot on a Cluster: one command (or pipeline) per slot, sent in parallel; give the layer's prefix a
 * hash tag (e.g. `'{lc}:'`) to pin all its keys to one slot, which makes each bulk call one command again.
 */
export type RedisClient = Redis | Cluster;

/** Whether `client` is an ioredis `Cluster` (its `isCluster` flag, or a `nodes()` method, which `Redis` lacks). */
export function isRedisCluster(client: RedisClient): client is Cluster {
  return client.isCluster === true || typeof (client as Partial<Cluster>).nodes === 'function';
}

/** Checks that `client` looks like an ioredis client (duck-typed: no runtime import of ioredis). */
export function checkRedisClient(option: string, client: unknown): RedisClient {
  const candidate = client as Partial<Record<'getBuffer' | 'mgetBuffer' | 'pipeline' | 'evalsha', unknown>> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.getBuffer !== 'function' ||
    typeof candidate.mgetBuffer !== 'function' ||
    typeof candidate.pipeline !== 'function' ||
    typeof candidate.evalsha !== 'function'
  ) {
    throw new InvalidOptionError(option, 'expected an ioredis client (`new Redis(...)` or `new Cluster(...)`)');
  }
  return client as RedisClient;
}

/** Checks a key prefix: a non-empty string (an empty prefix would make `clear()` wipe the whole database). */
export function checkRedisPrefix(option: string, prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new InvalidOptionError(option, `expected a non-empty string, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** Escapes the glob metacharacters of Redis `MATCH` / `KEYS` patterns so `text` matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, '\\$&');
}

/** Throws the first error of an ioredis pipeline result, else returns the replies in order. */
export function pipelineReplies(results: [error: Error | null, reply: unknown][] | null): unknown[] {
  if (results === null) throw new Error('Redis pipeline was discarded');
  const replies = new Array<unknown>(results.length);
  for (let i = 0; i < results.length; i++) {
    const [error, reply] = results[i] as [Error | null, unknown];
    if (error !== null) throw error;
    replies[i] = reply;
  }
  return replies;
}

/** A Lua script with its SHA-1, for EVALSHA. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** Prepares `source` for {@link runScript}. */
export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs `script` by EVALSHA, falling back to EVAL when the server does not have it cached (`NOSCRIPT`: first
 * use on that server, or after a restart or SCRIPT FLUSH); EVAL caches it for the next EVALSHA.
 */
export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.source, keys.length, ...keys, ...args);
  }
}
