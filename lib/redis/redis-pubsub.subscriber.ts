/**
 * The subscriber connection of a Redis pub/sub user (the invalidation bus, the single-flight coordinator's
 * notices). A connection in SUBSCRIBE mode can run no other command, so each user subscribes on its own
 * duplicate of the passed client (`client.duplicate()`: same server or cluster, same options) and publishes with
 * the passed client. The user owns that duplicate alone: closing it (`quit()`, falling back to `disconnect()`)
 * touches nothing the application uses, and a dropped subscription is detected per user.
 *
 * The duplicate's offline queue is forced on, so SUBSCRIBE can be sent while the new connection is still
 * connecting, even when the application turned it off; ioredis re-subscribes by itself after a reconnection.
 * What to do when the connection drops or is back (SUBSCRIBE once more to learn when the subscription is live
 * again, then make up for the messages that may have been missed) is the user's policy, told through
 * {@link RedisPubSubSubscriberEvents}; the events stop once `close()` or `disconnect()` is called.
 *
 * On a Cluster, a failover is not visible on the connection: ioredis moves the subscription by itself, and a
 * PUBLISH a dying master accepted may never have reached the other nodes. With `onNodeLost`, the duplicate's
 * view of the cluster is refreshed every {@link CLUSTER_TOPOLOGY_REFRESH_MS} (`refreshSlotsCache()` on an unref'd
 * timer the subscriber stops when closed: ioredis refreshes it only on a MOVED reply otherwise, which a subscriber
 * never gets, and its own `slotsRefreshInterval` timer can outlive a `quit()` that lands during a refresh), so a
 * node that left the slot map (a master failed over to its replica) is reported once its slots are served again.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkRedisClient, isRedisCluster, type RedisClient } from './redis-client.js';

/** Checks that `client` is an ioredis client that can publish and be duplicated for a {@link RedisPubSubSubscriber}. */
export function checkPubSubClient(option: string, client: unknown): RedisClient {
  const checked = checkRedisClient(option, client);
  const methods = checked as unknown as Partial<Record<'duplicate' | 'publish', unknown>>;
  if (typeof methods.duplicate !== 'function' || typeof methods.publish !== 'function') {
    throw new InvalidOptionError(option, 'expected an ioredis client with duplicate() and publish()');
  }
  return checked;
}

/** What a {@link RedisPubSubSubscriber} tells its user, until it is closed. */
export interface RedisPubSubSubscriberEvents {
  /** A message, as text (ioredis' 'message' event). @default undefined (not listened to) */
  onMessage?: (channel: string, message: string) => void;
  /** A message, as bytes (ioredis' 'messageBuffer' event). @default undefined (not listened to) */
  onMessageBuffer?: (channel: Buffer, payload: Buffer) => void;
  /** The connection failed (ioredis reconnects by itself unless its `retryStrategy` gives up). */
  onError: (error: Error) => void;
  /** The connection closed: messages published until it is back are lost. */
  onClose: () => void;
  /** The connection is ready, for the first time or after a reconnection. */
  onReady: () => void;
  /** The connection ended and will not reconnect. @default undefined (not listened to) */
  onEnd?: () => void;
  /**
   * Cluster only: a node left the cluster's slot map (a failed master replaced by its promoted replica, a node
   * removed); messages may have been lost. @default undefined (not listened to; the topology is not refreshed)
   */
  onNodeLost?: () => void;
}

/** Time between two refreshes of a Cluster subscriber's slot map when `onNodeLost` is listened to, in ms. */
export const CLUSTER_TOPOLOGY_REFRESH_MS = 1000;

