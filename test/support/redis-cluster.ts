/**
 * Starts a real Redis Cluster for the tests (redis-server processes on free loopback ports, slots assigned,
 * optionally replicas) and stops it; kills a node for failover tests. Hard part: the nodes must agree on the slot
 * map (and the replicas be in sync) before the first command (`waitForClusterOk`).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisServerHandle } from './redis-server.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of master nodes; the 16384 slots are split evenly between them. @default 3 */
  masters?: number;
  /**
   * Number of replicas of each master (`--cluster-replicas`), so a killed master fails over to one of them.
   * @default 0
   */
  replicas?: number;
  /**
   * The nodes' `cluster-node-timeout` in milliseconds: how long a master may be unreachable before it is marked
   * failed and a replica takes over. @default 2000
   */
  nodeTimeoutMs?: number;
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
  /** The master nodes as started, in slot order (the first one serves slot 0). */
  readonly nodes: readonly ClusterNodeAddress[];
  /** The replicas as started: `replicas[i * perMaster + j]` replicates `nodes[i]`. Empty without replicas. */
  readonly replicas: readonly ClusterNodeAddress[];
  /**
   * Kills the node at `node`'s port with SIGKILL (no shutdown, no failover handshake: a crash) and resolves once
   * it no longer answers. {@link stop} still cleans up after it.
   */
  kill(node: ClusterNodeAddress): Promise<void>;
  /** Stops every node and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const SLOT_COUNT = 16_384;

/**
 * Starts a real Redis Cluster of `masters` redis-server processes (and `replicas` per master) on free loopback
 * ports, each in its own temporary directory (its `nodes.conf`), without persistence, and forms it the way
 * `redis-cli --cluster create ... --cluster-replicas <replicas>` does: every master gets an even range of slots
 * and its own config epoch, then the first node MEETs the others and each replica REPLICATEs its master. It talks
 * to the nodes through ioredis, so `redis-cli` is not needed.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError(`masters must be a positive integer, got ${masters}`);
  const perMaster = options.replicas ?? 0;
  if (!Number.isInteger(perMaster) || perMaster < 0) throw new RangeError(`replicas must be a non-negative integer, got ${perMaster}`);
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs < 100) throw new RangeError(`nodeTimeoutMs must be an integer of at least 100, got ${nodeTimeoutMs}`);
  const total = masters * (1 + perMaster);
  const root = await mkdtemp(join(tmpdir(), 'layercache-cluster-'));
  trackRoot(root);
  const servers: RedisServerHandle[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(servers.map((server) => server.stop()));
    await rm(root, { recursive: true, force: true });
    liveRoots.delete(root);
  };

  try {
    const started = await Promise.allSettled(
      Array.from({ length: total }, async (_, index) => {
        const dir = await mkdtemp(join(root, `node-${index}-`));
        const args = ['--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs)];
        // A replica takes over however long it was cut off from its master (the test kills masters at will).
        if (perMaster > 0) args.push('--cluster-replica-validity-factor', '0');
        return (await redisServerModule()).startRedisServer({ args });
      }),
    );
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;

    const all = servers.map((server) => ({ host: LOOPBACK, port: server.port }));
    const nodes = all.slice(0, masters);
    const replicas = all.slice(masters);
    await formCluster(nodes, replicas);
    if (options.waitForOk ?? true) await waitForClusterOk(all, options.okTimeoutMs);
    return { nodes, replicas, kill: killNode, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Directories of the clusters not stopped yet: removed on any exit of the process (the servers are killed there too). */
const liveRoots = new Set<string>();
let exitHookInstalled = false;

/**
 * Registers `root` for removal on exit: a process stopped by a signal (`npm run bench`'s SIGINT/SIGTERM handling
 * calls `process.exit`) never reaches `stop()`, and the nodes' directories would stay in the temporary directory.
 */
function trackRoot(root: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const dir of liveRoots) rmSync(dir, { recursive: true, force: true });
    });
  }
  liveRoots.add(root);
}

/**
 * test/support/redis-server.ts. The integration project's globalSetup loads this file outside Jest's module system,
 * where a static `import './redis-server.js'` cannot be resolved (see redis.global-setup.ts): there it is required
 * by its real `.ts` name. A test file (Jest's ESM runtime, where that `require` of an ES module fails) gets it by
 * `import()` instead.
 */
async function redisServerModule(): Promise<typeof import('./redis-server.js')> {
  try {
    return createRequire(import.meta.url)('./redis-server.ts') as typeof import('./redis-server.js');
  } catch {
    return import('./redis-server.js');
  }
}

/**
 * Assigns the slots evenly over `nodes`, one config epoch per master, joins every node (CLUSTER MEET from the
 * first) and makes each replica REPLICATE its master (`replicas` in master order, as many per master).
 */
async function formCluster(nodes: readonly ClusterNodeAddress[], replicas: readonly ClusterNodeAddress[]): Promise<void> {
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
    const [first] = clients;
    await Promise.all([...nodes.slice(1), ...replicas].map((node) => first?.call('CLUSTER', 'MEET', LOOPBACK, node.port)));
  });
  if (replicas.length === 0) return;
  const perMaster = replicas.length / nodes.length;
  const masterIds = await withNodeClients(nodes, (clients) => Promise.all(clients.map((client) => client.call('CLUSTER', 'MYID') as Promise<string>)));
  await withNodeClients(replicas, (clients) =>
    Promise.all(
      clients.map(async (client, index) => {
        const masterId = masterIds[Math.floor(index / perMaster)] as string;
        // The replica must have heard of its master (gossip from the MEETs) before it may replicate it.
        const deadline = Date.now() + 10_000;
        while (!((await client.call('CLUSTER', 'NODES')) as string).includes(masterId)) {
          if (Date.now() > deadline) throw new Error(`Replica ${index} never learned of master ${masterId}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.call('CLUSTER', 'REPLICATE', masterId);
      }),
    ),
  );
}

/** SIGKILLs the redis-server listening on `node` (its pid from INFO) and resolves once the port no longer answers. */
async function killNode(node: ClusterNodeAddress): Promise<void> {
  const info = await withNodeClients([node], ([client]) => client?.info('server') as Promise<string>);
  const pid = Number(/^process_id:(\d+)\r?$/m.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`No process_id in INFO of ${node.host}:${node.port}`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  const { answersPing } = await redisServerModule();
  while (await answersPing(node.port)) {
    if (Date.now() > deadline) throw new Error(`${node.host}:${node.port} still answers after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Resolves once every node of `nodes` (masters and replicas) reports `cluster_state:ok` in `CLUSTER INFO` and
 * knows all of them (so a client may ask any of them for the slot map), and every replica among them has its
 * link to its master up (`master_link_status:up`: in sync, so it can take over); rejects after `timeoutMs`.
 */
export async function waitForClusterOk(nodes: readonly ClusterNodeAddress[], timeoutMs = 15_000): Promise<void> {
  await withNodeClients(nodes, async (clients) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
      const replication = await Promise.all(clients.map((client) => client.info('replication')));
      const ready =
        infos.every((info) => /^cluster_state:ok\r?$/m.test(info) && Number(/^cluster_known_nodes:(\d+)\r?$/m.exec(info)?.[1]) === nodes.length) &&
        replication.every((info) => !/^role:slave\r?$/m.test(info) || /^master_link_status:up\r?$/m.test(info));
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
