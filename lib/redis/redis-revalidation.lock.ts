/**
 * `RedisRevalidationLock`: a once-per-cluster lease for stale-while-revalidate refreshes, one key per entry key
 * (`SET NX PX`), renewed and released by owner-checking Lua scripts.
 * Hard part: a lease that expired and was taken by a peer is never extended or deleted by its old holder.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_REDIS_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import type { LockLease, RevalidationLock } from '../core/revalidation-lock.js';
import { checkRedisClient, checkRedisPrefix, luaScript, runScript, type RedisClient } from './redis-client.js';

/** Options of {@link RedisRevalidationLock}. */
export interface RedisRevalidationLockOptions {
  /** The ioredis client (`Redis` or `Cluster`); never closed by the lock. */
  client: RedisClient;
  /** Prefix of the lock's keys; locks sharing a prefix exclude each other. @default 'lc:' */
  prefix?: string;
}

/** Defaults of {@link RedisRevalidationLockOptions}. */
export const DEFAULT_REDIS_REVALIDATION_LOCK_OPTIONS = Object.freeze({ prefix: 'lc:' });

/** The option names of `RedisRevalidationLock` (checked: an unknown one is an `InvalidOptionError` naming it). */
const REDISREVALIDATIONLOCK_OPTION_NAMES = ['client', 'prefix'] as const satisfies readonly (keyof RedisRevalidationLockOptions)[];
// Every option of the interface is listed (a missing one is a type error here).
const REDISREVALIDATIONLOCK_NAMES_LISTED: AllListed<RedisRevalidationLockOptions, (typeof REDISREVALIDATIONLOCK_OPTION_NAMES)[number]> = true;
void REDISREVALIDATIONLOCK_NAMES_LISTED;

/**
 * Marks the lock's keys right after the prefix. Like the tag store's `\x1ftags:`, U+001F cannot start a key
 * the stack writes, so a lock key never collides with an entry (nor with a tag key), and `RedisLayer.clear()`
 * leaves it alone. No hash tag: each command touches one key, so locks spread over a Redis Cluster.
 */
export const LOCK_KEY_MARK = '\u001flock:';

/** Extends the lease (ARGV[2] ms) only if ARGV[1] still owns it: 1, else 0. */
const RENEW = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/** Deletes the lease only if ARGV[1] still owns it: 1, else 0. */
const RELEASE = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

/**
 * The distributed revalidation lock (see `RevalidationLock` in core), one Redis key per locked entry key:
 * `<prefix>\x1flock:<key>` holding a random owner token.
 *
 * - `acquire` = `SET key token PX ttl NX` (one round trip; atomic);
 * - `renew` = a Lua compare-and-PEXPIRE, `release` = a Lua compare-and-DEL (EVALSHA, falling back to EVAL
 *   when the server has not cached the script): a lease that expired and was taken by a peer is never
 *   extended or deleted by its old holder.
 *
 * The lock has no timeouts or retries of its own: the stack guards it with the shared layer's command
 * timeout and back-off, and refreshes locally when it fails.
 */
export class RedisRevalidationLock implements RevalidationLock {
  readonly shared = true;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly keyStart: string;

  constructor(options: RedisRevalidationLockOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('RedisRevalidationLock', 'expected an options object: new RedisRevalidationLock({ client })');
    }
    checkOptionKeys(options, REDISREVALIDATIONLOCK_OPTION_NAMES, { at: 'RedisRevalidationLock', renamed: FOREIGN_REDIS_OPTIONS });
    this.client = checkRedisClient('RedisRevalidationLock.client', options.client);
    this.prefix = checkRedisPrefix('RedisRevalidationLock.prefix', options.prefix ?? DEFAULT_REDIS_REVALIDATION_LOCK_OPTIONS.prefix);
    this.keyStart = this.prefix + LOCK_KEY_MARK;
  }

  /** The Redis key of the lease on `key`. */
  lockKey(key: string): string {
    return this.keyStart + key;
  }

  async acquire(key: string, ttlMs: number): Promise<LockLease | undefined> {
    const redisKey = this.lockKey(key);
    const token = randomBytes(16).toString('base64url');
    const reply = await this.client.set(redisKey, token, 'PX', toPx(ttlMs), 'NX');
    return reply === 'OK' ? new RedisLease(this.client, key, redisKey, token) : undefined;
  }

  /** Does nothing: the client belongs to whoever created it. */
  /** PING on the client: the stack's health check while the guard of a user-supplied lock is in its back-off window. */
  async probe(): Promise<void> {
    await this.client.ping();
  }

  close(): void {}
}

/** A lease held in Redis under `redisKey` with the owner token `token`. */
class RedisLease implements LockLease {
  constructor(
    private readonly client: RedisClient,
    readonly key: string,
    private readonly redisKey: string,
    private readonly token: string,
  ) {}

  async renew(ttlMs: number): Promise<boolean> {
    return Number(await runScript(this.client, RENEW, [this.redisKey], [this.token, toPx(ttlMs)])) === 1;
  }

  async release(): Promise<boolean> {
    return Number(await runScript(this.client, RELEASE, [this.redisKey], [this.token])) === 1;
  }
}

/** PX/PEXPIRE argument: a positive integer of milliseconds, rounded up. */
function toPx(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`A lock ttl must be a positive number of ms, got ${String(ttlMs)}`);
  return Math.ceil(ttlMs);
}
