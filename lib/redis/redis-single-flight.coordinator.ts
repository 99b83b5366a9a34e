/**
 * Distributed single-flight on Redis (see `LoadCoordinator` in core for the contract): one load lease per key,
 * a pub/sub notice when the key is filled or the lease given up, and polling of the lease as the fallback.
 * This file holds the protocol and the coordinator; the lease record's scripts and the leader's handle are in
 * `redis-load.lease.ts`, the followers' waits and polls in `load-follower.registry.ts`, the subscriber connection
 * in `redis-pubsub.subscriber.ts`.
 *
 * Protocol
 * - Lease record: one string key per cache key, `<prefix>\x1fload:<key>` (U+001F right after the prefix, as
 *   `LOCK_KEY_MARK`: it never collides with an entry, a tag key or a revalidation lock). It holds
 *   `<owner>|<version>|<deadline>`: the holder's random token, the lease's fencing version and the lease's
 *   end, both in microseconds of the Redis server's clock (`TIME`, sec * 1e6 + usec). A release deletes it; a
 *   lease that ends unreleased leaves it `ENDED_LEASE_MEMORY_MS` (5 s) more, for the fencing below.
 * - acquire: one Lua script (EVALSHA, EVAL when not cached). A live lease (owner set, deadline ahead) is not
 *   taken: the reply is the time it has left (its "PTTL") — unless its owner is this very token (a command
 *   resent after a reconnection): then it is this acquire's lease. Otherwise the script writes the record with
 *   a new token, version = max(TIME µs, previous version + 1, the caller's floor) and deadline = TIME + ttl,
 *   with `PX ttl + ENDED_LEASE_MEMORY_MS`, and returns the version. Versions are µs like the stack's write
 *   versions (`VersionClock`, which the stack passes as the floor), so a lease's version is a write version.
 * - renew: compare-and-extend (owner and live lease, else 0); release: compare-and-delete and PUBLISH a
 *   "released" notice on `<prefix>\x1ffill`, in the same script; filled(): PUBLISH a "filled" notice on that
 *   channel. One channel per prefix. An acquire that rejects is followed by a release of its token (it may have
 *   run). Notices (`FillNoticeCodec`, fill-notice.codec.ts) are `f<key>` / `r<key>`, or, with a `secret`,
 *   signed and stamped (HMAC-SHA256, timestamp + nonce): a coordinator with a secret drops unsigned, badly
 *   signed, replayed or outdated notices (logged once per burst); its followers still progress by polling.
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
 * Why one key per lease, with the lease end and the version in the value, rather than `SET NX PX`: the
 * script needs the previous version and the lease's end in one read, and a second key would have to share the
 * lock key's Redis Cluster slot, which needs a hash tag in every key name and fails for some prefixes (`a{}`,
 * `a{b`). One key per command has no slot constraint, so leases spread over a cluster. The lease's end is
 * compared with `TIME` in the scripts, which is what `PX` does inside Redis (its expiry is wall-clock time too).
 *
 * Fencing: a version is greater than the previous lease's while its record lives (a lease that ended unreleased:
 * 5 s past its end, when its waiting followers acquire), and never below the caller's floor (its write clock,
 * which has observed every version its process read or heard of); later, it is above the server's TIME. The
 * bound and why a released lease needs no record: `redis-load.lease.ts`'s header. The stack writes the loaded
 * value "if newer" at the lease's version.
 * Orphaned leases (an acquire that ran after its caller gave up) and their interleavings: the header of
 * `redis-load.lease.ts`.
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
 *  (5) Redis down: `acquire` rejects (the stack loads locally; a release of its token follows, in case it ran
 *      after all: see `redis-load.lease.ts`); waiting followers' polls fail and they resolve
 *      `released`, so they wait on a dead Redis about a poll interval — or `maxWaitMs` (`timeout`) when the
 *      client queues commands while disconnected and the poll neither answers nor fails.
 *  (6) Subscriber down, commands fine: notices are lost, followers progress by polling (at most one
 *      `pollInterval` late, or at the lease's end), and poll every key once the subscription is back.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError, LayerCacheError } from '../core/errors.js';
import { FOREIGN_REDIS_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import type { LoadCoordinator, LoadTicket } from '../core/load-coordinator.js';
import { BurstLogger, consoleLogger, type CacheLogger } from '../core/logger.js';
import { checkRedisPrefix, runScript, type RedisClient } from './redis-client.js';
import { LoadFollowerRegistry, MAX_TIMER_MS } from './load-follower.registry.js';
import {
  ACQUIRE_LEASE,
  ENDED_LEASE_MEMORY_MS,
  LOAD_CHANNEL_MARK,
  LOAD_KEY_MARK,
  parseAcquireReply,
  RedisLoadLease,
  releaseLease,
  toFloor,
  toPx,
} from './redis-load.lease.js';
import { checkPubSubClient, RedisPubSubSubscriber } from './redis-pubsub.subscriber.js';
import { createFillNoticeCodec, type FillNoticeCodec } from './fill-notice.codec.js';

export { ENDED_LEASE_MEMORY_MS, LOAD_CHANNEL_MARK, LOAD_KEY_MARK } from './redis-load.lease.js';

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
  /**
   * Shared secret: notices are signed (HMAC-SHA256, with a timestamp and a nonce) and only signed, fresh,
   * never-seen notices are accepted (docs/bus-security.md). @default undefined (unsigned)
   */
  secret?: string | Buffer;
  /** How far a signed notice's timestamp may be from this clock, either side. Needs `secret`. @default '30s' */
  replayWindow?: Duration;
}

