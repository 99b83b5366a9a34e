/**
 * The load lease of `RedisSingleFlightCoordinator` in Redis: the lease record's format, the Lua scripts that
 * read and change it, and the leader's handle. The protocol and the followers' races are in
 * `redis-single-flight.coordinator.ts`'s header; what keeps a lease from outliving its owner is below.
 *
 * Record: one string key per cache key, `<prefix>\x1fload:<key>`, holding `<owner>|<version>|<deadline>`: the
 * holder's random token, the lease's fencing version and the lease's end, both in microseconds of the Redis
 * server's clock (`TIME`, sec * 1e6 + usec). A release deletes it; a lease that ends unreleased (its holder
 * died or stalled) leaves it `ENDED_LEASE_MEMORY_MS` (5 s) past its end (`PX ttl + 5 s`, renewed with the
 * lease). Every script touches only that key (no slot constraint on a Redis Cluster) and compares the lease's
 * end with `TIME`, as `PX` does inside Redis.
 *
 * Fencing: version = max(TIME, the record's version + 1 when there is one, the caller's floor).
 *  - The floor is the caller's write clock (`VersionClock.next()`, a hybrid logical clock that has observed
 *    every version its process read or heard of): a load's version is above every write its process knows
 *    of, e.g. an entry still in Redis written by a host whose clock runs ahead, which a lower version could not
 *    replace ("write if newer").
 *  - The one successor that must be above a lease it knows nothing of is the successor of a lease that ended
 *    unreleased: that leader may still write. Its followers poll at the lease's end and acquire at once, while
 *    the record still holds the version: previous + 1. A successor coming later than 5 s after that end gets
 *    max(TIME, floor): greater, unless the ended lease's version was more than ttl + 5 s ahead of the server's
 *    TIME by then (a floor from a host whose clock runs that far ahead, or the server's clock stepped back).
 *  - A released lease's writes were done before its release (the stack writes, then releases), so its
 *    successor has nothing to fence off: its record can go at once.
 * (Before, every record was kept 60 s after its lease, so every miss left a key behind for a minute.)
 *
 * Orphans: an acquire whose caller gave up (the stack's `layerTimeout` while Redis was paused, or an event loop
 * stalled by a burst of cold keys) still runs in Redis later and may be granted. Nobody would renew or release
 * that lease, and every peer missing the key would follow it until its ttl ends. Three rules prevent it:
 *  (1) The caller keeps the ticket's promise: when the late reply arrives and says "leader", it releases the
 *      lease at once (compare-and-free by token; followers that came meanwhile are told `released`).
 *  (2) An acquire that rejects (connection lost, the client's own `commandTimeout`) may have run all the same:
 *      the coordinator sends a release by token right after it. Redis runs one connection's commands in order,
 *      and ioredis resends unanswered commands before its offline queue after a reconnection, so the release
 *      runs after the acquire; when nothing was granted it frees nothing.
 *  (3) An acquire with the token of the live lease returns that lease (not "follower of yourself"): a command
 *      ioredis resent after a reconnection, whose first run was granted, still yields the lease to (1).
 * Interleavings (A: the process that gave up; B: a peer missing the same key; L: the lease granted late):
 *  - Redis paused: A's acquire waits in Redis's input buffer; A times out and loads locally; Redis resumes and
 *    grants L; A's reply arrives, A releases L (1). B's acquire before that release follows L and wakes on
 *    the `released` notice; after it, B leads at once.
 *  - A's event loop stalled: the reply is in A's socket when its timeout fires first; the reply is read next
 *    and released as above.
 *  - A's connection dropped after the script ran: ioredis resends it (same token): (3) answers "leader" and
 *    (1) releases; or the client rejects it: (2) frees L once the connection is back. If the release cannot
 *    reach Redis either, L ends by its ttl — the only case left, and it needs a lost connection.
 */
import { InvalidOptionError } from '../core/errors.js';
import type { LoadLease } from '../core/load-coordinator.js';
import { luaScript, runScript, type RedisClient } from './redis-client.js';
import type { FillNoticeCodec } from './fill-notice.codec.js';

/** Marks the lease records right after the prefix (see the coordinator's header). */
export const LOAD_KEY_MARK = '\u001fload:';

/** What follows the prefix in the notice channel's name. */
export const LOAD_CHANNEL_MARK = '\u001ffill';

/** How long the record of a lease that ended unreleased outlives its end, in milliseconds (see the header). */
export const ENDED_LEASE_MEMORY_MS = 5_000;

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

/**
 * ARGV: token, ttl ms, floor µs, memory ms. {1, version} when taken (or already held by this token: a resent
 * acquire), else {0, ms left of the live lease}. version = max(TIME, previous version + 1, floor).
 */
export const ACQUIRE_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= '' and deadline > now then
  if owner == ARGV[1] then return {1, version} end
  return {0, math.ceil((deadline - now) / 1000)}
end
if version < now then version = now else version = version + 1 end
local floor = tonumber(ARGV[3])
if version < floor then version = floor end
local ttl = tonumber(ARGV[2])
write(ARGV[1], version, now + ttl * 1000, ttl + tonumber(ARGV[4]))
return {1, version}`);

/** ARGV: token, ttl ms, memory ms. 1 when the live lease of the token was extended, else 0. */
const RENEW_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
local ttl = tonumber(ARGV[2])
write(owner, version, now + ttl * 1000, ttl + tonumber(ARGV[3]))
return 1`);

/** ARGV: token, channel, notice. 1 when the live lease of the token was deleted (and announced), else 0. */
const RELEASE_LEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
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
    return Number(await runScript(this.client, RENEW_LEASE, [this.redisKey], [this.token, toPx(ttlMs), ENDED_LEASE_MEMORY_MS])) === 1;
  }

  async filled(): Promise<void> {
    await this.client.publish(this.notices.channel, this.notices.encode('filled', this.key));
  }

  async release(): Promise<boolean> {
    return releaseLease(this.client, this.notices, this.key, this.redisKey, this.token);
  }
}

/**
 * Frees the live lease of `token` on `key` and publishes `released`; true when there was one. Also the release
 * by token of an acquire that may have run although its command failed (rule (2) of this file's header).
 */
export async function releaseLease(client: RedisClient, notices: FillNoticeCodec, key: string, redisKey: string, token: string): Promise<boolean> {
  return Number(await runScript(client, RELEASE_LEASE, [redisKey], [token, notices.channel, notices.encode('released', key)])) === 1;
}

/** `[taken, version or ms left]` from the {@link ACQUIRE_LEASE} script's reply. */
export function parseAcquireReply(reply: unknown): [taken: boolean, value: number] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Unexpected reply of the load-lease script: ${JSON.stringify(reply)}`);
  return [Number(reply[0]) === 1, Number(reply[1])];
}

/** The floor of a lease's version: a non-negative safe integer of µs, 0 when not given. */
export function toFloor(floor: number | undefined): number {
  if (floor === undefined) return 0;
  if (!Number.isSafeInteger(floor) || floor < 0) {
    throw new InvalidOptionError('RedisSingleFlightCoordinator.acquire(versionFloor)', `expected a non-negative safe integer of µs, got ${String(floor)}`);
  }
  return floor;
}

/** PX argument: a positive, finite number of milliseconds, rounded up. */
export function toPx(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidOptionError('RedisSingleFlightCoordinator lease ttlMs', `expected a positive, finite number of ms, got ${String(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}

