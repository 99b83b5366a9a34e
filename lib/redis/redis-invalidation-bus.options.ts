/**
 * What users configure on a `RedisInvalidationBus` (protocol in `redis-invalidation.bus.ts`), its defaults,
 * the default channel name, and the checks of the options (`resolveBusOptions`): each bad option is named in an
 * `InvalidOptionError`, in a fixed order, before any connection is made.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_REDIS_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import { consoleLogger, type CacheLogger } from '../core/logger.js';
import { checkRedisPrefix, isRedisCluster, type RedisClient } from './redis-client.js';
import { heartbeatInterval } from './bus-heartbeat.js';
import { checkInvalidationSecret, originIdProblem } from './invalidation-message.validation.js';
import { checkPubSubClient } from './redis-pubsub.subscriber.js';

/** Options of `RedisInvalidationBus`. */
export interface RedisInvalidationBusOptions {
  /** The ioredis client (`Redis` or `Cluster`) to publish with; the bus subscribes on a duplicate and never closes this one. */
  client: RedisClient;
  /** Key prefix of the stack; names the default channel. @default 'lc:' */
  prefix?: string;
  /** The pub/sub channel. @default `${prefix}\u001finvalidate` */
  channel?: string;
  /**
   * Shared secret: sign messages with HMAC-SHA256 and drop messages not signed with it, replayed, or stamped
   * outside `replayWindow` (docs/bus-security.md). Without it, anyone who can PUBLISH on the Redis can
   * invalidate this group's L1 copies. @default undefined (unsigned)
   */
  secret?: string | Buffer;
  /**
   * How far the stamp of a signed message may be from this bus's clock, either side (sender's clock skew +
   * delivery delay); a signed message is accepted once inside it. Needs `secret`. @default '30s'
   */
  replayWindow?: Duration;
  /** Where the bus logs dropped messages, connection trouble and reconnections. @default consoleLogger */
  logger?: CacheLogger;
  /** This bus's origin id (unique per bus; at most 256 characters). @default a random UUID */
  originId?: string;
  /**
   * How often the bus publishes a heartbeat it expects to hear back, to notice a subscription lost without its
   * connection closing (see bus-heartbeat.ts); `false` for none. Each heartbeat reaches every bus of the group.
   * @default '2s' on a Redis Cluster (ioredis moves its subscription silently), false on a single Redis
   */
  heartbeat?: Duration | false;
  /** Time source of the heartbeat and of the stamps of signed messages. @default the system clock */
  clock?: Clock;
}

/** Defaults of {@link RedisInvalidationBusOptions}. */
export const DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS = Object.freeze({ prefix: 'lc:', replayWindow: '30s' as Duration });

/** The option names of `RedisInvalidationBus` (checked: an unknown one is an `InvalidOptionError` naming it). */
const REDISINVALIDATIONBUS_OPTION_NAMES = ['client', 'prefix', 'channel', 'secret', 'replayWindow', 'logger', 'originId', 'heartbeat', 'clock'] as const satisfies readonly (keyof RedisInvalidationBusOptions)[];
// Every option of the interface is listed (a missing one is a type error here).
const REDISINVALIDATIONBUS_NAMES_LISTED: AllListed<RedisInvalidationBusOptions, (typeof REDISINVALIDATIONBUS_OPTION_NAMES)[number]> = true;
void REDISINVALIDATIONBUS_NAMES_LISTED;

/** The `replayWindow` option in ms (checked: at least 1 ms, and only with a secret). */
export function replayWindowMs(option: Duration | undefined, signed: boolean): number {
  if (option !== undefined && !signed) throw new InvalidOptionError('RedisInvalidationBus.replayWindow', 'only applies to signed messages: set `secret` too');
  const windowMs = toMilliseconds(option ?? DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS.replayWindow, 'RedisInvalidationBus.replayWindow');
  if (windowMs < 1) throw new InvalidOptionError('RedisInvalidationBus.replayWindow', 'must be at least 1 ms');
  return windowMs;
}

