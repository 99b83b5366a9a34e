/**
 * The load lease of `RedisSingleFlightCoordinator` in Redis: the lease record's format, the Lua scripts that
 * read and change it, and the leader's handle. The protocol, its fencing argument and its races are in
 * `redis-single-flight.coordinator.ts`'s header.
 *
 * Record: one string key per cache key, `<prefix>\x1fload:<key>`, holding `<owner>|<version>|<deadline>`: the
 * holder's random token (empty once released), the lease's fencing version and the lease's end, both in
 * microseconds of the Redis server's clock (`TIME`, sec * 1e6 + usec). It lives `VERSION_MEMORY_MS` longer than
 * the lease, so a successor's version is still greater. Every script touches only that key (no slot constraint
 * on a Redis Cluster) and compares the lease's end with `TIME`, as `PX` does inside Redis.
 */
import { InvalidOptionError } from '../core/errors.js';
import type { LoadLease } from '../core/load-coordinator.js';
import { luaScript, runScript, type RedisClient } from '../layers/redis-client.js';
import type { FillNoticeCodec } from './fill-notice.codec.js';

/** Marks the lease records right after the prefix (see the coordinator's header). */
export const LOAD_KEY_MARK = '\u001fload:';

/** What follows the prefix in the notice channel's name. */
export const LOAD_CHANNEL_MARK = '\u001ffill';

/** How long a lease record outlives its lease, in milliseconds, to keep the fencing version increasing. */
export const VERSION_MEMORY_MS = 60_000;

/** Helpers of every script: the server time in µs, the record of KEYS[1] as owner, version, deadline. */
const PRELUDE = `local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function read()
  local record = redis.call('GET', KEYS[1])
  if record then
    local owner, version, deadline = string.match(record, '^([^|]*)|(%d+)|(%d+)$')
    if owner then return owner, tonumber(version), tonumber(deadline) end
  end
  return '', 0, 0
end
local function write(owner, version, deadline, px)
  redis.call('SET', KEYS[1], owner .. '|' .. string.format('%.0f', version) .. '|' .. string.format('%.0f', deadline), 'PX', px)
end
`;

/** ARGV: token, ttl ms, memory ms. {1, version} when taken, else {0, ms left of the live lease}. */
export const ACQUIRE_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= '' and deadline > now then return {0, math.ceil((deadline - now) / 1000)} end
if version < now then version = now else version = version + 1 end
local ttl = tonumber(ARGV[2])
write(ARGV[1], version, now + ttl * 1000, ttl + tonumber(ARGV[3]))
return {1, version}`);

/** ARGV: token, ttl ms, memory ms. 1 when the live lease of the token was extended, else 0. */
const RENEW_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
local ttl = tonumber(ARGV[2])
write(owner, version, now + ttl * 1000, ttl + tonumber(ARGV[3]))
return 1`);

/** ARGV: token, memory ms, channel, notice. 1 when the live lease of the token was freed (and announced), else 0. */
const RELEASE_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
write('', version, 0, tonumber(ARGV[2]))
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`);

/** Milliseconds left of the live lease, 0 when there is none. Writes nothing. */
export const LEASE_TIME_LEFT = luaScript(`${PRELUDE}local owner, version, deadline = read()
if owner == '' then return 0 end
local left = deadline - now_us()
if left <= 0 then return 0 end
return math.ceil(left / 1000)`);

/** A lease held in Redis under `redisKey` with the owner token `token`. */
export class RedisLoadLease implements LoadLease {
  constructor(
    private readonly client: RedisClient,
    /** The notice channel and its (signing) codec. */
    private readonly notices: FillNoticeCodec,
    readonly key: string,
    private readonly redisKey: string,
    private readonly token: string,
    readonly version: number,
  ) {}

  async renew(ttlMs: number): Promise<boolean> {
    return Number(await runScript(this.client, RENEW_LEASE, [this.redisKey], [this.token, toPx(ttlMs), VERSION_MEMORY_MS])) === 1;
  }

  async filled(): Promise<void> {
    await this.client.publish(this.notices.channel, this.notices.encode('filled', this.key));
  }

  async release(): Promise<boolean> {
    return Number(await runScript(this.client, RELEASE_LEASE, [this.redisKey], [this.token, VERSION_MEMORY_MS, this.notices.channel, this.notices.encode('released', this.key)])) === 1;
  }
}

/** `[taken, version or ms left]` from the {@link ACQUIRE_LEASE} script's reply. */
export function parseAcquireReply(reply: unknown): [taken: boolean, value: number] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Unexpected reply of the load-lease script: ${JSON.stringify(reply)}`);
  return [Number(reply[0]) === 1, Number(reply[1])];
}

/** PX argument: a positive, finite number of milliseconds, rounded up. */
export function toPx(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidOptionError('RedisSingleFlightCoordinator lease ttlMs', `expected a positive, finite number of ms, got ${String(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}

