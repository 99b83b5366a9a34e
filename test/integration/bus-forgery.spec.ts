/**
 * A hostile PUBLISHer on a real redis-server (raw `PUBLISH`, as `redis-cli` would): forged bus messages with
 * out-of-range counters on an unsigned bus, captured signed messages replayed, signed messages stamped outside
 * the replay window, and forged or replayed single-flight notices. The stacks are real (MemoryLayer + RedisLayer
 * + RedisInvalidationBus); what is asserted is what a user would see: the value served and the metrics.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import type { InvalidationMessage } from '../../lib/core/invalidation-bus.js';
import type { CacheLogger } from '../../lib/core/logger.js';
import { InvalidationMessageCodec } from '../../lib/redis/invalidation-message.codec.js';
import { invalidationChannel, RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import type { LoadLease, LoadTicket } from '../../lib/core/load-coordinator.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { FakeClock } from '../support/fake-clock.js';
import { testRedisUrl, uniquePrefix } from '../support/redis-test-client.js';
import { eventually } from '../support/wait.js';

const MAX = Number.MAX_SAFE_INTEGER; // 2^53 − 1
jest.setTimeout(30_000);

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

function client(): Redis {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  cleanup.push(() => redis.quit());
  return redis;
}

const quiet: CacheLogger = { warn: () => undefined, error: () => undefined };

/** `count` stacks of one group on the test server (own connection each), with their L1 and bus. */
async function group(count: number, secret?: string) {
  const prefix = uniquePrefix('forgery');
  const peers = [];
  for (let i = 0; i < count; i++) {
    const l1 = new MemoryLayer();
    const bus = new RedisInvalidationBus({ client: client(), prefix, logger: quiet, ...(secret !== undefined && { secret }) });
    const stack = new CacheStack([l1, new RedisLayer({ client: client(), prefix })], { ttl: 60, invalidationBus: bus, logger: quiet });
    cleanup.push(() => stack.close());
    await stack.ready();
    peers.push({ stack, l1, bus });
  }
  return { prefix, channel: invalidationChannel(prefix), peers };
}

/** PUBLISHes `payload` on `channel` from a connection of its own (the attacker's). */
async function publishRaw(channel: string, payload: Buffer | string): Promise<void> {
  await client().publish(channel, payload);
}

const rejected = (stack: CacheStack): number => stack.getMetrics().bus?.rejected ?? 0;
/** Waits until `stack` received `count` peers' messages (applied or not: the forged one has arrived). */
const heard = (stack: CacheStack, count: number) => eventually(() => expect(stack.getMetrics().bus?.received).toBe(count));
/** Waits until `bus` handled `count` messages from others (delivered, or dropped as replayed). */
const handled = (bus: RedisInvalidationBus, count: number) => eventually(() => expect(bus.stats().received + (bus.stats().replayed ?? 0)).toBe(count));