/** What follows the prefix in the default channel name. */
export const INVALIDATION_CHANNEL_MARK = '\u001finvalidate';

/** The default channel of the stacks using `prefix`. */
export function invalidationChannel(prefix: string): string {
  return prefix + INVALIDATION_CHANNEL_MARK;
}

/** Counters of a `RedisInvalidationBus`, since it was created. */
export interface RedisInvalidationBusStats {
  /** Messages sent (a split message counts once per part). */
  readonly published: number;
  /** Valid messages from peers, delivered to `onMessage`. */
  readonly received: number;
  /** Messages of this bus itself, ignored. */
  readonly ownIgnored: number;
  /** Malformed messages, dropped. */
  readonly malformed: number;
  /** Unsigned or badly signed messages dropped by a bus with a secret. */
  readonly badSignature: number;
  /** Correctly signed messages dropped as replays or as stamped outside the replay window. */
  readonly replayed: number;
  /** Reconnections of the subscriber after which `onResubscribed` was called. */
  readonly resubscribed: number;
  /** `publish` calls that rejected (encoding or Redis failures). */
  readonly publishErrors: number;
  /** Times the bus stopped hearing its own heartbeats (a subscription lost without its connection closing). */
  readonly silences: number;
}

/** The options of a `RedisInvalidationBus`, checked, with their defaults applied. */
export interface ResolvedBusOptions {
  readonly client: RedisClient;
  readonly channel: string;
  readonly secret: ReturnType<typeof checkInvalidationSecret>;
  readonly clock: Clock;
  readonly logger: CacheLogger;
  readonly originId: string;
  /** Meaningful only with a secret. */
  readonly replayWindowMs: number;
  /** `undefined`: no heartbeat. */
  readonly heartbeatMs: number | undefined;
}

/** Checks the options of a `RedisInvalidationBus`, naming the bad one, and applies the defaults. */
export function resolveBusOptions(options: RedisInvalidationBusOptions): ResolvedBusOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('RedisInvalidationBus', 'expected an options object: new RedisInvalidationBus({ client })');
  }
  checkOptionKeys(options, REDISINVALIDATIONBUS_OPTION_NAMES, { at: 'RedisInvalidationBus', renamed: FOREIGN_REDIS_OPTIONS });
  const client = checkPubSubClient('RedisInvalidationBus.client', options.client);
  const prefix = checkRedisPrefix('RedisInvalidationBus.prefix', options.prefix ?? DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS.prefix);
  if (options.channel !== undefined && (typeof options.channel !== 'string' || options.channel.length === 0)) {
    throw new InvalidOptionError('RedisInvalidationBus.channel', `expected a non-empty string, got ${JSON.stringify(options.channel)}`);
  }
  const secret = checkInvalidationSecret('RedisInvalidationBus.secret', options.secret);
  const windowMs = replayWindowMs(options.replayWindow, secret !== undefined);
  const logger: unknown = options.logger ?? consoleLogger;
  const candidate = logger as Partial<Record<'warn' | 'error', unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.warn !== 'function' || typeof candidate.error !== 'function') {
    throw new InvalidOptionError('RedisInvalidationBus.logger', 'expected an object with warn() and error() (e.g. Nest\'s Logger or console)');
  }
  const originId = options.originId ?? randomUUID();
  const problem = originIdProblem(originId);
  if (problem !== undefined) throw new InvalidOptionError('RedisInvalidationBus.originId', problem);
  return {
    client,
    channel: options.channel ?? invalidationChannel(prefix),
    secret,
    clock: options.clock ?? systemClock,
    logger: logger as CacheLogger,
    originId,
    replayWindowMs: windowMs,
    heartbeatMs: heartbeatInterval(options.heartbeat, isRedisCluster(client)),
  };
}
