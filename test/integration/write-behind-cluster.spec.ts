/**
 * Write-behind on the 3-master Redis Cluster of the integration project's globalSetup: one flush of keys spread
 * over the slots reaches every master (RedisLayer.setMany splits it into one pipeline per slot).
 */
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { keysByMaster, removeClusterKeys, useTestClusterClients } from '../support/redis-cluster-client.js';
import { uniquePrefix } from '../support/redis-test-client.js';

const clients = useTestClusterClients();

describe('write-behind on a Redis Cluster', () => {
  it('one flush of 60 keys over many slots lands on every master; a peer reads them after it', async () => {
    const prefix = uniquePrefix('wbc');
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client: clients.client, prefix })], {
      writeBehind: { flushInterval: '1h', maxBatch: 1_000 },
      // The flush's spread is the subject, not degradation: on a loaded machine a pipeline to three masters can
      // exceed the default 500 ms, and a timed-out flush is counted as failed by design.
      layerTimeout: '10s',
    });
    try {
      await stack.setMany(Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: i })));
      expect([...(await keysByMaster(clients.client, prefix)).values()].flat()).toEqual([]);
      await stack.close();
      expect(stack.getMetrics().writeBehind).toMatchObject({ batches: 1, flushed: 60, failedFlushes: 0 });
      const byMaster = [...(await keysByMaster(clients.client, prefix)).values()];
      expect(byMaster.flat()).toHaveLength(60);
      expect(byMaster.filter((keys) => keys.length > 0)).toHaveLength(3);
      const peer = new CacheStack([new RedisLayer({ client: clients.peer, prefix })]);
      expect(await peer.getMany(['k0', 'k59'])).toEqual([0, 59]);
      await peer.close();
    } finally {
      await stack.close();
      await removeClusterKeys(clients.client, prefix);
    }
  });
});
