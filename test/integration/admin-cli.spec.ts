/**
 * The admin CLI (`npx nestjs-layercache`, lib/cli) as a real child process against the run's redis-server, with
 * a cache instance in ANOTHER process (test/support/peer-process.ts) holding in-process (L1) copies: an
 * `invalidate` must reach that L1 through the bus (its `peek` reads L1 only), signed when the group has a secret;
 * `keys` lists entries only (never the library's own keys) up to `--limit`; `inspect` reports state, windows,
 * tags against the tag store, version, size and compression of entries a real stack wrote; exit codes and
 * `--json` documents for scripts.
 */
import { jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { FakeClock } from '../support/fake-clock.js';
import { cliJson, runCliProcess, type CliRun } from '../support/cli-process.js';
import { Peer } from '../support/peer-client.js';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis-test-client.js';
import { testClusterNodes, useTestClusterClients } from '../support/redis-cluster-client.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';

jest.setTimeout(60_000);

/** Polls `peer`'s L1 until `key` is gone; fails after `boundMs`. */
async function untilDropped(peer: Peer, key: string, namespace?: string, boundMs = 5_000): Promise<void> {
  const since = performance.now();
  for (;;) {
    const peeked = await peer.call<{ miss?: boolean }>({ op: 'peek', key, ...(namespace !== undefined && { namespace }) });
    if (peeked.miss === true) return;
    if (performance.now() - since > boundMs) throw new Error(`${peer.name} still holds ${key} in L1 after ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function peek(peer: Peer, key: string, namespace?: string): Promise<{ miss?: boolean; value?: unknown }> {
  return peer.call({ op: 'peek', key, ...(namespace !== undefined && { namespace }) });
}

describe('admin CLI against a running stack in another process', () => {
  let prefix: string;
  let peer: Peer | undefined;
  let client: Redis;
  const cli = (args: string[], env?: Record<string, string>): Promise<CliRun> => runCliProcess([...args, '--redis', testRedisUrl(), '--prefix', prefix], env);

  beforeAll(() => {
    client = testRedisClient();
  });
  afterAll(async () => {
    await client.quit();
  });
  beforeEach(() => {
    prefix = uniquePrefix('cli');
  });
  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
  });

  it('invalidate --key deletes the key in Redis and the peer\'s L1 drops its copy through the bus', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix });
    await peer.call({ op: 'set', key: 'user:1', value: 'ada' });
    await peer.call({ op: 'set', key: 'user:2', value: 'bob' });
    expect(await peek(peer, 'user:1')).toEqual({ value: 'ada' });
    const run = await cli(['invalidate', '--key', 'user:1', '--json']);
    expect(run.code).toBe(0);
    expect(cliJson(run)).toMatchObject({ action: 'delete', keys: ['user:1'], announced: true, messages: 1, peers: 1, signed: false });
    await untilDropped(peer, 'user:1');
    expect(await client.exists(`${prefix}user:1`)).toBe(0);
    expect(await peek(peer, 'user:2')).toEqual({ value: 'bob' });
  });

  it('invalidate --tag makes the peer\'s tagged L1 copies misses and leaves the others', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix });
    await peer.call({ op: 'set', key: 'p1', value: 'v', tags: ['products'] });
    await peer.call({ op: 'set', key: 'o1', value: 'w', tags: ['orders'] });
    const run = await cli(['invalidate', '--tag', 'products']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('invalidated tag products');
    expect(run.stdout).toContain('to 1 subscribed instance');
    await untilDropped(peer, 'p1');
    expect(await peek(peer, 'o1')).toEqual({ value: 'w' });
    // The tag store recorded it: a fresh read of p1 anywhere is a miss, and inspect says why.
    const inspected = cliJson<{ invalidatedByTags: boolean; tags: { tag: string; rejectedBy: { version: number } | null }[] }>(await cli(['inspect', 'p1', '--json']));
    expect(inspected.invalidatedByTags).toBe(true);
    expect(inspected.tags).toEqual([expect.objectContaining({ tag: 'products', rejectedBy: { tags: ['products'], version: expect.any(Number) } })]);
  });

  it('invalidate --namespace moves the namespace to its next generation and the peer drops its copies', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix });
    await peer.call({ op: 'set', key: 'u1', value: 1, namespace: 'users' });
    await peer.call({ op: 'set', key: 'u1', value: 'root' });
    const run = await cli(['invalidate', '--namespace', 'users', '--json']);
    expect(run.code).toBe(0);
    expect(cliJson(run)).toMatchObject({ action: 'bump-generation', namespaces: ['users'], generation: 1 });
    await untilDropped(peer, 'u1', 'users');
    expect(await peek(peer, 'u1')).toEqual({ value: 'root' });
    expect(await peer.call({ op: 'get', key: 'u1', namespace: 'users' })).toBeUndefined();
  });

  it('invalidate --key-prefix deletes the matching keys (peer L1 included) and refuses past --limit', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix });
    for (const key of ['session:a', 'session:b', 'sessions', 'other']) await peer.call({ op: 'set', key, value: key });
    const refused = await cli(['invalidate', '--key-prefix', 'session', '--limit', '2', '--json']);
    expect(refused.code).toBe(2);
    expect(cliJson(refused)).toMatchObject({ error: { kind: 'usage' } });
    expect(await client.exists(`${prefix}session:a`, `${prefix}session:b`, `${prefix}sessions`)).toBe(3);
    const run = await cli(['invalidate', '--key-prefix', 'session:', '--json']);
    expect(cliJson(run)).toMatchObject({ action: 'invalidate-prefix', deleted: 2 });
    await untilDropped(peer, 'session:a');
    await untilDropped(peer, 'session:b');
    expect(await peek(peer, 'sessions')).toEqual({ value: 'sessions' });
  });

  it('signs with LAYERCACHE_SECRET: a peer with a secret ignores an unsigned invalidation and applies a signed one', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix, secret: 'group-secret' });
    await peer.call({ op: 'set', key: 'a', value: 1 });
    await peer.call({ op: 'set', key: 'b', value: 2 });
    const unsigned = await cli(['invalidate', '--key', 'a', '--json']);
    expect(cliJson(unsigned)).toMatchObject({ signed: false, announced: true });
    const signed = await cli(['invalidate', '--key', 'b', '--json'], { LAYERCACHE_SECRET: 'group-secret' });
    expect(cliJson(signed)).toMatchObject({ signed: true, announced: true });
    await untilDropped(peer, 'b');
    // Messages of one channel arrive in order: the unsigned one came before and was dropped.
    expect(await peek(peer, 'a')).toEqual({ value: 1 });
    const peerMetrics = await peer.call<{ metrics: { bus: { received: number } } }>({ op: 'metrics' });
    expect(peerMetrics.metrics.bus.received).toBe(1);
  });

  it('keys lists entry keys of the root or a namespace up to --limit, never the library\'s own keys', async () => {
    const redis = testRedisClient();
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: redis, prefix })], { ttl: 60 });
    try {
      await stack.ready();
      await stack.setMany(Array.from({ length: 25 }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, value: i, options: { tags: ['t'] } })));
      await stack.set('other', 1);
      await stack.namespace('ns').set('k-in-ns', 1);
      await stack.invalidateByTag('gone'); // tag records and the sequence: the library's own keys
      await stack.namespace('ns').bumpGeneration();
      await stack.namespace('ns').set('k-new', 2);
    } finally {
      await stack.close();
      await redis.quit();
    }
    const all = cliJson<{ keys: string[]; count: number; truncated: boolean }>(await cli(['keys', '*', '--json']));
    expect(all.truncated).toBe(false);
    expect(all.keys).toEqual([...Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`), 'other']);
    const limited = await cli(['keys', 'k*', '--limit', '10', '--json']);
    expect(limited.code).toBe(0);
    expect(cliJson(limited)).toMatchObject({ count: 10, limit: 10, truncated: true });
    expect(limited.stderr).toContain('--limit 10');
    const one = await cli(['keys', 'k0?']);
    expect(one.stdout.trim().split('\n')).toEqual(['k00', 'k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09']);
    expect(one.stderr).toBe(''); // no progress line: stderr is not a terminal
    const ns = cliJson<{ keys: string[]; generations: number[] }>(await cli(['keys', '*', '--namespace', 'ns', '--json']));
    expect(ns).toMatchObject({ keys: ['k-new'], generations: [0, 1] });
  });

  it('inspect reports state, windows, tags, version, size and compression of what a stack wrote', async () => {
    const redis = testRedisClient();
    // Written 90 s ago with ttl 60 s and staleWhileRevalidate 60 s: stale now, for 30 s more.
    const clock = new FakeClock(Date.now() - 90_000);
    const stack = new CacheStack([new RedisLayer({ client: redis, prefix, compression: 'gzip' })], { ttl: 60, staleWhileRevalidate: 60, clock });
    try {
      await stack.ready();
      await stack.set('big', 'x'.repeat(5000), { tags: ['a', 'b'] });
      await stack.set('small', { n: 1 }, { ttl: 3600 });
      await stack.invalidateByTags(['a', 'b'], 'all');
    } finally {
      await stack.close();
      await redis.quit();
    }
    const big = cliJson<Record<string, any>>(await cli(['inspect', 'big', '--json']));
    expect(big).toMatchObject({ found: true, state: 'stale', invalidatedByTags: true, createdAt: clock.now(), freshUntil: clock.now() + 60_000, staleUntil: clock.now() + 120_000, compression: { algorithm: 'gzip' }, valueEncoding: 'msgpack' });
    expect(big.remaining.fresh).toBe(0);
    expect(big.remaining.stale).toBeGreaterThan(20_000);
    expect(big.remaining.stale).toBeLessThanOrEqual(30_000);
    expect(big.remaining.redisTtl).toBeGreaterThan(20_000);
    expect(big.tags).toEqual([
      { tag: 'a', recorded: expect.any(Number), invalidatedAt: 0, rejectedBy: { tags: ['a', 'b'], version: expect.any(Number) } },
      { tag: 'b', recorded: expect.any(Number), invalidatedAt: 0, rejectedBy: null },
    ]);
    expect(big.compression.inflatedSize).toBeGreaterThan(5000);
    expect(big.size).toBeLessThan(500);
    expect(Math.floor(big.version / 1000)).toBe(clock.now());
    const small = cliJson<Record<string, any>>(await cli(['inspect', 'small', '--json']));
    expect(small).toMatchObject({ state: 'fresh', invalidatedByTags: false, tags: [], compression: null, value: '{ n: 1 }' });
    const human = await cli(['inspect', 'big']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/state +stale, but invalidated by a tag/);
    expect(human.stdout).toMatch(/tag +a: REJECTED by the invalidation of a \+ b at \d{4}-/);
  });

  it('stats counts entries, tag records, generations and the bus subscribers of running stacks', async () => {
    peer = await Peer.start('peer', { redisUrl: testRedisUrl(), prefix });
    await peer.call({ op: 'set', key: 'x', value: 1, tags: ['t1'] });
    await peer.call({ op: 'set', key: 'y', value: 2, namespace: 'ns' });
    await peer.call({ op: 'invalidateTag', tag: 't2' });
    await cli(['invalidate', '--namespace', 'other']);
    const stats = cliJson<Record<string, any>>(await cli(['stats', '--json']));
    expect(stats).toMatchObject({ entries: 2, namespaces: { '': 1, ns: 1 }, tagRecords: 1, generationsBumped: { other: 1 }, bus: { invalidationSubscribers: 1, fillSubscribers: 1 } });
    expect(stats.sample).toMatchObject({ sampled: 2, fresh: 2 });
    expect(stats.server.usedMemory).toBeGreaterThan(0);
  });

  it('exit codes: 1 for a missing key, 2 for usage errors, 3 when Redis cannot be reached', async () => {
    const missing = await cli(['inspect', 'nope', '--json']);
    expect(missing.code).toBe(1);
    expect(cliJson(missing)).toMatchObject({ found: false, redisKey: `${prefix}nope` });
    for (const args of [['keys'], ['frob'], ['stats', '--limit', '3'], ['invalidate'], ['invalidate', '--key', 'a', '--tag', 'b'], ['keys', '*', '--limit', '0'], ['inspect', 'bad\u0001key']]) {
      const run = await cli([...args, '--json']);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(cliJson(run)).toMatchObject({ error: { kind: 'usage' } });
    }
    const unreachable = await runCliProcess(['stats', '--redis', 'redis://127.0.0.1:1', '--timeout', '2s', '--json']);
    expect(unreachable.code).toBe(3);
    expect(cliJson(unreachable)).toMatchObject({ error: { kind: 'connection' } });
    expect(unreachable.stderr).toContain('cannot reach Redis');
    const help = await runCliProcess(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: nestjs-layercache');
  });
});

