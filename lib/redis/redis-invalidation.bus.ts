/**
 * The L1 invalidation bus on Redis pub/sub (see `InvalidationBus` in core for the semantics).
 *
 * Protocol
 * - Channel: `<prefix>\x1finvalidate` (default `lc:\x1finvalidate`), or the `channel` option. Every stack that
 *   shares an L2 and keeps an L1 publishes on and subscribes to the same channel; another prefix or channel is
 *   another, isolated group. U+001F keeps the default channel apart from any name derived from user keys.
 * - Message: one binary payload per announcement (`InvalidationMessageCodec`: magic, format version, flags,
 *   optional HMAC, then a MessagePack array `[originId, kind, ...fields]`). Each bus has a random origin id;
 *   a bus ignores the messages carrying its own (they are counted, never delivered). Keys are the stacks'
 *   internal (namespaced) keys. A "keys" message or an "any"-mode "tags" message with more than
 *   `MAX_INVALIDATION_ITEMS` entries is split into several messages (each with the version, or its tags' versions).
 * - Versions: a "keys" or "clear" message carries the version of the write; a peer drops only its copies
 *   older than that version, so a late or duplicated message never removes a newer value. "tags" messages
 *   carry the versions the tag store gave the tags, "generation" messages the namespace's new generation. Pub/sub is at-most-once: nothing is retried or acknowledged.
 * - HMAC: with a `secret`, every message is signed (HMAC-SHA256 over header, channel, stamp and body) and every
 *   message that is unsigned or signed with another secret (or for another channel) is dropped, logged once per
 *   burst and counted. Peers of one group must share the secret; a bus without one accepts signed and unsigned
 *   messages alike. A signed message's stamp must lie within `replayWindow` and its nonce be new
 *   (`BusFrameFilter`, `ReplayGuard`). Counters are judged by the receiving stack (lib/stack/peer-counters.ts).
 * - Malformed messages (another program on the channel, another format version, garbage) are dropped, logged
 *   once per burst with the reason and the channel, and counted; the bus keeps working.
 * - Reconnect: when the subscriber connection drops, messages published meanwhile are lost. When it is back
 *   (ioredis re-subscribes by itself), the bus subscribes once more and, once Redis confirmed it, calls
 *   `onResubscribed()` (the stack clears its L1) and logs that the L1 may have missed invalidations. Waiting for
 *   the confirmation closes the window in which the L1 could be refilled with a value whose invalidation is
 *   then missed. Not called for the first subscription.
 *
 * One connection per bus: the bus subscribes on its own duplicate of the passed client (`RedisPubSubSubscriber`)
 * and publishes with the passed client, which it never closes.
 *
 * - Heartbeat (`BusHeartbeat`, on by default on a Cluster): a subscription lost without its connection closing is
 *   noticed when the bus stops hearing its own heartbeats, and reported like a reconnection once they are heard
 *   again.
 *
 * Redis Cluster: PUBLISH reaches every node. ioredis' Cluster keeps its subscription on one node and moves it
 * to another node by itself when that one fails; such a move is not visible on the connection, which is why
 * the heartbeat is on by default for Cluster clients: a gap longer than its interval is reported. A failover
 * loses messages even for a bus whose subscription stayed put (a PUBLISH the dying master accepted but never
 * forwarded; a peer's publish that failed during the outage), so every bus of the group watches the slot map on
 * its subscriber connection: when a node left it (its replica was promoted), the bus subscribes once more and
 * reports a resubscription (`onResubscribed()`: the L1 is cleared) once Redis confirmed it.
 *
 * Over 300 lines, a third of them this protocol description: the codec, the signing, the frame filter, the
 * heartbeat and the subscriber connection are in their own files; what stays is their wiring and its states.
 */
import type { BusSubscriptionState, InvalidationBus, InvalidationBusHandlers, InvalidationMessage } from '../core/invalidation-bus.js';
import { BurstLogger, type CacheLogger } from '../core/logger.js';
import type { RedisClient } from './redis-client.js';
import { BusFrameFilter } from './bus-frame-filter.js';
import { BusHeartbeat } from './bus-heartbeat.js';
import { InvalidationMessageCodec, splitInvalidationMessage } from './invalidation-message.codec.js';
import { DEFAULT_MAX_NONCES, ReplayGuard } from './message-signing.js';
import { resolveBusOptions, type RedisInvalidationBusOptions, type RedisInvalidationBusStats } from './redis-invalidation-bus.options.js';
import { RedisPubSubSubscriber } from './redis-pubsub.subscriber.js';

export {
  DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS,
  INVALIDATION_CHANNEL_MARK,
  invalidationChannel,
  type RedisInvalidationBusOptions,
  type RedisInvalidationBusStats,
} from './redis-invalidation-bus.options.js';

type BusState = 'new' | 'starting' | 'started' | 'closed';

