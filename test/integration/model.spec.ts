/**
 * A randomized test of the multi-instance guarantee: several CacheStacks, each on its own Redis connection (as
 * separate processes would be) with its own L1, the Redis invalidation bus and the single-flight coordinator,
 * run random gets, sets, deletes and tag invalidations concurrently. Afterwards every read is checked against
 * the history: no read may return a value older than a write, delete or tag invalidation that completed more
 * than BOUND_MS before the read began (and began after that value's write completed).
 *
 * The seed is printed, and can be fixed with LAYERCACHE_MODEL_SEED to replay a run.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { TEST_REDIS_URL_ENV } from '../support/redis.global-setup.js';
import { uniquePrefix } from '../support/redis-test-client.js';
import { prng } from '../support/prng.js';

jest.setTimeout(60_000);

/** How stale a read may be, after the invalidation that should have hidden its value completed. */
const BOUND_MS = 100;
const INSTANCES = 3;
const KEYS = 6;
const WORKERS = 6;
const RUN_MS = 3_000;


interface Mutation {
  kind: 'set' | 'delete' | 'tag';
  /** The key set or deleted, or the tag invalidated. */
  target: string;
  writeId: number | undefined;
  start: number;
  end: number;
}

interface Read {
  instance: number;
  key: string;
  writeId: number | undefined;
  start: number;
}

const tagOf = (key: string): string => `t${Number(key.slice(1)) % 2}`;

describe('several instances against a model (randomized)', () => {
  const clients: Redis[] = [];
  const stacks: CacheStack[] = [];
  afterAll(async () => {
    await Promise.all(stacks.map((stack) => stack.close()));
    await Promise.all(clients.map((client) => client.quit()));
  });

  it(`no read returns a value invalidated more than ${BOUND_MS} ms before it began`, async () => {
    const url = process.env[TEST_REDIS_URL_ENV];
    if (url === undefined) throw new Error(`${TEST_REDIS_URL_ENV} is not set`);
    const seed = Number(process.env['LAYERCACHE_MODEL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`model test seed: ${seed} (replay with LAYERCACHE_MODEL_SEED=${seed})`);
    const random = prng(seed);
    const prefix = `${uniquePrefix()}:`;
    for (let i = 0; i < INSTANCES; i++) {
      const client = new Redis(url);
      clients.push(client);
      const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
        ttl: 60,
        invalidationBus: new RedisInvalidationBus({ client, prefix }),
        singleFlight: new RedisSingleFlightCoordinator({ client, prefix }),
      });
      await stack.ready();
      stacks.push(stack);
    }

    const mutations: Mutation[] = [];
    const writes = new Map<number, Mutation>();
    const reads: Read[] = [];
    let nextWrite = 1;
    const stopAt = performance.now() + RUN_MS;

    const worker = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        // Think time: sparse enough writes that an L1 copy can outlive a peer's write by more than the bound.
        await new Promise((resolve) => setTimeout(resolve, random() * 20));
        const instance = Math.floor(random() * INSTANCES);
        const stack = stacks[instance] as CacheStack;
        const key = `k${Math.floor(random() * KEYS)}`;
        const dice = random();
        const start = performance.now();
        if (dice < 0.55) {
          const value = await stack.get<{ w: number }>(key);
          reads.push({ instance, key, writeId: value?.w, start });
        } else if (dice < 0.8) {
          const writeId = nextWrite++;
          const mutation: Mutation = { kind: 'set', target: key, writeId, start, end: Number.POSITIVE_INFINITY };
          writes.set(writeId, mutation);
          await stack.set(key, { w: writeId }, { tags: [tagOf(key)] });
          mutation.end = performance.now();
          mutations.push(mutation);
        } else if (dice < 0.92) {
          await stack.delete(key);
          mutations.push({ kind: 'delete', target: key, writeId: undefined, start, end: performance.now() });
        } else {
          const tag = tagOf(key);
          await stack.invalidateByTag(tag);
          mutations.push({ kind: 'tag', target: tag, writeId: undefined, start, end: performance.now() });
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));

    const violations: string[] = [];
    let valuesRead = 0;
    for (const read of reads) {
      if (read.writeId === undefined) continue;
      valuesRead++;
      const write = writes.get(read.writeId);
      if (write === undefined || write.target !== read.key) {
        violations.push(`instance ${read.instance} read ${read.key} = w${read.writeId}, which was never written under that key`);
        continue;
      }
      const superseding = mutations.find(
        (m) =>
          (m.target === read.key || m.target === tagOf(read.key)) &&
          m.writeId !== read.writeId &&
          m.start > write.end && // began after the value's write completed …
          m.end < read.start - BOUND_MS, // … and completed well before the read began
      );
      if (superseding !== undefined) {
        violations.push(
          `instance ${read.instance} read ${read.key} = w${read.writeId} at ${read.start.toFixed(1)} ms, but a ${superseding.kind} of ` +
            `${superseding.target} completed at ${superseding.end.toFixed(1)} ms`,
        );
      }
    }
    console.log(`model test: ${reads.length} reads (${valuesRead} with a value), ${mutations.length} mutations, ${violations.length} violations`);
    expect(reads.length).toBeGreaterThan(100);
    expect(valuesRead).toBeGreaterThan(10); // the check had something to check
    expect(violations).toEqual([]);
  });
});