describe('admin CLI on a Redis Cluster', () => {
  const clients = useTestClusterClients();

  it('keys scans every master and invalidate --key deletes across slots', async () => {
    const prefix = uniquePrefix('cli-cluster');
    const stack = new CacheStack([new RedisLayer({ client: clients.client, prefix })], { ttl: 60 });
    await stack.ready();
    const keys = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    await stack.setMany(keys.map((key) => ({ key, value: key })));
    await stack.close();
    const nodes = testClusterNodes().flatMap((node) => ['--redis', `redis://${node.host}:${node.port}`]);
    const listed = await runCliProcess(['keys', 'c*', '--cluster', ...nodes, '--prefix', prefix, '--json']);
    expect(listed.code).toBe(0);
    expect(cliJson<{ keys: string[] }>(listed).keys).toEqual(keys);
    const removed = await runCliProcess(['invalidate', '--key', 'c00', '--key', 'c07', '--cluster', ...nodes, '--prefix', prefix, '--json']);
    expect(cliJson(removed)).toMatchObject({ action: 'delete', announced: true });
    expect(await clients.client.exists(`${prefix}c00`)).toBe(0);
    expect(await clients.client.exists(`${prefix}c07`)).toBe(0);
    expect(await clients.client.exists(`${prefix}c01`)).toBe(1);
    await Promise.all(keys.map((key) => clients.client.unlink(`${prefix}${key}`)));
  });
});
