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
    teardown: () => removeKeys(prefix),
  };
});

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

  it('keeps its keys under the prefix, all with the {tags} hash tag (one Cluster slot)', async () => {
    await store.invalidate(['user:1', 'users'], 'any');
    await store.invalidate(['b', 'a'], 'all');
    const keys = (await keysUnder(clients.client, prefix)).map((key) => key.toString()).sort();
    expect(keys).toEqual(
      [`${prefix}\u001f{tags}:seq`, `${prefix}\u001f{tags}:t:a`, `${prefix}\u001f{tags}:t:user:1`, `${prefix}\u001f{tags}:t:users`].sort(),
    );
    expect(keys.every((key) => key.indexOf('{') === prefix.length + 1)).toBe(true);
    expect(await clients.client.hgetall(store.tagKey('a'))).toEqual({ 'a\u001fb': '2' });
    expect(await clients.client.hgetall(store.tagKey('users'))).toEqual({ '*': '1' });
    expect(await clients.client.get(store.sequenceKey)).toBe('2');
  });

  it('fetch of several tags is one round trip; invalidate is one once the script is cached', async () => {
    await store.invalidate(['warm-up'], 'any');
    await store.invalidate(['warm', 'up'], 'all');
    const counter = countRoundTrips(clients.client);
    try {
      await store.fetch(['a', 'b', 'c', 'warm']);
      expect(counter.roundTrips).toBe(1);
      expect(counter.commands).toEqual(['hgetall', 'hgetall', 'hgetall', 'hgetall']);
      counter.reset();
      await store.invalidate(['a', 'b', 'c'], 'any');
      await store.invalidate(['a', 'b', 'c'], 'all');
      expect(counter.roundTrips).toBe(2);
      expect(counter.commands).toEqual(['evalsha', 'evalsha']);
    } finally {
      counter.restore();
    }
  });

  it('loads its scripts again after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    await store.invalidate(['a'], 'any');
    await clients.client.script('FLUSH');
    expect(await store.invalidate(['a'], 'any')).toBe(2);
    expect(await store.invalidate(['a', 'b'], 'all')).toBe(3);
  });

  it('counts invalidations atomically under concurrency', async () => {
    const peer = new RedisTagStore({ client: clients.peer, prefix });
    const taken = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? store : peer).invalidate([`t${i % 5}`], i % 3 === 0 ? 'all' : 'any')),
    );
    expect([...taken].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await store.snapshot()).toBe(50);
  });

  it('ignores fields that are not sequences (foreign data)', async () => {
    await clients.client.hset(store.tagKey('odd'), '*', 'not a number', 'x\u001fy', '7');
    expect(await store.fetch(['odd'])).toEqual([{ seq: 0, groups: new Map([['x\u001fy', { tags: ['x', 'y'], seq: 7 }]]) }]);
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
