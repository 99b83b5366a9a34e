/**
 * ioredis `Cluster` clients on the shared test cluster (its nodes come through the environment), closed after
 * the test, and helpers that read keys straight from every master.
 */
import { Cluster, type Redis } from 'ioredis';
import { TEST_REDIS_CLUSTER_NODES_ENV } from './redis.global-setup.js';
import { parseClusterNodes, waitForClusterOk, type ClusterNodeAddress } from './redis-cluster.js';
import { useClientPair } from './redis-test-client.js';

/** The master nodes of the Redis Cluster the integration project's globalSetup started. */
export function testClusterNodes(): ClusterNodeAddress[] {
  const text = process.env[TEST_REDIS_CLUSTER_NODES_ENV];
  if (text === undefined || text === '') {
    throw new Error(`${TEST_REDIS_CLUSTER_NODES_ENV} is not set: run the integration tests through the "integration" Jest project`);
  }
  return parseClusterNodes(text);
}

/** An ioredis `Cluster` client of the shared test cluster. Quit it in afterAll. */
export function testClusterClient(): Cluster {
  return new Cluster(testClusterNodes(), { redisOptions: { maxRetriesPerRequest: 1 } });
}

/**
 * Two `Cluster` clients of the shared test cluster for one spec file (a "process" and its peer), created in
 * beforeAll once every node reports `cluster_state:ok` (the globalSetup does not wait for it), and quit in
 * afterAll. Read them through the returned object once the hooks ran.
 */
export function useTestClusterClients(): { readonly client: Cluster; readonly peer: Cluster } {
  return useClientPair('useTestClusterClients', testClusterClient, () => waitForClusterOk(testClusterNodes()), 20_000);
}

/**
 * The keys under `prefix` held by each master of `cluster`, read straight from every node by SCAN (so what
 * they report does not depend on the client's slot arithmetic), as `host:port` → keys (UTF-8).
 */
export async function keysByMaster(cluster: Cluster, prefix: string): Promise<Map<string, string[]>> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const byMaster = new Map<string, string[]>();
  await Promise.all(
    cluster.nodes('master').map(async (node: Redis) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next.toString();
        for (const key of found) keys.push(key.toString('utf8'));
      } while (cursor !== '0');
      byMaster.set(`${node.options.host}:${node.options.port}`, keys.sort());
    }),
  );
  return byMaster;
}

/** All keys under `prefix` on every master of `cluster` (UTF-8, sorted). */
export async function clusterKeysUnder(cluster: Cluster, prefix: string): Promise<string[]> {
  return [...(await keysByMaster(cluster, prefix)).values()].flat().sort();
}

/** Removes every key under `prefix` from every master (per key: a Cluster UNLINK may not cross slots). */
export async function removeClusterKeys(cluster: Cluster, prefix: string): Promise<void> {
  await Promise.all((await clusterKeysUnder(cluster, prefix)).map((key) => cluster.unlink(key)));
}
