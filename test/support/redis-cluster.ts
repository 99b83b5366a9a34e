/**
 * Starts a real Redis Cluster for the tests (redis-server processes on free loopback ports, slots assigned) and
 * stops it. Hard part: the nodes must agree on the slot map before the first command (`waitForClusterOk`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisServerHandle } from './redis-server.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of master nodes (no replicas); the 16384 slots are split evenly between them. @default 3 */
  masters?: number;
  /**
   * Whether to resolve only once every node reports `cluster_state:ok`. A fresh master waits about 2 s after
   * its start before it reports ok (Redis' writable delay); pass `false` to return as soon as the cluster is
   * formed and let the tests that use it await {@link waitForClusterOk}. @default true
   */
  waitForOk?: boolean;
  /** How long {@link waitForClusterOk} may take, in milliseconds. @default 15_000 */
  okTimeoutMs?: number;
}

/** A loopback address of a cluster node. */
export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A Redis Cluster started by {@link startRedisCluster}. */
export interface RedisClusterHandle {
  /** The master nodes, in slot order (the first one serves slot 0). */
  readonly nodes: readonly ClusterNodeAddress[];
  /** Stops every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const SLOT_COUNT = 16_384;

/**
 * Starts a real Redis Cluster of `masters` redis-server processes on free loopback ports, each in its own
 * temporary directory (its `nodes.conf`), without persistence, and forms it the way
 * `redis-cli --cluster create ... --cluster-replicas 0` does: every node gets an even range of slots and its
 * own config epoch, then the first node MEETs the others. It talks to the nodes through ioredis, so
 * `redis-cli` is not needed.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError(`masters must be a positive integer, got ${masters}`);
  const root = await mkdtemp(join(tmpdir(), 'layercache-cluster-'));
  const servers: RedisServerHandle[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(servers.map((server) => server.stop()));
    await rm(root, { recursive: true, force: true });
  };

  try {
    const started = await Promise.allSettled(
      Array.from({ length: masters }, async (_, index) => {
        const dir = await mkdtemp(join(root, `node-${index}-`));
        return redisServerModule().startRedisServer({
          args: ['--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
        });
      }),
    );
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;

    const nodes = servers.map((server) => ({ host: LOOPBACK, port: server.port }));
    await formCluster(nodes);
    if (options.waitForOk ?? true) await waitForClusterOk(nodes, options.okTimeoutMs);
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * test/support/redis-server.ts, required by its real `.ts` name: the integration project's globalSetup loads
 * this file outside Jest's module system, where a static `import './redis-server.js'` cannot be resolved (see
 * redis.global-setup.ts). Only {@link startRedisCluster} needs it, and only the globalSetup calls that.
 */
function redisServerModule(): typeof import('./redis-server.js') {
  return createRequire(import.meta.url)('./redis-server.ts') as typeof import('./redis-server.js');
}

/** Assigns the slots evenly, one config epoch per node, and joins the nodes (CLUSTER MEET from the first). */
async function formCluster(nodes: readonly ClusterNodeAddress[]): Promise<void> {
  await withNodeClients(nodes, async (clients) => {
    await Promise.all(
      clients.map(async (client, index) => {
        const first = Math.floor((SLOT_COUNT * index) / clients.length);
        const last = Math.floor((SLOT_COUNT * (index + 1)) / clients.length) - 1;
        // ADDSLOTS rather than ADDSLOTSRANGE (Redis 7+), so Redis 6 servers work too.
        const slots = Array.from({ length: last - first + 1 }, (_, offset) => first + offset);
        await client.call('CLUSTER', 'ADDSLOTS', ...slots);
        // Only valid while the node knows no other node: before the MEETs.
        await client.call('CLUSTER', 'SET-CONFIG-EPOCH', index + 1);
      }),
    );
    const [first, ...others] = clients;
    await Promise.all(others.map((_, index) => first?.call('CLUSTER', 'MEET', LOOPBACK, (nodes[index + 1] as ClusterNodeAddress).port)));
  });
}

/**
 * Resolves once every node of `nodes` reports `cluster_state:ok` in `CLUSTER INFO` and knows all of
 * them (so a client may ask any of them for the slot map); rejects after `timeoutMs`.
 */
export async function waitForClusterOk(nodes: readonly ClusterNodeAddress[], timeoutMs = 15_000): Promise<void> {
  await withNodeClients(nodes, async (clients) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
      const ready = infos.every(
        (info) => /^cluster_state:ok\r?$/m.test(info) && Number(/^cluster_known_nodes:(\d+)\r?$/m.exec(info)?.[1]) === nodes.length,
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`The Redis Cluster was not ok within ${timeoutMs} ms:\n${infos.join('\n---\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}

/** Parses `LAYERCACHE_TEST_REDIS_CLUSTER_NODES`-style text: `host:port` pairs separated by commas. */
export function parseClusterNodes(text: string): ClusterNodeAddress[] {
  return text.split(',').map((pair) => {
    const colon = pair.lastIndexOf(':');
    const port = Number(pair.slice(colon + 1));
    if (colon < 1 || !Number.isInteger(port) || port <= 0) throw new Error(`Not a host:port pair: ${JSON.stringify(pair)}`);
    return { host: pair.slice(0, colon), port };
  });
}

/** Formats `nodes` for `LAYERCACHE_TEST_REDIS_CLUSTER_NODES`: `host:port` pairs separated by commas. */
export function formatClusterNodes(nodes: readonly ClusterNodeAddress[]): string {
  return nodes.map((node) => `${node.host}:${node.port}`).join(',');
}

/** Runs `work` with one plain (non-cluster) connection per node, quitting them afterwards. */
async function withNodeClients<T>(nodes: readonly ClusterNodeAddress[], work: (clients: Redis[]) => Promise<T>): Promise<T> {
  const clients = nodes.map((node) => new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1, lazyConnect: true }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    return await work(clients);
  } finally {
    clients.forEach((client) => client.disconnect());
  }
}