describe('an unsigned bus rejects forged messages with out-of-range counters (raw PUBLISH)', () => {
  const forge = (message: InvalidationMessage): Buffer => new InvalidationMessageCodec().encode('attacker', message);

  it('a version of 2^53−1 does not freeze the version clocks: a peer\'s set and delete still evict the L1 copy', async () => {
    const { channel, peers } = await group(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await publishRaw(channel, forge({ kind: 'keys', keys: ['unrelated'], version: MAX }));
    await heard(a.stack, 1);
    await heard(b.stack, 1);
    await b.stack.set('k', 'b-old');
    await heard(a.stack, 2);
    await a.stack.set('k', 'a-new');
    await heard(b.stack, 2);
    expect(await b.stack.get('k')).toBe('a-new');
    await a.stack.delete('k');
    await heard(b.stack, 3);
    expect(await b.stack.get('k')).toBeUndefined();
    expect([rejected(a.stack), rejected(b.stack)]).toEqual([1, 1]);
  });

  it('a tag sequence of 2^53−1 does not make the tag\'s entries reload on every read', async () => {
    const { channel, peers } = await group(1);
    const [b] = peers as [(typeof peers)[0]];
    let loads = 0;
    const load = () => `v${++loads}`;
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    await publishRaw(channel, forge({ kind: 'tags', tags: ['products'], mode: 'any', versions: [MAX] }));
    await heard(b.stack, 1);
    await b.stack.idle(); // the check against the tag store
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    expect(await b.stack.get('p', load, { tags: ['products'] })).toBe('v1');
    expect(loads).toBe(1);
    expect(rejected(b.stack)).toBe(1);
  });

  it('a generation of 2^53−1 does not make bumpGeneration() a no-op', async () => {
    const { channel, peers } = await group(2);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    await publishRaw(channel, forge({ kind: 'generation', scope: '', generation: MAX }));
    await heard(b.stack, 1);
    await b.stack.idle(); // the check against the tag store
    await b.stack.set('k', 'before-bump');
    expect(await a.stack.bumpGeneration()).toBe(1);
    await eventually(async () => expect(await b.stack.get('k')).toBeUndefined());
    expect(await b.stack.bumpGeneration()).toBe(2);
    expect(rejected(b.stack)).toBe(1);
  });
});

describe('a signed bus drops replayed and outdated messages (raw PUBLISH)', () => {
  const SECRET = 'correct horse battery staple';

  it('a captured signed "clear" published again does not empty the peer\'s L1', async () => {
    const { channel, peers } = await group(2, SECRET);
    const [a, b] = peers as [(typeof peers)[0], (typeof peers)[0]];
    const spy = client();
    const captured: Buffer[] = [];
    spy.on('messageBuffer', (_channel: Buffer, payload: Buffer) => captured.push(payload));
    await spy.subscribe(channel);
    await a.stack.clear();
    await eventually(() => expect(captured).toHaveLength(1));
    await eventually(() => expect(b.stack.getMetrics().bus?.received).toBe(1));
    await b.stack.set('k', 'kept');
    for (let i = 0; i < 3; i++) await publishRaw(channel, captured[0] as Buffer);
    await handled(b.bus, 4);
    expect(b.l1.get('k')?.value).toBe('kept');
    expect(b.stack.getMetrics().bus?.received).toBe(1);
    expect(b.bus.stats().replayed).toBe(3);
  });

  it('a correctly signed message stamped outside the replay window is dropped; inside it, delivered', async () => {
    const { channel, peers } = await group(1, SECRET);
    const [b] = peers as [(typeof peers)[0]];
    await b.stack.set('k', 'kept');
    const old = new InvalidationMessageCodec({ secret: SECRET, channel, clock: new FakeClock(Date.now() - 31_000) });
    await publishRaw(channel, old.encode('attacker', { kind: 'clear', prefix: undefined, version: 1 }));
    await handled(b.bus, 1);
    expect(b.l1.get('k')?.value).toBe('kept');
    expect(b.bus.stats().replayed).toBe(1);
    const fresh = new InvalidationMessageCodec({ secret: SECRET, channel });
    await publishRaw(channel, fresh.encode('peer', { kind: 'clear', prefix: undefined, version: 1 }));
    await eventually(() => expect(b.l1.get('k')).toBeUndefined());
  });
});

describe('single-flight fill notices are signed with a secret (raw PUBLISH)', () => {
  const SECRET = 's3cret';

  function coordinator(prefix: string, secret: string | undefined): RedisSingleFlightCoordinator {
    const c = new RedisSingleFlightCoordinator({ client: client(), prefix, logger: quiet, pollInterval: '30s', ...(secret !== undefined && { secret }) });
    cleanup.push(() => c.close());
    return c;
  }
  const leaseOf = (ticket: LoadTicket): LoadLease => {
    if (ticket.role !== 'leader') throw new Error('expected to lead');
    return ticket.lease;
  };
  const waitOf = (ticket: LoadTicket): Promise<string> => {
    if (ticket.role !== 'follower') throw new Error('expected to follow');
    return ticket.wait;
  };

  it('a forged notice (unsigned, or signed with another secret) does not wake a follower; the real one does', async () => {
    const prefix = uniquePrefix('notice');
    const leader = coordinator(prefix, SECRET);
    const follower = coordinator(prefix, SECRET);
    const lease = leaseOf(await leader.acquire('k', 30_000, 30_000));
    const wait = waitOf(await follower.acquire('k', 30_000, 30_000));
    const outsider = coordinator(uniquePrefix('other'), 'another secret');
    const forgedSigned = (outsider as unknown as { notices: { encode(kind: string, key: string): string } }).notices.encode('filled', 'k');
    await publishRaw(follower.channel, 'fk');
    await publishRaw(follower.channel, forgedSigned);
    await lease.release();
    expect(await wait).toBe('released');
    expect(follower.noticesDropped).toBe(2);
  });

  it('a captured signed notice published again is dropped as a replay', async () => {
    const prefix = uniquePrefix('notice');
    const leader = coordinator(prefix, SECRET);
    const follower = coordinator(prefix, SECRET);
    const spy = client();
    const captured: string[] = [];
    spy.on('message', (_channel: string, message: string) => captured.push(message));
    await spy.subscribe(follower.channel);
    const first = leaseOf(await leader.acquire('k', 30_000, 30_000));
    const firstWait = waitOf(await follower.acquire('k', 30_000, 30_000));
    await first.filled();
    expect(await firstWait).toBe('filled');
    await first.release();
    await eventually(() => expect(captured).toHaveLength(2));
    const second = leaseOf(await leader.acquire('k', 30_000, 30_000));
    const secondWait = waitOf(await follower.acquire('k', 30_000, 30_000));
    await publishRaw(follower.channel, captured[0] as string); // the captured "filled"
    await second.release();
    expect(await secondWait).toBe('released');
    expect(follower.noticesDropped).toBe(1);
  });

  it('validates the secret and the replay window, naming the option', () => {
    const redis = client();
    expect(() => new RedisSingleFlightCoordinator({ client: redis, secret: '' })).toThrow(/"RedisSingleFlightCoordinator\.secret"/);
    expect(() => new RedisSingleFlightCoordinator({ client: redis, replayWindow: '10s' })).toThrow(/"RedisSingleFlightCoordinator\.replayWindow".*set `secret` too/);
    expect(() => new RedisSingleFlightCoordinator({ client: redis, secret: 's', replayWindow: 0 })).toThrow(/"RedisSingleFlightCoordinator\.replayWindow"/);
  });

  it('without a secret, notices stay as before (`f<key>` / `r<key>`) and wake followers', async () => {
    const prefix = uniquePrefix('notice');
    const leader = coordinator(prefix, undefined);
    const follower = coordinator(prefix, undefined);
    leaseOf(await leader.acquire('k', 30_000, 30_000));
    const wait = waitOf(await follower.acquire('k', 30_000, 30_000));
    await publishRaw(follower.channel, 'fk');
    expect(await wait).toBe('filled');
  });
});