/** The Redis pub/sub {@link InvalidationBus} (protocol in this file's header). */
export class RedisInvalidationBus implements InvalidationBus {
  readonly originId: string;
  /** The pub/sub channel, as configured. */
  readonly channel: string;
  private readonly client: RedisClient;
  private readonly codec: InvalidationMessageCodec;
  private readonly logger: CacheLogger;
  private readonly burst: BurstLogger;
  private readonly channelBytes: Buffer;
  private readonly channelLabel: string;
  private state: BusState = 'new';
  private handlers: InvalidationBusHandlers | undefined;
  private subscriber: RedisPubSubSubscriber | undefined;
  private closing: Promise<void> | undefined;
  /** The subscriber connection closed since the last (re)subscription. */
  private interrupted = false;
  /** Bumped on every reconnection, so only the latest re-subscription reports. */
  private generation = 0;
  private readonly counters = { published: 0, received: 0, ownIgnored: 0, malformed: 0, badSignature: 0, replayed: 0, resubscribed: 0, publishErrors: 0, silences: 0 };
  private readonly heartbeat: BusHeartbeat | undefined;
  /** Decoding, signature and replay checks of received payloads. */
  private readonly frames: BusFrameFilter;

  constructor(options: RedisInvalidationBusOptions) {
    const { client, channel, secret, clock, logger, originId, replayWindowMs, heartbeatMs: intervalMs } = resolveBusOptions(options);
    this.client = client;
    this.channel = channel;
    this.codec = new InvalidationMessageCodec({ secret, channel, clock });
    const replays = secret === undefined ? undefined : new ReplayGuard(clock, replayWindowMs, DEFAULT_MAX_NONCES);
    this.logger = logger;
    this.burst = new BurstLogger(logger);
    this.originId = originId;
    this.heartbeat =
      intervalMs === undefined
        ? undefined
        : new BusHeartbeat(clock, intervalMs, {
            send: async (seq) => void (await this.client.publish(this.channel, this.codec.encodePing(this.originId, seq))),
            onSilent: () => this.silent(intervalMs),
            onHeardAgain: () => this.resubscribed(),
          });
    this.channelBytes = Buffer.from(this.channel, 'utf8');
    this.channelLabel = JSON.stringify(this.channel);
    this.frames = new BusFrameFilter(this.codec, replays, this.burst, this.counters, this.channelLabel);
  }

  /** True when messages are signed and only signed messages are accepted. */
  get signed(): boolean {
    return this.codec.signed;
  }

  /** The counters, as plain numbers (a snapshot). */
  stats(): RedisInvalidationBusStats {
    return { ...this.counters };
  }

  /**
   * Where the subscription stands: `interrupted` while the subscriber connection is down (or could not subscribe
   * yet) and while its own heartbeats go unheard; see `BusSubscriptionState`.
   */
  subscription(): BusSubscriptionState {
    switch (this.state) {
      case 'new':
      case 'starting':
        return 'subscribing';
      case 'closed':
        return 'closed';
      case 'started':
        return this.interrupted || this.heartbeat?.silenced === true ? 'interrupted' : 'subscribed';
    }
  }

  async start(handlers: InvalidationBusHandlers): Promise<void> {
    if (this.state !== 'new') {
      throw new Error(this.state === 'closed' ? 'RedisInvalidationBus is closed' : 'RedisInvalidationBus.start() was already called');
    }
    if (typeof handlers !== 'object' || handlers === null || typeof handlers.onMessage !== 'function' || typeof handlers.onResubscribed !== 'function') {
      throw new TypeError('RedisInvalidationBus.start() expects handlers { onMessage, onResubscribed }');
    }
    this.state = 'starting';
    this.handlers = handlers;
    const subscriber = new RedisPubSubSubscriber(this.client, this.channel, {
      onError: this.onError,
      onMessageBuffer: this.onMessageBuffer,
      onClose: this.onClose,
      onReady: this.onReady,
      onEnd: this.onEnd,
      onNodeLost: this.onNodeLost,
    });
    this.subscriber = subscriber;
    try {
      await subscriber.subscribe();
    } catch (error) {
      if (this.isClosed()) return; // closed while starting: nothing to report
      if (!subscriber.ready) {
        // Redis unreachable (an app starting during an outage): keep the connection, which reconnects by itself;
        // its next 'ready' subscribes and reports a resubscription (the L1 is cleared, as after any gap).
        this.state = 'started';
        this.interrupted = true;
        this.heartbeat?.start();
        throw new Error(`RedisInvalidationBus could not subscribe to channel ${this.channelLabel} yet (Redis unreachable); it subscribes when the connection is back`, { cause: error });
      }
      // Redis answered with an error (e.g. an ACL without the channel): retrying would not help.
      this.state = 'closed';
      this.subscriber = undefined;
      await subscriber.disconnect();
      throw new Error(`RedisInvalidationBus could not subscribe to channel ${this.channelLabel}`, { cause: error });
    }
    if (this.isClosed()) return; // closed while starting
    this.state = 'started';
    this.interrupted = false;
    this.heartbeat?.start();
    this.burst.success(this.connectionSource);
  }

