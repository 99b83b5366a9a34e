/**
 * What users configure on a `RedisInvalidationBus` (protocol in `redis-invalidation.bus.ts`), its defaults and
 * the default channel name.
 */
import type { CacheLogger } from '../core/logger.js';
import type { RedisClient } from '../layers/redis-client.js';

/** Options of `RedisInvalidationBus`. */
export interface RedisInvalidationBusOptions {
  /** The ioredis client (`Redis` or `Cluster`) to publish with; the bus subscribes on a duplicate and never closes this one. */
  client: RedisClient;
  /** Key prefix of the stack; names the default channel. @default 'lc:' */
  prefix?: string;
  /** The pub/sub channel. @default `${prefix}\u001finvalidate` */
  channel?: string;
  /** Shared secret: sign messages with HMAC-SHA256 and drop messages not signed with it. @default undefined (unsigned) */
  secret?: string | Buffer;
  /** Where the bus logs dropped messages, connection trouble and reconnections. @default consoleLogger */
  logger?: CacheLogger;
  /** This bus's origin id (unique per bus; at most 256 characters). @default a random UUID */
  originId?: string;
}

/** Defaults of {@link RedisInvalidationBusOptions}. */
export const DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS = Object.freeze({ prefix: 'lc:' });

/** What follows the prefix in the default channel name. */
export const INVALIDATION_CHANNEL_MARK = '\u001finvalidate';

/** The default channel of the stacks using `prefix`. */
export function invalidationChannel(prefix: string): string {
  return prefix + INVALIDATION_CHANNEL_MARK;
}
