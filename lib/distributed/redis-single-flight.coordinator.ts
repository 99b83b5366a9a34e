/**
 * Distributed single-flight on Redis (see `LoadCoordinator` in core for the contract): one load lease per key,
 * a pub/sub notice when the key is filled or the lease given up, and polling of the lease as the fallback.
 *
 * Protocol
 * - Lease record: one string key per cache key, `<prefix>\x1fload:<key>` (U+001F right after the prefix, as
 *   `LOCK_KEY_MARK`: it never collides with an entry, a tag key or a revalidation lock). It holds
 *   `<owner>|<version>|<deadline>`: the holder's random token (empty once released), the lease's fencing version
 *   and the lease's end, both in microseconds of the Redis server's clock (`TIME`, sec * 1e6 + usec).
 * - acquire: one Lua script (EVALSHA, EVAL when not cached). A live lease (owner set, deadline ahead) is not
 *   taken: the reply is the time it has left (its "PTTL"). Otherwise the script writes the record with a new
 *   token, version = max(TIME µs, previous version + 1) and deadline = TIME + ttl, with
 *   `PX ttl + VERSION_MEMORY_MS`, and returns the version. Versions are µs like the stack's write versions
 *   (`VersionClock`), so a lease's version is directly a write version.
 * - renew: compare-and-extend (owner and live lease, else 0); release: compare-and-free — the record keeps the
 *   version, loses the owner, expires `VERSION_MEMORY_MS` later — and PUBLISH `r<key>` on `<prefix>\x1ffill`,
 *   in the same script; filled(): PUBLISH `f<key>` on that channel. One channel per prefix.
 * - Followers: the coordinator subscribes once, eagerly, on its own duplicate of the client (`duplicate()`;
 *   closed by `close()`, the passed client never is), and keeps its waiters by key. `acquire` awaits the first
 *   subscription (or the subscriber's first connection failure: then followers rely on polling until it is
 *   subscribed), registers the waiter, then runs the script (leader: the waiter is dropped). A waiter resolves
 *   on a notice for its key (`filled` / `released`), on a poll that finds no live lease (`released`), or after
 *   `maxWaitMs` (`timeout`); its timers are then cleared, and it never rejects.
 * - Polling: one poll per key and process (a read-only script: the live lease's time left, or 0), every
 *   `pollInterval`, or earlier when the lease ends sooner — a follower learns of a dead leader when its lease
 *   expires, without waiting a whole interval. A failed poll (Redis down) resolves the key's waiters
 *   `released`: their stack asks again, the acquire fails, it loads locally (rather than waiting `maxWaitMs`).
 *   After the subscriber reconnects (notices may have been lost) every key is polled at once.
 *
 * Why one key per lease, with the lease end in the value, rather than `SET NX PX` plus a version key: the
 * version must outlive the lease (a released or expired lease's successor must still get a greater version),
 * so it needs a record that lives longer than the lease. A second key would have to share the lock key's Redis
 * Cluster slot, which needs a hash tag in every key name and fails for some prefixes (`a{}`, `a{b`). One key
 * per command has no slot constraint, so leases spread over a cluster. The lease's end is compared with `TIME`
 * in the scripts, which is what `PX` does inside Redis (its expiry is wall-clock time too).
 *
 * Fencing: a version is greater than every earlier version of the same key while the record lives (the lease,
 * then `VERSION_MEMORY_MS`); after that it is the server's TIME, greater unless the server's clock went back by
 * more than that. The stack writes the loaded value "if newer" at a version at least the lease's.
 *
 * Races, as interleavings (A, B: processes; F: a follower; L, L': leases of one key):
 *  (1) Leader dies mid-load: A holds L and dies. F's wait gets no notice; its poll, scheduled at L's end,
 *      finds no live lease: `released`. F's stack asks again and one process takes L'.
 *  (2) Filled published before the follower registered: A loads under L; F misses; A writes and publishes
 *      `filled`; F acquires. F registers its waiter *before* its script runs, on a subscription confirmed
 *      before that, and Redis orders the script and the PUBLISH: if the PUBLISH came after the script, F's
 *      waiter hears it. If it came before, the script still sees L live (F follows) and A's release then
 *      publishes `released`, which F hears; or L is already free and F leads, and its stack's re-read finds
 *      A's value. A notice about an older lease heard by a newer follower only wakes it early: its stack
 *      re-reads the shared layer and, still missing, asks again.
 *  (3) Lease expires while the leader still loads (A stalled, renewals failed): B takes L' with a greater
 *      version and loads too — two loads, the price of liveness. A's `renew` and `release` return false and
 *      leave L' alone (they compare the owner token).
 *  (4) Stale leader finishing late: after (3), B writes at v' and A writes at v < v'. The writes are "if newer":
 *      whichever order they reach Redis, v' stays. A's `filled` may wake F early: see (2).
 *  (5) Redis down: `acquire` rejects (the stack loads locally); waiting followers' polls fail and they resolve
 *      `released`, so they wait on a dead Redis about a poll interval — or `maxWaitMs` (`timeout`) when the
 *      client queues commands while disconnected and the poll neither answers nor fails.
 *  (6) Subscriber down, commands fine: notices are lost, followers progress by polling (at most one
 *      `pollInterval` late, or at the lease's end), and poll every key once the subscription is back.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError, LayerCacheError } from '../core/errors.js';
import type { LoadCoordinator, LoadLease, LoadTicket } from '../core/load-coordinator.js';
import { BurstLogger, consoleLogger, type CacheLogger } from '../core/logger.js';
import { checkRedisClient, checkRedisPrefix, luaScript, runScript, type RedisClient } from '../layers/redis-client.js';

/** Options of {@link RedisSingleFlightCoordinator}. */
export interface RedisSingleFlightCoordinatorOptions {
  /** The ioredis client (`Redis` or `Cluster`) for the lease commands; never closed by the coordinator. */
  client: RedisClient;
  /** Prefix of the lease keys and of the notice channel; coordinators sharing it share the leases. @default 'lc:' */
  prefix?: string;
  /** How often a follower checks the lease by itself (the fallback of the notices); a number is seconds. @default '1s' */
  pollInterval?: Duration;
  /** Time source of the polls and waits. @default systemClock */
  clock?: Clock;
  /** Where connection trouble and failing polls are logged (once per burst). @default consoleLogger */
  logger?: CacheLogger;
}

