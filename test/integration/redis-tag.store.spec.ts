import { InvalidOptionError } from '../../lib/core/errors.js';
import { DEFAULT_REDIS_TAG_STORE_OPTIONS, RedisTagStore, type RedisTagStoreOptions } from '../../lib/redis/redis-tag.store.js';
import { countRoundTrips, keysUnder, uniquePrefix, useTwoTestClients } from '../support/redis-test-client.js';
import { describeTagStoreContract } from '../support/tag-store-contract.js';

const clients = useTwoTestClients();

async function removeKeys(prefix: string): Promise<void> {
  const keys = await keysUnder(clients.client, prefix);
  if (keys.length > 0) await clients.client.unlink(keys);
}

describeTagStoreContract('RedisTagStore', () => {
  const prefix = uniquePrefix('tags');
  return {
    store: new RedisTagStore({ client: clients.client, prefix }),
    // Another connection, as another process would have.
    peer: () => new RedisTagStore({ client: clients.peer, prefix }),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    teardown: () => removeKeys(prefix),
  };
}, 2_000);

const KEEP = 60_000;

describe('RedisTagStore', () => {
  let prefix: string;
  let store: RedisTagStore;

  beforeEach(() => {
    prefix = uniquePrefix('tags');
    store = new RedisTagStore({ client: clients.client, prefix });
  });

  afterEach(() => removeKeys(prefix));

  it('is shared, with the default prefix of the layer', () => {
    expect(store.shared).toBe(true);
    expect(new RedisTagStore({ client: clients.client }).prefix).toBe('lc:');
    expect(DEFAULT_REDIS_TAG_STORE_OPTIONS.prefix).toBe('lc:');
    expect(Object.isFrozen(DEFAULT_REDIS_TAG_STORE_OPTIONS)).toBe(true);
  });

  it('keeps one key per tag under the prefix, with no common hash tag, each expiring after keepMs', async () => {
    const [user, users] = await store.invalidate(['user:1', 'users'], 'any', KEEP);
    const [group] = await store.invalidate(['b', 'a'], 'all', KEEP);
    const generation = await store.bumpGeneration('ns\u001f', 2 * KEEP);
    const keys = (await keysUnder(clients.client, prefix)).map((key) => key.toString()).sort();
    expect(keys).toEqual([`${prefix}\u001ftags:g:ns\u001f`, `${prefix}\u001ftags:t:a`, `${prefix}\u001ftags:t:user:1`, `${prefix}\u001ftags:t:users`].sort());
    expect(keys.some((key) => key.includes('{'))).toBe(false);
    expect(await clients.client.hgetall(store.tagKey('a'))).toEqual({ v: String(group), 'a\u001fb': String(group) });
    expect(await clients.client.hgetall(store.tagKey('users'))).toEqual({ v: String(users), '*': String(users) });
    expect(user).not.toBe(users);
    expect(generation).toBe(1);
    for (const key of keys.filter((k) => k.includes(':t:'))) {
      const ttl = await clients.client.pttl(key);
      expect(ttl).toBeGreaterThan(KEEP - 5_000);
      expect(ttl).toBeLessThanOrEqual(KEEP);
    }
    expect(await clients.client.pttl(store.generationKey('ns\u001f'))).toBeGreaterThan(2 * KEEP - 5_000);
  });

  it('keepGeneration raises a generation, writes it again after it expired, and renews its expiry', async () => {
    expect(await store.bumpGeneration('s\u001f', 200)).toBe(1);
    await store.keepGeneration('s\u001f', 3, KEEP);
    expect(await store.generations(['s\u001f'])).toEqual([3]);
    await store.keepGeneration('s\u001f', 2, KEEP); // never lowers it
    expect(await store.generations(['s\u001f'])).toEqual([3]);
    expect(await clients.client.pttl(store.generationKey('s\u001f'))).toBeGreaterThan(KEEP - 5_000);
    await clients.client.pexpire(store.generationKey('s\u001f'), 50);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await store.generations(['s\u001f'])).toEqual([0]);
    await store.keepGeneration('s\u001f', 3, KEEP);
    expect(await store.generations(['s\u001f'])).toEqual([3]);
  });

  it('fetch of several tags is one round trip; invalidate is one per tag once the script is cached', async () => {
    await store.invalidate(['warm-up'], 'any', KEEP);
    await store.invalidate(['warm', 'up'], 'all', KEEP);
    const counter = countRoundTrips(clients.client);
    try {
      await store.fetch(['a', 'b', 'c', 'warm']);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['hgetall', 'hgetall', 'hgetall', 'hgetall']);
      counter.reset();
      await store.invalidate(['a', 'b', 'c'], 'all', KEEP);
      expect(counter.commands).toEqual(['evalsha']);
      counter.reset();
      await store.invalidate(['a', 'b', 'c'], 'any', KEEP);
      expect(counter.commands).toEqual(['evalsha', 'evalsha', 'evalsha']);
    } finally {
      counter.restore();
    }
  });

  it('loads its scripts again after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    const [first] = await store.invalidate(['a'], 'any', KEEP);
    await clients.client.script('FLUSH');
    const [second] = await store.invalidate(['a'], 'any', KEEP);
    const [third] = await store.invalidate(['a', 'b'], 'all', KEEP);
    expect(second).toBeGreaterThan(first as number);
    expect(third).toBeGreaterThan(second as number);
  });

  it('gives distinct, increasing versions to concurrent invalidations of a tag (atomic per tag)', async () => {
    const peer = new RedisTagStore({ client: clients.peer, prefix });
    const taken = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? store : peer).invalidate(['hot'], i % 3 === 0 ? 'all' : 'any', KEEP)));
    const versions = taken.map(([version]) => version as number);
    expect(new Set(versions).size).toBe(50);
    expect((await store.fetch(['hot']))[0]?.version).toBe(Math.max(...versions));
  });

  it('ignores fields that are not integers (foreign data)', async () => {
    await clients.client.hset(store.tagKey('odd'), '*', 'not a number', 'x\u001fy', '7');
    expect(await store.fetch(['odd'])).toEqual([{ version: 0, any: 0, groups: new Map([['x\u001fy', { tags: ['x', 'y'], version: 7 }]]) }]);
  });

  it('rejects a keepMs that is not a number of ms >= 1', async () => {
    await expect(store.invalidate(['a'], 'any', 0)).rejects.toThrow('keepMs');
    await expect(store.invalidate(['a'], 'any', Number.NaN)).rejects.toThrow('keepMs');
  });

  describe('rejects invalid options, naming the option', () => {
    const cases: [string, () => RedisTagStoreOptions][] = [
      ['RedisTagStore.client', () => ({}) as RedisTagStoreOptions],
      ['RedisTagStore.prefix', () => ({ client: clients.client, prefix: '' })],
    ];
    it.each(cases)('%s', (option, options) => {
      expect(() => new RedisTagStore(options())).toThrow(InvalidOptionError);
      expect(() => new RedisTagStore(options())).toThrow(option);
    });
  });
});
