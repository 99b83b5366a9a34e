import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { InvalidOptionError } from '../../lib/core/errors.js';
import type { InvalidationBusHandlers, InvalidationMessage } from '../../lib/core/invalidation-bus.js';
import type { CacheLogger } from '../../lib/core/logger.js';
import { InvalidationMessageCodec, MAX_INVALIDATION_ITEMS } from '../../lib/redis/invalidation-message.codec.js';
import {
  DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS,
  invalidationChannel,
  RedisInvalidationBus,
  type RedisInvalidationBusOptions,
} from '../../lib/redis/redis-invalidation.bus.js';
import { useTestClusterClients } from '../support/redis-cluster-client.js';
import { startRedisServer } from '../support/redis-server.js';
import { testRedisUrl, uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { eventually } from '../support/wait.js';

const clients = useTwoTestClients();

/** How long an awaited event may take before the test fails (generous: the machine is shared). */
const EVENT_TIMEOUT_MS = 10_000;

/** The handlers of one bus: records what it delivers and resolves waiters on each event (no sleeps). */
class Inbox implements InvalidationBusHandlers {
  readonly messages: InvalidationMessage[] = [];
  resubscribed = 0;
  private readonly waiters = new Set<() => void>();

  onMessage(message: InvalidationMessage): void {
    this.messages.push(message);
    this.wake();
  }

  onResubscribed(): void {
    this.resubscribed++;
    this.wake();
  }

  /** Resolves once `predicate` holds (checked now and after every event); rejects after EVENT_TIMEOUT_MS. */
  until(predicate: () => boolean, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`Timed out after ${EVENT_TIMEOUT_MS} ms waiting for ${what}; got ${JSON.stringify(this.messages)}`));
      }, EVENT_TIMEOUT_MS);
      this.waiters.add(check);
    });
  }

  /** Resolves once `count` messages arrived in total. */
  messageCount(count: number): Promise<void> {
    return this.until(() => this.messages.length >= count, `${count} message(s)`);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A logger that keeps its lines. */
function recordingLogger(): CacheLogger & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn: (message: string) => void lines.push(`warn: ${message}`),
    error: (message: string) => void lines.push(`error: ${message}`),
  };
}

const opened: RedisInvalidationBus[] = [];

/** A started bus with its inbox; closed after the test. */
async function startBus(options: Partial<RedisInvalidationBusOptions> = {}): Promise<{ bus: RedisInvalidationBus; inbox: Inbox }> {
  const bus = new RedisInvalidationBus({ client: clients.client, logger: recordingLogger(), ...options });
  opened.push(bus);
  const inbox = new Inbox();
  await bus.start(inbox);
  return { bus, inbox };
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((bus) => bus.close()));
});

const KEYS: InvalidationMessage = { kind: 'keys', keys: ['ns\u001fuser:1', 'ns\u001fuser:2'], version: 1_767_225_600_123 };
const TAGS_ANY: InvalidationMessage = { kind: 'tags', tags: ['users'], mode: 'any', versions: [7] };
const TAGS_ALL: InvalidationMessage = { kind: 'tags', tags: ['a', 'b'], mode: 'all', versions: [8] };
const CLEAR_PREFIX: InvalidationMessage = { kind: 'clear', prefix: 'ns\u001f', version: 1_767_225_600_124 };
const CLEAR_ALL: InvalidationMessage = { kind: 'clear', prefix: undefined, version: 1_767_225_600_125 };
const GENERATION: InvalidationMessage = { kind: 'generation', scope: 'ns\u001f', generation: 4 };
const EVERY_KIND = [KEYS, TAGS_ANY, TAGS_ALL, CLEAR_PREFIX, CLEAR_ALL, GENERATION];