  async publish(message: InvalidationMessage): Promise<void> {
    try {
      if (this.state === 'closed') throw new Error('RedisInvalidationBus is closed');
      const parts = splitInvalidationMessage(message);
      const payloads = parts.map((part) => this.codec.encode(this.originId, part));
      await Promise.all(
        payloads.map(async (payload) => {
          await this.client.publish(this.channel, payload);
          this.counters.published++;
        }),
      );
    } catch (error) {
      this.counters.publishErrors++;
      throw error;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The BurstLogger source of the subscriber connection's trouble. */
  private get connectionSource(): string {
    return `RedisInvalidationBus subscriber (channel ${this.channelLabel})`;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    this.heartbeat?.stop();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await subscriber?.close();
  }

  private readonly onMessageBuffer = (channel: Buffer, payload: Buffer): void => {
    const handlers = this.handlers;
    if (this.state === 'closed' || handlers === undefined || !channel.equals(this.channelBytes)) return;
    const result = this.frames.accept(payload);
    if (result === undefined) return;
    if (result.message === undefined) {
      // a heartbeat: ours tells the subscription works; a peer's is nothing to us
      if (result.originId === this.originId) this.heartbeat?.heard(result.ping);
      return;
    }
    if (result.originId === this.originId) {
      this.counters.ownIgnored++;
      return;
    }
    this.frames.delivered();
    this.counters.received++;
    try {
      handlers.onMessage(result.message, result.stamp?.timestampMs);
      this.burst.success(this.handlerSource);
    } catch (error) {
      this.burst.failure(this.handlerSource, `RedisInvalidationBus: the onMessage handler threw on channel ${this.channelLabel}`, error);
    }
  };

  private readonly onClose = (): void => {
    if (this.state !== 'started') return;
    this.interrupted = true;
    this.burst.failure(
      this.connectionSource,
      `RedisInvalidationBus lost its subscriber connection (channel ${this.channelLabel}); invalidations published until it is back are missed`,
      'connection closed',
    );
  };

  private readonly onReady = (): void => {
    if (this.state !== 'started' || !this.interrupted || this.subscriber === undefined) return;
    this.interrupted = false;
    this.burst.success(this.connectionSource);
    this.confirmThenResync();
  };

  /** A node left the Cluster's slot map (a failover): messages may have been lost even if the subscription stayed put. */
  private readonly onNodeLost = (): void => {
    if (this.state !== 'started' || this.interrupted || this.subscriber === undefined) return; // a reconnection reports it
    this.logger.warn(`RedisInvalidationBus: a node left the Redis Cluster (failover) while subscribed to channel ${this.channelLabel}; messages may have been lost`);
    this.confirmThenResync();
  };

  /** SUBSCRIBEs once more and, once Redis confirmed it (and nothing newer happened), reports the resubscription. */
  private confirmThenResync(): void {
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    const generation = ++this.generation;
    // ioredis re-subscribes by itself; this SUBSCRIBE (idempotent) tells when the subscription is live again.
    subscriber.subscribe().then(
      () => {
        if (this.state !== 'started' || this.interrupted || generation !== this.generation) return;
        this.heartbeat?.reset();
        this.resubscribed();
      },
      (error: unknown) => {
        if (this.state !== 'started' || this.interrupted) return; // the connection dropped again: the next 'ready' retries
        this.logger.error(
          `RedisInvalidationBus could not re-subscribe to channel ${this.channelLabel}: ${describeError(error)}; ` +
            'invalidations from peers are not received',
        );
      },
    );
  }

  /** Its own heartbeats are no longer heard: the subscription may be lost (reported once it works again). */
  private silent(intervalMs: number): void {
    this.counters.silences++;
    this.logger.warn(
      `RedisInvalidationBus: no heartbeat heard back on channel ${this.channelLabel} within ${String(intervalMs)} ms; ` +
        'the subscription may have been lost (the L1 is cleared once it is heard again)',
    );
  }

  /** The subscription is back after a gap (a reconnection, or heartbeats heard again): the L1 must be cleared. */
  private resubscribed(): void {
    if (this.state !== 'started') return;
    this.counters.resubscribed++;
    this.logger.warn(
      `RedisInvalidationBus: the subscription to channel ${this.channelLabel} was interrupted and is back; ` +
        'the L1 may have missed invalidations and is being cleared',
    );
    try {
      this.handlers?.onResubscribed();
    } catch (error) {
      this.burst.warn(`RedisInvalidationBus: the onResubscribed handler threw on channel ${this.channelLabel}`, error);
    }
  }

  private readonly onEnd = (): void => {
    if (this.state !== 'started') return;
    this.logger.error(
      `RedisInvalidationBus: the subscriber connection of channel ${this.channelLabel} ended and will not reconnect ` +
        '(its retryStrategy gave up); invalidations from peers are no longer received',
    );
  };

  private readonly onError = (error: Error): void => {
    if (this.state === 'closed') return;
    this.burst.failure(this.connectionSource, `RedisInvalidationBus subscriber connection (channel ${this.channelLabel}) failed`, error);
  };

  /** Not narrowed by TypeScript: close() may run while start() awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private get handlerSource(): string {
    return `RedisInvalidationBus onMessage handler (channel ${this.channelLabel})`;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
