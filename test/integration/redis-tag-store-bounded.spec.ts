/**
 * Bounded Redis memory: 100,000 invalidated tags leave no key once their keep time has passed. Its own file (and
 * so its own Jest worker and client) because it is the heaviest Redis test: on a loaded CI machine it takes tens of
 * seconds, and commands of its still in flight must never reach another test's round-trip counter.
 */
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { keysUnder, testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import type { Redis } from 'ioredis';

const TAGS = 100_000;
const BATCH = 1_000;
/** Batches in flight at once: the connection stays busy without one batch's reply waiting on another's. */
const IN_FLIGHT = 8;

let client: Redis;
const prefix = uniquePrefix('tags-bounded');

beforeAll(() => {
  client = testRedisClient();
});

afterAll(async () => {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.unlink(keys);
  await client.quit();
});

async function invalidateAll(store: RedisTagStore, tags: readonly string[], keepMs: number): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < tags.length; i += BATCH) batches.push(tags.slice(i, i + BATCH));
  const next = async (): Promise<void> => {
    for (let batch = batches.pop(); batch !== undefined; batch = batches.pop()) await store.invalidate(batch, 'any', keepMs);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, next));
}

it('leaves 100,000 invalidated tags no key once keepMs has passed', async () => {
  const store = new RedisTagStore({ client, prefix });
  const tags = Array.from({ length: TAGS }, (_, i) => `user:${i}`);
  // Kept long first (so the count below does not depend on how fast this machine writes), then invalidated again
  // with a keep time of 1 s: each invalidation sets the record's expiry to its own keep time.
  await invalidateAll(store, tags, 600_000);
  expect((await keysUnder(client, prefix)).length).toBe(TAGS);
  await invalidateAll(store, tags, 1_000);
  const written = Date.now();
  expect(await client.pttl(store.tagKey('user:0'))).toBeLessThanOrEqual(1_000);
  await new Promise((resolve) => setTimeout(resolve, written + 1_100 - Date.now()));
  // Redis expires lazily and by sampling: a key past its expiry is never returned, and SCAN skips it.
  expect((await keysUnder(client, prefix)).length).toBe(0);
  expect(await store.fetch(tags.slice(0, 3))).toEqual([undefined, undefined, undefined]);
}, 180_000);