/** Defaults of {@link RedisSingleFlightCoordinatorOptions}. */
export const DEFAULT_REDIS_SINGLE_FLIGHT_OPTIONS = Object.freeze({ prefix: 'lc:', pollInterval: '1s' });

/** The option names of `RedisSingleFlightCoordinator` (checked: an unknown one is an `InvalidOptionError` naming it). */
const REDISSINGLEFLIGHTCOORDINATOR_OPTION_NAMES = ['client', 'prefix', 'pollInterval', 'clock', 'logger', 'secret', 'replayWindow'] as const satisfies readonly (keyof RedisSingleFlightCoordinatorOptions)[];
// Every option of the interface is listed (a missing one is a type error here).
const REDISSINGLEFLIGHTCOORDINATOR_NAMES_LISTED: AllListed<RedisSingleFlightCoordinatorOptions, (typeof REDISSINGLEFLIGHTCOORDINATOR_OPTION_NAMES)[number]> = true;
void REDISSINGLEFLIGHTCOORDINATOR_NAMES_LISTED;

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
  private readonly subscriber: RedisPubSubSubscriber;
  private readonly followers: LoadFollowerRegistry;
  /** Encodes and checks the notices (signed with a secret). */
  private readonly notices: FillNoticeCodec;
  private dropped = 0;
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
    checkOptionKeys(options, REDISSINGLEFLIGHTCOORDINATOR_OPTION_NAMES, { at: 'RedisSingleFlightCoordinator', renamed: FOREIGN_REDIS_OPTIONS });
    this.client = checkPubSubClient('RedisSingleFlightCoordinator.client', options.client);
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
    this.notices = createFillNoticeCodec(this.channel, options, clock);
    this.followers = new LoadFollowerRegistry(this.client, this.clock, this.burst, this.pollIntervalMs);
    this.subscriber = new RedisPubSubSubscriber(this.client, this.channel, {
      onMessage: this.onMessage,
      onError: this.onError,
      onClose: this.onClose,
      onReady: this.onReady,
    });
    this.firstSubscription = new Promise<void>((resolve) => {
      this.openGate = resolve;
    });
    void this.subscribe().then(this.openGate);
  }

  /** Notices dropped: unsigned, badly signed, replayed or outdated (with a secret). */
  get noticesDropped(): number {
    return this.dropped;
  }

  /** The Redis key of the lease record of `key`. */
  lockKey(key: string): string {
    return this.keyStart + key;
  }

  async acquire(key: string, ttlMs: number, maxWaitMs: number, versionFloor?: number): Promise<LoadTicket> {
    const ttl = toPx(ttlMs);
    const floor = toFloor(versionFloor);
    if (!(maxWaitMs > 0)) throw new InvalidOptionError('RedisSingleFlightCoordinator.acquire(maxWaitMs)', `expected a positive number of ms, got ${String(maxWaitMs)}`);
    if (this.closed) throw closedError();
    await this.firstSubscription;
    if (this.closed) throw closedError();
    const redisKey = this.lockKey(key);
    const token = randomBytes(16).toString('base64url');
    // Registered before the script runs, so a notice published after it cannot be missed (race 2).
    const follower = this.followers.join(key, redisKey, maxWaitMs);
    let reply: unknown;
    try {
      reply = await runScript(this.client, ACQUIRE_LEASE, [redisKey], [token, ttl, floor, ENDED_LEASE_MEMORY_MS]);
    } catch (error) {
      this.followers.finish(follower, 'released');
      // The script may have run (reply lost, or the client's own timeout): free what it may have granted.
      releaseLease(this.client, this.notices, key, redisKey, token).catch(() => undefined);
      throw error;
    }
    const [taken, value] = parseAcquireReply(reply);
    if (taken) {
      this.followers.finish(follower, 'released');
      return { role: 'leader', lease: new RedisLoadLease(this.client, this.notices, key, redisKey, token, value) };
    }
    this.followers.follow(follower, value);
    return { role: 'follower', wait: follower.promise };
  }

  /** PING on the client: the stack's health check while the coordinator's guard is in its back-off window. */
  async probe(): Promise<void> {
    await this.client.ping();
  }

  /** Resolves the pending waits (`timeout`) and closes the subscriber connection; the passed client stays open. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.openGate(); // an acquire() still waiting for the first subscription rejects now
    this.followers.close();
    await this.subscriber.close();
  }

  /** Subscribes to the notice channel; one attempt at a time; never rejects (failures are logged). */
  private subscribe(): Promise<void> {
    this.subscribing ??= this.subscriber.subscribe().then(
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
    if (channel !== this.channel || this.closed) return;
    const notice = this.notices.decode(message);
    if (notice === undefined) return;
    if ('dropped' in notice) {
      this.dropped++;
      this.burst.failure(this.noticeSource, `RedisSingleFlightCoordinator dropped a notice on ${JSON.stringify(this.channel)}`, notice.dropped);
      return;
    }
    this.burst.success(this.noticeSource);
    this.followers.notify(notice.key, notice.kind);
  };

  private get noticeSource(): string {
    return `dropped notices on ${JSON.stringify(this.channel)}`;
  }

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
      this.followers.pollAll();
    });
  };
}

function closedError(): LayerCacheError {
  return new LayerCacheError('STACK_CLOSED', 'RedisSingleFlightCoordinator is closed');
}
