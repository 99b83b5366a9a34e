/**
 * Expiring tag records and namespace generations on a real Redis, in real time (the records expire by Redis's own
 * PEXPIRE, so no fake clock): two instances (memory L1 + RedisLayer, the Redis bus) with `maxLifetime: '1s'`, so
 * a tag record is kept 2 s (`tagKeepMs`) and a generation 4 s, renewed every second while a stack knows it.
 * - An entry written before an invalidation is never served again, by either instance, nor by a third without the
 *   bus, nor by a process started at any moment after it (which knows of the invalidation only what Redis keeps), from
 *   the invalidation until after its tag's record expired; a later invalidation (its record created again) still
 *   invalidates.
 * - A bumped generation outlives its keep time while a stack runs, and expires once the last one closed.
 */
import type { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { tagKeepMs } from '../../lib/stack/stack-tags.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { eventually, sleep } from '../support/wait.js';

const MAX_LIFETIME_MS = 1_000;
const KEEP_MS = tagKeepMs(MAX_LIFETIME_MS);
const POLL_MS = 100;

describe('tag records and generations expire on a real Redis (maxLifetime: 1s)', () => {
  const clients: Redis[] = [];
  const stacks: CacheStack[] = [];
  let admin: Redis;

  beforeAll(() => {
    admin = testRedisClient();
  });
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  afterAll(async () => {
    await admin.quit();
  });

  function client(): Redis {
    const c = testRedisClient();
    clients.push(c);
    return c;
  }

  /** An instance on `prefix`; without the bus, it reads the states of tags from Redis at every L2 read. */
  async function instance(prefix: string, bus = true): Promise<CacheStack> {
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: client(), prefix })], {
      logger: new RecordingLogger(),
      ...(bus && { invalidationBus: new RedisInvalidationBus({ client: client(), prefix }) }),
      maxLifetime: '1s',
    });
    stacks.push(stack);
    await stack.ready();
    return stack;
  }

  it('keeps a tag record 2 s; an entry written before the invalidation is never served again, before or after the record expired', async () => {
    expect(KEEP_MS).toBe(2 * MAX_LIFETIME_MS);
    const prefix = uniquePrefix('tag-expiry');
    const recordKey = new RedisTagStore({ client: admin, prefix }).tagKey('t');
    const a = await instance(prefix);
    const b = await instance(prefix);
    let loads = 0;
    const load = async () => `new-${++loads}`;
    expect(await a.get('k', async () => 'old', { tags: ['t'] })).toBe('old');
    expect(await a.get('w', async () => 'old', { tags: ['t'] })).toBe('old');
    expect(await b.get('k')).toBe('old');
    expect(await b.get('w')).toBe('old');

    await a.invalidateByTag('t');
    const invalidatedAt = Date.now();
    const pttl = await admin.pttl(recordKey);
    expect(pttl).toBeGreaterThan(KEEP_MS - 500);
    expect(pttl).toBeLessThanOrEqual(KEEP_MS);
    await eventually(async () => expect(await b.get('w')).toBeUndefined()); // the bus message reached b
    // c has no bus: it judges the entries by the record in Redis alone, at every read.
    const c = await instance(prefix, false);
    // A process started at each poll knows nothing of the invalidation: what it serves depends on Redis alone.
    const joiners = client();
    const lateJoinerReads = async () => {
      const joiner = new CacheStack([new MemoryLayer(), new RedisLayer({ client: joiners, prefix })], { logger: new RecordingLogger(), maxLifetime: '1s' });
      try {
        return [await joiner.get('w'), await joiner.get('k')];
      } finally {
        await joiner.close();
      }
    };

    // The instances read both keys every ~100 ms ("k" with a loader, "w" without) until after the record expired.
    const served = new Set<unknown>();
    let expiredAt: number | undefined;
    let polls = 0;
    while (expiredAt === undefined || Date.now() - expiredAt < 500) {
      for (const stack of [a, b, c]) {
        served.add(await stack.get('k', load, { tags: ['t'] }));
        served.add(await stack.get('w'));
      }
      for (const value of await lateJoinerReads()) served.add(value);
      polls++;
      if (expiredAt === undefined && (await admin.exists(recordKey)) === 0) expiredAt = Date.now();
      expect(Date.now() - invalidatedAt).toBeLessThan(KEEP_MS + 8_000); // a bound on the loop, generous for a loaded machine
      await sleep(POLL_MS);
    }
    expect(served.has('old')).toBe(false);
    expect(expiredAt - invalidatedAt).toBeGreaterThanOrEqual(KEEP_MS - 100);
    expect(await admin.pttl(recordKey)).toBe(-2);
    expect(polls).toBeGreaterThan(5); // about 20 on an idle machine
    expect(served.has(undefined)).toBe(true); // "w" was read and found invalid (or expired)
    expect(loads).toBeGreaterThan(1); // "k" was reloaded as its copies expired

    // The record is gone: a fresh entry records no version, and a new invalidation still invalidates it.
    expect(await a.get('fresh', async () => 'before', { tags: ['t'] })).toBe('before');
    expect(await b.get('fresh')).toBe('before');
    await b.invalidateByTag('t');
    expect(await admin.exists(recordKey)).toBe(1);
    expect(await b.get('fresh')).toBeUndefined();
    await eventually(async () => expect(await a.get('fresh')).toBeUndefined());
    expect(await a.get('fresh', async () => 'after', { tags: ['t'] })).toBe('after');
    expect(await b.get('fresh')).toBe('after');
  }, 20_000);

  it('a bumped generation is renewed while a stack runs (past 2 × its keep time) and expires after the last stack closed', async () => {
    const prefix = uniquePrefix('gen-expiry');
    const generationKey = new RedisTagStore({ client: admin, prefix }).generationKey('');
    const a = await instance(prefix);
    expect(await a.bumpGeneration()).toBe(1);
    const firstPttl = await admin.pttl(generationKey);
    expect(firstPttl).toBeGreaterThan(2 * KEEP_MS - 500);
    expect(firstPttl).toBeLessThanOrEqual(2 * KEEP_MS);
    const b = await instance(prefix); // reads generation 1 at start, renews it too

    /** Samples the generation's PTTL every 200 ms for `ms`: it must stay set all along. */
    async function staysSet(ms: number) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        expect(await admin.pttl(generationKey)).toBeGreaterThan(0);
        await sleep(200);
      }
      expect(await admin.get(generationKey)).toBe('1');
    }

    await staysSet(2 * KEEP_MS + 500); // kept 2 × keepMs from the bump: only the renewals keep it past that
    await a.set('k', 'v');
    expect(await admin.exists(`${prefix}1\u001ck`)).toBe(1); // written under generation 1
    await a.close();
    await staysSet(2 * KEEP_MS + 500); // b alone
    await b.set('k2', 'v');
    expect(await admin.exists(`${prefix}1\u001ck2`)).toBe(1);
    await b.close();
    const closedAt = Date.now();
    await eventually(async () => expect(await admin.exists(generationKey)).toBe(0), 2 * KEEP_MS + 2_000);
    expect(Date.now() - closedAt).toBeGreaterThan(KEEP_MS / 2); // it lived on for its keep time, then expired
  }, 30_000);
});