/** Subscribers of `channel` on the shared server. */
async function subscriberCount(channel: string): Promise<number> {
  const reply = (await clients.client.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

describe('RedisInvalidationBus on a real Redis', () => {
  it('delivers every kind of message to the peer, never back to its publisher', async () => {
    const prefix = uniquePrefix('bus');
    const a = await startBus({ prefix });
    const b = await startBus({ prefix, client: clients.peer });
    expect(a.bus.channel).toBe(`${prefix}\u001finvalidate`);
    expect(await subscriberCount(a.bus.channel)).toBe(2);

    for (const message of EVERY_KIND) await a.bus.publish(message);
    await b.inbox.messageCount(EVERY_KIND.length);
    expect(b.inbox.messages).toStrictEqual(EVERY_KIND);

    for (const message of EVERY_KIND) await b.bus.publish(message);
    await a.inbox.messageCount(EVERY_KIND.length);
    expect(a.inbox.messages).toStrictEqual(EVERY_KIND);

    // One Redis delivers in publish order: a saw its own messages before b's, and dropped them. A last message
    // from a, published after b's, does the same for b.
    const n = EVERY_KIND.length;
    expect(a.bus.stats()).toEqual({ published: n, received: n, ownIgnored: n, malformed: 0, badSignature: 0, replayed: 0, resubscribed: 0, publishErrors: 0, silences: 0 });
    await a.bus.publish(GENERATION);
    await b.inbox.messageCount(EVERY_KIND.length + 1);
    expect(b.bus.stats()).toEqual({ published: n, received: n + 1, ownIgnored: n, malformed: 0, badSignature: 0, replayed: 0, resubscribed: 0, publishErrors: 0, silences: 0 });
    expect(a.bus.originId).not.toBe(b.bus.originId);
  });

  it('isolates groups: another prefix or another channel receives nothing', async () => {
    const prefix = uniquePrefix('bus-iso');
    const a = await startBus({ prefix });
    const b = await startBus({ prefix, client: clients.peer });
    const otherPrefix = await startBus({ prefix: uniquePrefix('bus-iso-other') });
    const otherChannel = await startBus({ prefix, channel: `${prefix}custom` });
    await otherPrefix.bus.publish(KEYS);
    await otherChannel.bus.publish(TAGS_ANY);
    await b.bus.publish(CLEAR_ALL); // published after the others: its arrival proves theirs had been delivered
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([CLEAR_ALL]);
    expect(a.bus.stats()).toMatchObject({ received: 1, malformed: 0, ownIgnored: 0 });
    expect(otherChannel.bus.channel).toBe(`${prefix}custom`);
  });

  it('uses `lc:\\x1finvalidate` by default', () => {
    const bus = new RedisInvalidationBus({ client: clients.client });
    expect(DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS.prefix).toBe('lc:');
    expect(Object.isFrozen(DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS)).toBe(true);
    expect(bus.channel).toBe('lc:\u001finvalidate');
    expect(invalidationChannel('p:')).toBe('p:\u001finvalidate');
    expect(bus.originId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new RedisInvalidationBus({ client: clients.client, originId: 'me' }).originId).toBe('me');
  });

  it('drops garbage published raw on the channel, logs it once per burst with the channel, and keeps working', async () => {
    const prefix = uniquePrefix('bus-garbage');
    const logger = recordingLogger();
    const a = await startBus({ prefix, logger });
    const b = await startBus({ prefix, client: clients.peer });
    await clients.peer.publish(a.bus.channel, 'hello, not a bus message');
    await clients.peer.publish(a.bus.channel, Buffer.from([0x4c, 0x49, 0x01, 0x00, 0x93, 0x01, 0x02, 0x03]));
    await clients.peer.publish(a.bus.channel, Buffer.from([0x4c, 0x49, 0x07, 0x00, 0x90]));
    await b.bus.publish(KEYS);
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([KEYS]);
    expect(a.bus.stats()).toMatchObject({ malformed: 3, received: 1 });
    const dropped = logger.lines.filter((line) => line.includes('malformed'));
    expect(dropped).toHaveLength(2); // the burst's first drop, then its end once a valid message arrived
    expect(dropped[0]).toContain('dropped a malformed message');
    expect(dropped[0]).toContain(JSON.stringify(a.bus.channel));
    expect(dropped[0]).toContain('wrong magic bytes');
    expect(dropped[1]).toMatch(/recovered after 3 failures/);
  });

  it('with secrets: peers sharing the secret deliver; another secret or no signature is dropped and logged', async () => {
    const prefix = uniquePrefix('bus-hmac');
    const logger = recordingLogger();
    const a = await startBus({ prefix, secret: 'shared-secret', logger });
    const b = await startBus({ prefix, secret: Buffer.from('shared-secret'), client: clients.peer });
    const intruder = await startBus({ prefix, secret: 'another-secret', client: clients.peer });
    const unsigned = await startBus({ prefix, client: clients.peer });
    expect(a.bus.signed).toBe(true);

    await intruder.bus.publish(KEYS);
    await unsigned.bus.publish(TAGS_ANY);
    await b.bus.publish(CLEAR_ALL);
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([CLEAR_ALL]);
    expect(a.bus.stats()).toMatchObject({ badSignature: 2, malformed: 0, received: 1 });
    expect(logger.lines[0]).toContain('dropped a message with a bad signature');
    expect(logger.lines[0]).toContain(JSON.stringify(a.bus.channel));
    expect(logger.lines[0]).toContain('another secret or channel, or the message was altered');

    // A bus without a secret has nothing to check: it takes the signed messages of both secrets.
    await unsigned.inbox.messageCount(2);
    expect(unsigned.inbox.messages).toStrictEqual([KEYS, CLEAR_ALL]);
  });

  it('splits a message with more than MAX_INVALIDATION_ITEMS keys into parts with the same version', async () => {
    const prefix = uniquePrefix('bus-split');
    const a = await startBus({ prefix });
    const b = await startBus({ prefix, client: clients.peer });
    const keys = Array.from({ length: 2 * MAX_INVALIDATION_ITEMS + 5 }, (_, i) => `k:${i}`);
    await a.bus.publish({ kind: 'keys', keys, version: 99 });
    await b.inbox.messageCount(3);
    expect(b.inbox.messages.map((m) => m.kind === 'keys' && m.keys.length)).toEqual([MAX_INVALIDATION_ITEMS, MAX_INVALIDATION_ITEMS, 5]);
    expect(b.inbox.messages.flatMap((m) => (m.kind === 'keys' ? m.keys : []))).toEqual(keys);
    expect(b.inbox.messages.every((m) => m.kind === 'keys' && m.version === 99)).toBe(true);
    expect(a.bus.stats().published).toBe(3);
  });

  it('rejects a message it cannot send, counting it', async () => {
    const { bus } = await startBus({ prefix: uniquePrefix('bus-reject') });
    const tooManyAll = Array.from({ length: MAX_INVALIDATION_ITEMS + 1 }, (_, i) => `t${i}`);
    await expect(bus.publish({ kind: 'tags', tags: tooManyAll, mode: 'all', versions: [1] })).rejects.toThrow(/tags has 10001 entries/);
    await expect(bus.publish({ kind: 'keys', keys: ['a'], version: Number.NaN })).rejects.toThrow(TypeError);
    expect(bus.stats()).toMatchObject({ published: 0, publishErrors: 2 });
  });

  it('close() unsubscribes, stops delivery, leaves the passed client usable, and is idempotent', async () => {
    const prefix = uniquePrefix('bus-close');
    const a = await startBus({ prefix });
    const witness = await startBus({ prefix, client: clients.peer });
    const b = await startBus({ prefix, client: clients.peer });
    expect(await subscriberCount(a.bus.channel)).toBe(3);

    await Promise.all([a.bus.close(), a.bus.close()]);
    await a.bus.close();
    expect(await subscriberCount(a.bus.channel)).toBe(2);
    expect(clients.client.status).toBe('ready');
    expect(await clients.client.ping()).toBe('PONG');

    await b.bus.publish(KEYS);
    await witness.inbox.messageCount(1); // the witness got it, so a (closed) would have had it too
    expect(a.inbox.messages).toEqual([]);
    await expect(a.bus.publish(KEYS)).rejects.toThrow(/closed/);
    await expect(a.bus.start(new Inbox())).rejects.toThrow(/closed/);
  });

  it('close() before start() does nothing; start() twice is refused', async () => {
    const never = new RedisInvalidationBus({ client: clients.client });
    await never.close();
    const { bus } = await startBus({ prefix: uniquePrefix('bus-twice') });
    await expect(bus.start(new Inbox())).rejects.toThrow(/already called/);
  });

  it('close() while start() is still subscribing: start() resolves quietly, nothing stays subscribed', async () => {
    const prefix = uniquePrefix('bus-close-early');
    const bus = new RedisInvalidationBus({ client: clients.client, prefix, logger: recordingLogger() });
    const started = bus.start(new Inbox());
    await bus.close();
    await expect(started).resolves.toBeUndefined();
    await eventually(async () => expect(await subscriberCount(bus.channel)).toBe(0));
  });

  it('close() while the subscriber waits to reconnect to a stopped server resolves (no wait for an end that never comes)', async () => {
    const server = await startRedisServer();
    // The duplicate inherits the retry strategy: after the drop it stays 'reconnecting', without a socket.
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 60_000 });
    client.on('error', () => {});
    try {
      let connectionLost: () => void = () => {};
      const lost = new Promise<void>((resolve) => (connectionLost = resolve));
      const lines: string[] = [];
      const logger: CacheLogger = {
        warn: (message: string) => {
          lines.push(message);
          if (message.includes('lost its subscriber connection')) connectionLost();
        },
        error: (message: string) => void lines.push(message),
      };
      const bus = new RedisInvalidationBus({ client, logger });
      await bus.start(new Inbox());
      await server.stop();
      await lost;
      await bus.close();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/lost its subscriber connection \(channel "lc:\\u001finvalidate"\); invalidations published until it is back are missed/);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('start() rejects when SUBSCRIBE is refused, and leaves no connection behind', async () => {
    const user = `bus-nosub-${randomUUID()}`;
    await clients.client.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', 'resetchannels');
    const restricted = new Redis(testRedisUrl(), { username: user, password: 'pw', maxRetriesPerRequest: 1 });
    try {
      const bus = new RedisInvalidationBus({ client: restricted, prefix: uniquePrefix('bus-nosub') });
      await expect(bus.start(new Inbox())).rejects.toThrow(/could not subscribe to channel/);
      await bus.close();
      // The duplicate is gone (the server notices the closed socket a moment after the client did).
      await eventually(async () => {
        const list = (await clients.client.call('CLIENT', 'LIST')) as string;
        expect(list.split('\n').filter((line) => line.includes(`user=${user}`))).toHaveLength(1); // `restricted` itself
      });
    } finally {
      await restricted.quit();
      await clients.client.call('ACL', 'DELUSER', user);
    }
  });

  it('after the subscriber connection is killed server-side: onResubscribed once, a log line, and messages flow again', async () => {
    const prefix = uniquePrefix('bus-kill');
    const name = `bus-kill-${randomUUID().slice(0, 8)}`;
    const named = new Redis(testRedisUrl(), { connectionName: name, maxRetriesPerRequest: 1 });
    try {
      const logger = recordingLogger();
      const a = await startBus({ prefix, client: named, logger });
      const b = await startBus({ prefix, client: clients.peer });

      const list = (await clients.client.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=${name} `))
        .map((line) => /^id=(\d+) /.exec(line)?.[1]);
      expect(ids).toHaveLength(1); // the bus's own duplicate, never the passed client
      expect(await clients.client.call('CLIENT', 'KILL', 'ID', ids[0] as string)).toBe(1);

      await a.inbox.until(() => a.inbox.resubscribed === 1, 'onResubscribed');
      await b.bus.publish(KEYS);
      await a.inbox.messageCount(1);
      expect(a.inbox.messages).toStrictEqual([KEYS]);
      expect(a.inbox.resubscribed).toBe(1);
      expect(a.bus.stats().resubscribed).toBe(1);
      expect(logger.lines.filter((line) => line.includes('may have missed invalidations and is being cleared'))).toHaveLength(1);
      expect(named.status).toBe('ready'); // the passed client was not touched
      expect(await named.ping()).toBe('PONG');
    } finally {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
      await named.quit();
    }
  });

  it('after a Redis restart: onResubscribed once and messages flow again', async () => {
    const server = await startRedisServer();
    const publisher = new Redis(server.url, { maxRetriesPerRequest: null });
    const subscriberClient = new Redis(server.url, { maxRetriesPerRequest: null });
    const silence = (): void => {};
    publisher.on('error', silence);
    subscriberClient.on('error', silence);
    try {
      const logger = recordingLogger();
      const a = await startBus({ client: subscriberClient, logger });
      const b = await startBus({ client: publisher });
      await server.restart();
      await a.inbox.until(() => a.inbox.resubscribed === 1, 'onResubscribed after the restart');
      await b.bus.publish(TAGS_ALL);
      await a.inbox.messageCount(1);
      expect(a.inbox.messages).toStrictEqual([TAGS_ALL]);
      expect(a.inbox.resubscribed).toBe(1);
      expect(logger.lines.filter((line) => line.includes('may have missed invalidations'))).toHaveLength(1);
      await b.inbox.until(() => b.inbox.resubscribed === 1, 'the publishing bus to re-subscribe too');
    } finally {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
      publisher.disconnect();
      subscriberClient.disconnect();
      await server.stop();
    }
  });

  it('started while Redis is down: start() rejects, then the bus subscribes once Redis is back (onResubscribed once)', async () => {
    const server = await startRedisServer();
    await server.stop();
    // The module's fail-fast settings: the SUBSCRIBE sent while disconnected fails instead of waiting.
    const subscriberClient = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 50 });
    subscriberClient.on('error', () => {});
    const logger = recordingLogger();
    const bus = new RedisInvalidationBus({ client: subscriberClient, logger });
    opened.push(bus);
    const inbox = new Inbox();
    try {
      expect(bus.subscription()).toBe('subscribing');
      await expect(bus.start(inbox)).rejects.toThrow('subscribes when the connection is back');
      expect(bus.subscription()).toBe('interrupted'); // what a health check reports
      await server.restart();
      await inbox.until(() => inbox.resubscribed === 1, 'the late subscription');
      expect(bus.subscription()).toBe('subscribed');
      const publisher = new Redis(server.url);
      try {
        const codec = new InvalidationMessageCodec();
        await publisher.publish(bus.channel, codec.encode('a-peer', KEYS));
        await inbox.messageCount(1);
        expect(inbox.messages).toStrictEqual([KEYS]);
      } finally {
        publisher.disconnect();
      }
    } finally {
      await bus.close();
      expect(bus.subscription()).toBe('closed');
      subscriberClient.disconnect();
      await server.stop();
    }
  });

  it('with a heartbeat: a subscription lost without its connection closing is noticed, and reported once it works again', async () => {
    const prefix = uniquePrefix('bus-heartbeat');
    const logger = recordingLogger();
    const a = await startBus({ prefix, logger, heartbeat: '100ms' });
    const b = await startBus({ prefix });
    await b.bus.publish(KEYS);
    await a.inbox.messageCount(1);
    // The subscription silently goes away (as when ioredis moves a Cluster's subscription): the connection stays up.
    const connection = (a.bus as unknown as { subscriber: { connection: Redis } }).subscriber.connection;
    await connection.unsubscribe(a.bus.channel);
    await eventually(async () => expect(logger.lines.some((line) => line.includes('no heartbeat heard back'))).toBe(true));
    await b.bus.publish(TAGS_ANY); // missed
    expect(a.bus.stats().silences).toBe(1);
    expect(a.inbox.resubscribed).toBe(0);
    await connection.subscribe(a.bus.channel);
    await a.inbox.until(() => a.inbox.resubscribed === 1, 'the resubscription to be reported');
    await b.bus.publish(GENERATION);
    await a.inbox.messageCount(2);
    expect(a.inbox.messages).toStrictEqual([KEYS, GENERATION]);
    expect(b.inbox.messages).toStrictEqual([]); // heartbeats are never delivered as messages
    expect(a.bus.stats()).toMatchObject({ resubscribed: 1, silences: 1, received: 2 });
  });

  it('speaks the documented wire format: a raw message signed by another codec with the secret (for this channel) is delivered', async () => {
    const prefix = uniquePrefix('bus-wire');
    const a = await startBus({ prefix, secret: 'k' });
    const otherGroup = new InvalidationMessageCodec({ secret: 'k', channel: invalidationChannel(uniquePrefix('other-group')) });
    await clients.peer.publish(a.bus.channel, otherGroup.encode('another-process', CLEAR_ALL)); // same secret, another group
    const foreign = new InvalidationMessageCodec({ secret: 'k', channel: a.bus.channel });
    await clients.peer.publish(a.bus.channel, foreign.encode('another-process', CLEAR_PREFIX));
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([CLEAR_PREFIX]);
    expect(a.bus.stats()).toMatchObject({ badSignature: 1, received: 1 });
  });

  it('ignores a message carrying its own origin id, even from another connection', async () => {
    const prefix = uniquePrefix('bus-own');
    const a = await startBus({ prefix, originId: 'twin' });
    const codec = new InvalidationMessageCodec();
    await clients.peer.publish(a.bus.channel, codec.encode('twin', KEYS));
    await clients.peer.publish(a.bus.channel, codec.encode('other', TAGS_ANY));
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([TAGS_ANY]);
    expect(a.bus.stats()).toMatchObject({ ownIgnored: 1, received: 1 });
  });

  it('validates its options eagerly, naming the option', () => {
    const cases: [string, Partial<RedisInvalidationBusOptions>][] = [
      ['RedisInvalidationBus.client', { client: {} as Redis }],
      ['RedisInvalidationBus.prefix', { prefix: '' }],
      ['RedisInvalidationBus.channel', { channel: '' }],
      ['RedisInvalidationBus.secret', { secret: '' }],
      ['RedisInvalidationBus.secret', { secret: 12 as unknown as string }],
      ['RedisInvalidationBus.logger', { logger: {} as CacheLogger }],
      ['RedisInvalidationBus.originId', { originId: '' }],
      ['RedisInvalidationBus.originId', { originId: 'x'.repeat(257) }],
      ['RedisInvalidationBus.replayWindow', { replayWindow: '10s' }], // without a secret: nothing to apply it to
      ['RedisInvalidationBus.replayWindow', { secret: 's', replayWindow: 0 }],
      ['RedisInvalidationBus.replayWindow', { secret: 's', replayWindow: 'soon' as '1s' }],
    ];
    for (const [option, overrides] of cases) {
      const create = () => new RedisInvalidationBus({ client: clients.client, ...overrides });
      expect(create).toThrow(InvalidOptionError);
      try {
        create();
      } catch (error) {
        expect((error as InvalidOptionError).option).toBe(option);
      }
    }
    expect(() => new RedisInvalidationBus(undefined as unknown as RedisInvalidationBusOptions)).toThrow(InvalidOptionError);
  });
});

describe('RedisInvalidationBus on a real Redis Cluster', () => {
  const cluster = useTestClusterClients();

  function sortByKind(messages: readonly InvalidationMessage[]): InvalidationMessage[] {
    return [...messages].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  }

  /** Subscribers of `channel` over every master (a Cluster subscription lives on one node). */
  async function clusterSubscriberCount(channel: string): Promise<number> {
    const counts = await Promise.all(
      cluster.client.nodes('master').map(async (node) => Number(((await node.pubsub('NUMSUB', channel)) as [string, number])[1])),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  it('delivers every kind between buses on Cluster clients (PUBLISH reaches every node), never back to the publisher', async () => {
    const prefix = uniquePrefix('bus-cluster');
    const a = await startBus({ prefix, client: cluster.client });
    const b = await startBus({ prefix, client: cluster.peer });
    expect(await clusterSubscriberCount(a.bus.channel)).toBe(2);
    for (const message of EVERY_KIND) await a.bus.publish(message);
    // A Cluster publishes through any node and forwards over the cluster bus: the order is not kept.
    await b.inbox.messageCount(EVERY_KIND.length);
    expect(sortByKind(b.inbox.messages)).toStrictEqual(sortByKind(EVERY_KIND));
    await b.bus.publish(KEYS);
    await a.inbox.messageCount(1);
    expect(a.inbox.messages).toStrictEqual([KEYS]);
    // Nor is there a barrier across nodes: a's own messages are awaited on its counter.
    await eventually(async () => expect(a.bus.stats()).toMatchObject({ ownIgnored: EVERY_KIND.length, received: 1, published: EVERY_KIND.length }));
    await eventually(async () => expect(b.bus.stats()).toMatchObject({ ownIgnored: 1, received: EVERY_KIND.length, published: 1 }));
  }, 20_000);

  it('close() unsubscribes and closes only its duplicate Cluster', async () => {
    const prefix = uniquePrefix('bus-cluster-close');
    const a = await startBus({ prefix, client: cluster.client });
    expect(await clusterSubscriberCount(a.bus.channel)).toBe(1);
    await a.bus.close();
    expect(await clusterSubscriberCount(a.bus.channel)).toBe(0);
    expect(cluster.client.status).toBe('ready');
    expect(await cluster.client.ping()).toBe('PONG');
  }, 20_000);
});