/** A duplicate of a client, subscribing to one channel (see this file's header). */
export class RedisPubSubSubscriber {
  private readonly connection: RedisClient;
  private stopping: Promise<void> | undefined;
  /** The refresh of a Cluster's slot map, while `onNodeLost` is listened to. */
  private topologyTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    client: RedisClient,
    /** The channel {@link subscribe} subscribes to. */
    readonly channel: string,
    private readonly events: RedisPubSubSubscriberEvents,
  ) {
    this.connection = duplicateForSubscribing(client);
    const connection = this.connection;
    if (events.onMessage !== undefined) connection.on('message', events.onMessage);
    if (events.onMessageBuffer !== undefined) connection.on('messageBuffer', events.onMessageBuffer);
    connection.on('error', events.onError);
    connection.on('close', events.onClose);
    connection.on('ready', events.onReady);
    if (events.onEnd !== undefined) connection.on('end', events.onEnd);
    if (events.onNodeLost !== undefined && isRedisCluster(connection)) {
      connection.on('-node', this.nodeLost);
      const cluster = connection;
      this.topologyTimer = setInterval(() => {
        if (cluster.status === 'ready') cluster.refreshSlotsCache();
      }, CLUSTER_TOPOLOGY_REFRESH_MS);
      this.topologyTimer.unref();
    }
  }

  /** Whether the connection is up (a failure now is the server's answer, not the network's). */
  get ready(): boolean {
    return this.connection.status === 'ready';
  }

  /** Sends SUBSCRIBE for the channel (idempotent); resolves once Redis confirmed it. */
  async subscribe(): Promise<void> {
    await this.connection.subscribe(this.channel);
  }

  /**
   * Closes the connection for good: UNSUBSCRIBE and QUIT when it is ready (falling back to a hard disconnect),
   * else a hard disconnect; resolves once it is closed. Idempotent (also with {@link disconnect}).
   */
  close(): Promise<void> {
    this.stopping ??= this.quit();
    return this.stopping;
  }

  /** Closes the connection for good at once, without QUIT; resolves once it is closed. Idempotent. */
  disconnect(): Promise<void> {
    this.stopping ??= this.stop(false);
    return this.stopping;
  }

  private quit(): Promise<void> {
    return this.stop(this.connection.status === 'ready');
  }

  private async stop(graceful: boolean): Promise<void> {
    const connection = this.connection;
    this.detach();
    connection.on('error', ignoreError); // errors while closing are expected and of no interest
    if (graceful) {
      const ended = connectionEnded(connection);
      try {
        await connection.unsubscribe(this.channel);
        await connection.quit();
        await ended;
        return;
      } catch {
        // fall back to a hard disconnect below
      }
    }
    await disconnectConnection(connection);
  }

  private detach(): void {
    const connection = this.connection;
    const events = this.events;
    if (events.onMessage !== undefined) connection.off('message', events.onMessage);
    if (events.onMessageBuffer !== undefined) connection.off('messageBuffer', events.onMessageBuffer);
    connection.off('close', events.onClose);
    connection.off('ready', events.onReady);
    if (events.onEnd !== undefined) connection.off('end', events.onEnd);
    connection.off('-node', this.nodeLost);
    if (this.topologyTimer !== undefined) clearInterval(this.topologyTimer);
    this.topologyTimer = undefined;
    connection.off('error', events.onError);
  }

  private readonly nodeLost = (): void => {
    this.events.onNodeLost?.();
  };
}

/**
 * A new connection for SUBSCRIBE, with the client's options. The offline queue is forced on so SUBSCRIBE can
 * be sent while the new connection is still connecting, even when the application turned it off.
 */
function duplicateForSubscribing(client: RedisClient): RedisClient {
  if (isRedisCluster(client)) return client.duplicate([], { enableOfflineQueue: true });
  return client.duplicate({ enableOfflineQueue: true, autoResubscribe: true });
}

/** Resolves once `connection` reached its final 'end' status (closed, not reconnecting). */
function connectionEnded(connection: RedisClient): Promise<void> {
  if (connection.status === 'end') return Promise.resolve();
  return new Promise((resolve) => connection.once('end', () => resolve()));
}

/**
 * The statuses in which `disconnect()` is followed by an 'end' event (checked on ioredis 5.11). A `Redis`
 * that is 'reconnecting' has no socket: `disconnect()` only cancels the next attempt and no 'end' follows; a
 * `Cluster` emits none when disconnected while 'connecting' or 'reconnecting'. There is nothing to wait for.
 */
const REDIS_ENDS_ON_DISCONNECT: ReadonlySet<string> = new Set(['wait', 'connecting', 'connect', 'ready']);
const CLUSTER_ENDS_ON_DISCONNECT: ReadonlySet<string> = new Set(['wait', 'connect', 'ready']);

/** Disconnects `connection` for good; resolves once it is closed, or at once when no 'end' will come. */
async function disconnectConnection(connection: RedisClient): Promise<void> {
  const endsOn = isRedisCluster(connection) ? CLUSTER_ENDS_ON_DISCONNECT : REDIS_ENDS_ON_DISCONNECT;
  const ended = endsOn.has(connection.status) ? connectionEnded(connection) : undefined;
  connection.disconnect();
  await ended;
}

function ignoreError(): void {}
