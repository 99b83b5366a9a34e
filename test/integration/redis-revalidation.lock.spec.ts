import type { Redis } from 'ioredis';
import { InvalidOptionError } from '../../lib/core/errors.js';
import { LOCK_KEY_MARK, RedisRevalidationLock } from '../../lib/redis/redis-revalidation.lock.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { countRoundTrips, keysUnder, uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { describeRevalidationLockContract } from '../support/revalidation-lock-contract.js';

const clients = useTwoTestClients();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describeRevalidationLockContract('RedisRevalidationLock', () => {
  const prefix = uniquePrefix('lock');
  return {
    lock: new RedisRevalidationLock({ client: clients.client, prefix }),
    // Another connection, as another process would have.
    peer: new RedisRevalidationLock({ client: clients.peer, prefix }),
    pass: sleep, // Redis expires keys on its own clock: real time has to pass
    shortTtl: 250,
  };
});

describe('RedisRevalidationLock on a real Redis', () => {
  it('stores one key per lease, `<prefix>\\x1flock:<key>`, holding a token, with the ttl as PX', async () => {
    const prefix = uniquePrefix('lock-layout');
    const lock = new RedisRevalidationLock({ client: clients.client, prefix });
    const lease = await lock.acquire('user:1', 30_000);
    expect(lock.lockKey('user:1')).toBe(`${prefix}${LOCK_KEY_MARK}user:1`);
    const token = await clients.client.get(lock.lockKey('user:1'));
    expect(token).toMatch(/^[\w-]{16,}$/);
    const pttl = await clients.client.pttl(lock.lockKey('user:1'));
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    expect((await keysUnder(clients.client, prefix)).map((k) => k.toString())).toEqual([lock.lockKey('user:1')]);
    await lease?.release();
    expect(await clients.client.exists(lock.lockKey('user:1'))).toBe(0);
  });

  it('tokens differ per lease: two holders over time never share one', async () => {
    const lock = new RedisRevalidationLock({ client: clients.client, prefix: uniquePrefix('lock-token') });
    const first = await lock.acquire('k', 10_000);
    const token1 = await clients.client.get(lock.lockKey('k'));
    await first?.release();
    await lock.acquire('k', 10_000);
    expect(await clients.client.get(lock.lockKey('k'))).not.toBe(token1);
    await clients.client.del(lock.lockKey('k'));
  });

  it('renew sets the PTTL to the new ttl (compare-and-PEXPIRE), only while the token matches', async () => {
    const lock = new RedisRevalidationLock({ client: clients.client, prefix: uniquePrefix('lock-renew') });
    const lease = await lock.acquire('k', 1_000);
    expect(await lease?.renew(60_000)).toBe(true);
    expect(await clients.client.pttl(lock.lockKey('k'))).toBeGreaterThan(59_000);
    await clients.client.set(lock.lockKey('k'), 'someone-else', 'PX', 5_000); // the lease expired and a peer took it
    expect(await lease?.renew(60_000)).toBe(false);
    expect(await clients.client.pttl(lock.lockKey('k'))).toBeLessThanOrEqual(5_000); // the peer's lease is untouched
    expect(await lease?.release()).toBe(false);
    expect(await clients.client.get(lock.lockKey('k'))).toBe('someone-else');
    await clients.client.del(lock.lockKey('k'));
  });

  it('acquire is one round trip (SET NX PX); renew and release use EVALSHA, falling back to EVAL after SCRIPT FLUSH', async () => {
    const lock = new RedisRevalidationLock({ client: clients.client, prefix: uniquePrefix('lock-trips') });
    const counter = countRoundTrips(clients.client);
    try {
      const lease = await lock.acquire('k', 10_000);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['set']);
      await clients.client.script('FLUSH'); // harmless for other tests: every script user falls back to EVAL
      counter.reset();
      expect(await lease?.renew(10_000)).toBe(true);
      // NOSCRIPT, then EVAL (unless a parallel test cached the script meanwhile: then EVALSHA alone).
      expect(counter.commands[0]).toBe('evalsha');
      expect(counter.commands.slice(1).every((c) => c === 'eval')).toBe(true);
      counter.reset();
      expect(await lease?.renew(10_000)).toBe(true);
      expect(counter.commands).toEqual(['evalsha']); // cached by the EVAL
      counter.reset();
      expect(await lease?.release()).toBe(true);
      expect(counter.commands[0]).toBe('evalsha');
      expect(counter.roundTrips).toBeLessThanOrEqual(2);
    } finally {
      counter.restore();
    }
  });

  it('RedisLayer offers a lock on its clients.client and prefix, and its clear() keeps lock keys', async () => {
    const prefix = uniquePrefix('lock-layer');
    const layer = new RedisLayer({ client: clients.client, prefix });
    const lock = layer.createRevalidationLock();
    expect(lock).toBeInstanceOf(RedisRevalidationLock);
    expect(lock.prefix).toBe(prefix);
    const lease = await lock.acquire('k', 10_000);
    const until = Date.now() + 10_000;
    await layer.set('k', { value: 1, createdAt: Date.now(), freshUntil: until, staleUntil: until, errorUntil: until, tags: undefined, tagVersions: undefined }, 10_000);
    await layer.clear(undefined);
    expect(await layer.get('k')).toBeUndefined();
    expect(await clients.client.exists(lock.lockKey('k'))).toBe(1);
    expect(await lease?.release()).toBe(true);
  });

  it('rejects a missing client or an empty prefix, naming the option', () => {
    expect(() => new RedisRevalidationLock({ client: {} as Redis })).toThrow(InvalidOptionError);
    expect(() => new RedisRevalidationLock({ client: clients.client, prefix: '' })).toThrow(/RedisRevalidationLock\.prefix/);
  });
});