/** Defaults of {@link RedisSingleFlightCoordinatorOptions}. */
export const DEFAULT_REDIS_SINGLE_FLIGHT_OPTIONS = Object.freeze({ prefix: 'lc:', pollInterval: '1s' });

/** Marks the lease records right after the prefix (see this file's header). */
export const LOAD_KEY_MARK = '\u001fload:';

/** What follows the prefix in the notice channel's name. */
export const LOAD_CHANNEL_MARK = '\u001ffill';

/** How long a lease record outlives its lease, in milliseconds, to keep the fencing version increasing. */
export const VERSION_MEMORY_MS = 60_000;

/** First character of a notice: the key was filled / the lease was released without a fill. */
const FILLED = 'f';
const RELEASED = 'r';

/** The longest delay a Node timer accepts (a longer one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

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
const ACQUIRE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= '' and deadline > now then return {0, math.ceil((deadline - now) / 1000)} end
if version < now then version = now else version = version + 1 end
local ttl = tonumber(ARGV[2])
write(ARGV[1], version, now + ttl * 1000, ttl + tonumber(ARGV[3]))
return {1, version}`);

/** ARGV: token, ttl ms, memory ms. 1 when the live lease of the token was extended, else 0. */
const RENEW = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
local ttl = tonumber(ARGV[2])
write(owner, version, now + ttl * 1000, ttl + tonumber(ARGV[3]))
return 1`);

/** ARGV: token, memory ms, channel, notice. 1 when the live lease of the token was freed (and announced), else 0. */
const RELEASE = luaScript(`${PRELUDE}local now = now_us()
local owner, version, deadline = read()
if owner ~= ARGV[1] or deadline <= now then return 0 end
write('', version, 0, tonumber(ARGV[2]))
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`);

/** Milliseconds left of the live lease, 0 when there is none. Writes nothing. */
const TIME_LEFT = luaScript(`${PRELUDE}local owner, version, deadline = read()
if owner == '' then return 0 end
local left = deadline - now_us()
if left <= 0 then return 0 end
return math.ceil(left / 1000)`);

/** How a follower's wait ends. */
type WaitOutcome = 'filled' | 'released' | 'timeout';

/** The followers of one key in this process, sharing one poll. */
class KeyWaiters {
  readonly waiters = new Set<Waiter>();
  pollTimer: TimerHandle | undefined;
  pollAt = 0;
  polling = false;

  constructor(
    readonly key: string,
    readonly redisKey: string,
  ) {}
}

/** One follower's wait. */
class Waiter {
  readonly promise: Promise<WaitOutcome>;
  settle!: (outcome: WaitOutcome) => void;
  timer: TimerHandle | undefined;

  constructor(readonly group: KeyWaiters) {
    this.promise = new Promise<WaitOutcome>((resolve) => {
      this.settle = resolve;
    });
  }
}

/** The Redis {@link LoadCoordinator}: leases, notices and polling (protocol and races in this file's header). */
export class RedisSingleFlightCoordinator implements LoadCoordinator {
  readonly shared = true;
  /** The key prefix, as configured. */
  readonly prefix: string;
  /** The notice channel, `<prefix>\x1ffill`. */
  readonly channel: string;
  /** The poll interval, in milliseconds. */
  readonly pollIntervalMs: number;
  private readonly client: RedisClient;
  private readonly clock: Clock;
  private readonly burst: BurstLogger;
  private readonly keyStart: string;
  private readonly subscriber: RedisClient;
  private readonly groups = new Map<string, KeyWaiters>();
  /** Resolves once the first subscription is confirmed, or failed, or the subscriber's connection failed. */
  private readonly firstSubscription: Promise<void>;
  private openGate!: () => void;
  private subscribing: Promise<void> | undefined;
  private interrupted = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: RedisSingleFlightCoordinatorOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('RedisSingleFlightCoordinator', 'expected an options object: new RedisSingleFlightCoordinator({ client })');
    }
    this.client = checkRedisClient('RedisSingleFlightCoordinator.client', options.client);
    const methods = this.client as unknown as Partial<Record<'duplicate' | 'publish', unknown>>;
    if (typeof methods.duplicate !== 'function' || typeof methods.publish !== 'function') {
      throw new InvalidOptionError('RedisSingleFlightCoordinator.client', 'expected an ioredis client with duplicate() and publish()');
    }
    this.prefix = checkRedisPrefix('RedisSingleFlightCoordinator.prefix', options.prefix ?? DEFAULT_REDIS_SINGLE_FLIGHT_OPTIONS.prefix);
    const pollIntervalMs = toMilliseconds(options.pollInterval ?? DEFAULT_REDIS_SINGLE_FLIGHT_OPTIONS.pollInterval, 'RedisSingleFlightCoordinator.pollInterval');
    if (pollIntervalMs < 1) throw new InvalidOptionError('RedisSingleFlightCoordinator.pollInterval', 'must be at least 1 ms');
    this.pollIntervalMs = Math.min(pollIntervalMs, MAX_TIMER_MS);
    const clock = options.clock ?? systemClock;
    if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      throw new InvalidOptionError('RedisSingleFlightCoordinator.clock', 'expected an object with now(), setTimeout() and clearTimeout()');
    }
    this.clock = clock;
    const logger = options.logger ?? consoleLogger;
    if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
      throw new InvalidOptionError('RedisSingleFlightCoordinator.logger', "expected an object with warn() and error() (e.g. Nest's Logger or console)");
    }
    this.burst = new BurstLogger(logger);
    this.keyStart = this.prefix + LOAD_KEY_MARK;
    this.channel = this.prefix + LOAD_CHANNEL_MARK;
    this.subscriber = duplicateForSubscribing(this.client);
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('error', this.onError);
    this.subscriber.on('close', this.onClose);
    this.subscriber.on('ready', this.onReady);
    this.firstSubscription = new Promise<void>((resolve) => {
      this.openGate = resolve;
    });
    void this.subscribe().then(this.openGate);
  }

  /** The Redis key of the lease record of `key`. */
  lockKey(key: string): string {
    return this.keyStart + key;
  }

  async acquire(key: string, ttlMs: number, maxWaitMs: number): Promise<LoadTicket> {
    const ttl = toPx(ttlMs);
    if (!(maxWaitMs > 0)) throw new InvalidOptionError('RedisSingleFlightCoordinator.acquire(maxWaitMs)', `expected a positive number of ms, got ${String(maxWaitMs)}`);
    if (this.closed) throw closedError();
    await this.firstSubscription;
    if (this.closed) throw closedError();
    const redisKey = this.lockKey(key);
    const token = randomBytes(16).toString('base64url');
    // Registered before the script runs, so a notice published after it cannot be missed (race 2).
    const waiter = this.join(key, redisKey, maxWaitMs);
    let reply: unknown;
    try {
      reply = await runScript(this.client, ACQUIRE, [redisKey], [token, ttl, VERSION_MEMORY_MS]);
    } catch (error) {
      this.finish(waiter, 'released');
      throw error;
    }
    const [taken, value] = parseAcquireReply(reply);
    if (taken) {
      this.finish(waiter, 'released');
      return { role: 'leader', lease: new RedisLoadLease(this.client, this.channel, key, redisKey, token, value) };
    }
    if (waiter.group.waiters.has(waiter)) this.schedulePoll(waiter.group, Math.min(this.pollIntervalMs, value));
    return { role: 'follower', wait: waiter.promise };
  }

  /** Resolves the pending waits (`timeout`) and closes the subscriber connection; the passed client stays open. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.openGate(); // an acquire() still waiting for the first subscription rejects now
    for (const group of this.groups.values()) {
      for (const waiter of group.waiters) this.finish(waiter, 'timeout');
    }
    this.groups.clear();
    const subscriber = this.subscriber;
    subscriber.off('message', this.onMessage);
    subscriber.off('close', this.onClose);
    subscriber.off('ready', this.onReady);
    subscriber.off('error', this.onError);
    subscriber.on('error', ignoreError); // errors while quitting are expected and of no interest
    if (subscriber.status === 'ready') {
      try {
        await subscriber.quit();
        return;
      } catch {
        // fall back to a hard disconnect below
      }
    }
    subscriber.disconnect();
  }

  /** Subscribes to the notice channel; one attempt at a time; never rejects (failures are logged). */
  private subscribe(): Promise<void> {
    this.subscribing ??= this.subscriber.subscribe(this.channel).then(
      () => {
        this.subscribing = undefined;
        this.burst.success(this.subscriberSource);
      },
      (error: unknown) => {
        this.subscribing = undefined;
        if (!this.closed) this.burst.failure(this.subscriberSource, `RedisSingleFlightCoordinator could not subscribe to ${JSON.stringify(this.channel)}`, error);
      },
    );
    return this.subscribing;
  }

  private get subscriberSource(): string {
    return `RedisSingleFlightCoordinator subscriber (channel ${JSON.stringify(this.channel)})`;
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel || message.length < 2) return;
    const kind = message[0];
    const outcome = kind === FILLED ? 'filled' : kind === RELEASED ? 'released' : undefined;
    if (outcome === undefined) return;
    const group = this.groups.get(message.slice(1));
    if (group === undefined) return;
    for (const waiter of group.waiters) this.finish(waiter, outcome);
  };

  private readonly onError = (error: Error): void => {
    this.openGate(); // a subscriber that cannot connect does not hold acquire() up: followers poll meanwhile
    if (!this.closed) this.burst.failure(this.subscriberSource, 'RedisSingleFlightCoordinator subscriber connection failed', error);
  };

  private readonly onClose = (): void => {
    this.openGate();
    this.interrupted = true;
  };

  private readonly onReady = (): void => {
    if (this.closed) return;
    const interrupted = this.interrupted;
    this.interrupted = false;
    // ioredis re-subscribes by itself after a reconnection; this SUBSCRIBE (idempotent) also covers a first
    // subscription that failed, and tells when the subscription is live again: then every key is polled, as
    // notices may have been lost meanwhile (race 6).
    void this.subscribe().then(() => {
      if (!interrupted || this.closed) return;
      for (const group of this.groups.values()) this.schedulePoll(group, 0);
    });
  };

  /** Registers a follower of `key` (its timeout starts now; the key's poll starts with its first follower). */
  private join(key: string, redisKey: string, maxWaitMs: number): Waiter {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new KeyWaiters(key, redisKey);
      this.groups.set(key, group);
      this.schedulePoll(group, this.pollIntervalMs);
    }
    const waiter = new Waiter(group);
    group.waiters.add(waiter);
    waiter.timer = this.clock.setTimeout(() => this.finish(waiter, 'timeout'), Math.min(maxWaitMs, MAX_TIMER_MS));
    return waiter;
  }

  /** Resolves `waiter` once and unregisters it; the last waiter of a key stops the key's poll. */
  private finish(waiter: Waiter, outcome: WaitOutcome): void {
    const group = waiter.group;
    if (!group.waiters.delete(waiter)) return;
    if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
    waiter.timer = undefined;
    if (group.waiters.size === 0) {
      if (group.pollTimer !== undefined) this.clock.clearTimeout(group.pollTimer);
      group.pollTimer = undefined;
      if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    }
    waiter.settle(outcome);
  }

  /** Polls `group` in `delayMs`, unless a poll is due sooner or running (that one schedules the next). */
  private schedulePoll(group: KeyWaiters, delayMs: number): void {
    if (group.polling || this.closed) return;
    const at = this.clock.now() + delayMs;
    if (group.pollTimer !== undefined) {
      if (group.pollAt <= at) return;
      this.clock.clearTimeout(group.pollTimer);
    }
    group.pollAt = at;
    group.pollTimer = this.clock.setTimeout(() => void this.poll(group), delayMs);
  }

  /** Checks the lease of `group`'s key: none live → the waiters registered before the check are `released`. */
  private async poll(group: KeyWaiters): Promise<void> {
    group.pollTimer = undefined;
    if (this.closed || group.waiters.size === 0) return;
    group.polling = true;
    const polled = Array.from(group.waiters);
    let leftMs: number;
    try {
      leftMs = Number(await runScript(this.client, TIME_LEFT, [group.redisKey], []));
      this.burst.success('RedisSingleFlightCoordinator poll');
    } catch (error) {
      leftMs = 0; // Redis unreachable: release the waiters, whose stack then loads locally (race 5)
      this.burst.failure('RedisSingleFlightCoordinator poll', 'RedisSingleFlightCoordinator could not poll a load lease; its followers are released', error);
    }
    group.polling = false;
    if (!(leftMs > 0)) for (const waiter of polled) this.finish(waiter, 'released');
    if (group.waiters.size > 0) this.schedulePoll(group, leftMs > 0 ? Math.min(this.pollIntervalMs, leftMs) : this.pollIntervalMs);
  }
}

/** A lease held in Redis under `redisKey` with the owner token `token`. */
class RedisLoadLease implements LoadLease {
  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    readonly key: string,
    private readonly redisKey: string,
    private readonly token: string,
    readonly version: number,
  ) {}

  async renew(ttlMs: number): Promise<boolean> {
    return Number(await runScript(this.client, RENEW, [this.redisKey], [this.token, toPx(ttlMs), VERSION_MEMORY_MS])) === 1;
  }

  async filled(): Promise<void> {
    await this.client.publish(this.channel, FILLED + this.key);
  }

  async release(): Promise<boolean> {
    return Number(await runScript(this.client, RELEASE, [this.redisKey], [this.token, VERSION_MEMORY_MS, this.channel, RELEASED + this.key])) === 1;
  }
}

/** `[taken, version or ms left]` from the ACQUIRE script's reply. */
function parseAcquireReply(reply: unknown): [taken: boolean, value: number] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Unexpected reply of the load-lease script: ${JSON.stringify(reply)}`);
  return [Number(reply[0]) === 1, Number(reply[1])];
}

/** PX argument: a positive, finite number of milliseconds, rounded up. */
function toPx(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidOptionError('RedisSingleFlightCoordinator lease ttlMs', `expected a positive, finite number of ms, got ${String(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}

function closedError(): LayerCacheError {
  return new LayerCacheError('STACK_CLOSED', 'RedisSingleFlightCoordinator is closed');
}

/**
 * A new connection for SUBSCRIBE, with the client's options. The offline queue is forced on so SUBSCRIBE can be
 * sent while the new connection is still connecting, even when the application turned it off.
 */
function duplicateForSubscribing(client: RedisClient): RedisClient {
  if (client.isCluster) return (client as Extract<RedisClient, { isCluster: boolean; nodes: unknown }>).duplicate([], { enableOfflineQueue: true });
  return (client as Exclude<RedisClient, { nodes: unknown }>).duplicate({ enableOfflineQueue: true, autoResubscribe: true });
}

function ignoreError(): void {}
