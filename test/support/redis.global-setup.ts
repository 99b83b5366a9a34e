/**
 * Jest global setup of the integration project: starts the shared redis-server and Redis Cluster and hands their
 * addresses to the test files through the environment (the teardown stops them).
 */
import { createRequire } from 'node:module';

/** The environment variable that carries the shared server's URL to the test files. */
export const TEST_REDIS_URL_ENV = 'LAYERCACHE_TEST_REDIS_URL';

/** Where the setup leaves the function that stops the shared server and cluster, for the teardown (same realm). */
export const STOP_SHARED_REDIS = Symbol.for('nestjs-layercache.test.stop-shared-redis');

/** The environment variable that carries the shared Redis Cluster's master nodes (`host:port,host:port,...`). */
export const TEST_REDIS_CLUSTER_NODES_ENV = 'LAYERCACHE_TEST_REDIS_CLUSTER_NODES';

/**
 * Jest globalSetup of the `integration` project: starts ONE redis-server on a free loopback port for the
 * whole run and exports its URL as `LAYERCACHE_TEST_REDIS_URL`, and, at the same time, ONE 3-master Redis
 * Cluster whose nodes it exports as `LAYERCACHE_TEST_REDIS_CLUSTER_NODES`. Tests isolate by a unique key
 * prefix each and never FLUSHALL the shared servers.
 *
 * The cluster is formed but not awaited until it reports `cluster_state:ok` (a fresh master waits about 2 s
 * before it does): the specs that use it await that themselves (`useTestCluster` in
 * redis-cluster-client.ts), so the other specs do not pay for it.
 *
 * Jest loads this file with `require` (its transform applies, `moduleNameMapper` does not), so a static
 * `import './redis-server.js'` would be resolved by Node and fail: the helper is required by its real
 * `.ts` name while Jest's require hook is active (it stays active until this function settles).
 */
export default async function globalSetup(): Promise<void> {
  const load = createRequire(import.meta.url);
  const { redisServerAvailable, startRedisServer } = load('./redis-server.ts') as typeof import('./redis-server.js');
  const { formatClusterNodes, startRedisCluster } = load('./redis-cluster.ts') as typeof import('./redis-cluster.js');
  if (!redisServerAvailable()) {
    throw new Error(
      'redis-server not found: the integration tests start their own redis-server. Install it with ' +
        '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
  const [server, cluster] = await Promise.allSettled([startRedisServer(), startRedisCluster({ masters: 3, waitForOk: false })]);
  if (server.status === 'rejected' || cluster.status === 'rejected') {
    await Promise.all([server, cluster].map((started) => (started.status === 'fulfilled' ? started.value.stop() : undefined)));
    throw server.status === 'rejected' ? server.reason : (cluster as PromiseRejectedResult).reason;
  }
  process.env[TEST_REDIS_URL_ENV] = server.value.url;
  process.env[TEST_REDIS_CLUSTER_NODES_ENV] = formatClusterNodes(cluster.value.nodes);
  (globalThis as Record<symbol, unknown>)[STOP_SHARED_REDIS] = async (): Promise<void> => {
    delete process.env[TEST_REDIS_URL_ENV];
    delete process.env[TEST_REDIS_CLUSTER_NODES_ENV];
    await Promise.all([server.value.stop(), cluster.value.stop()]);
  };
}
