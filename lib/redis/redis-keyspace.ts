/**
 * The keyspace walks of `RedisLayer`: `clear` (remove every key under a prefix) and `findKeys` (the keys under a
 * prefix whose rest matches a glob), by SCAN with an escaped MATCH pattern on one Redis or on every master of a
 * Cluster.
 * Hard parts: a Redis glob `*` also matches control characters, so found keys are checked again here; until a
 * Cluster client is ready its `nodes()` lists the startup nodes rather than the masters, so a keyless command
 * waits for the slot map first; a Cluster removes keys by one UNLINK per hash slot (through the cluster client,
 * which follows redirections); the library's own keys (tag store, locks, leases) are never removed.
 */
import type { Cluster, Redis } from 'ioredis';
import { globMatcher, toRedisGlob } from '../core/key-glob.js';
import { escapeGlob, isRedisCluster, type RedisClient } from './redis-client.js';
import { groupBySlot } from './redis-slot.js';

/** Keys fetched per SCAN iteration (and so removed per UNLINK). */
const SCAN_COUNT = 500;

/**
 * Removes the keys starting with `start` (SCAN MATCH + one UNLINK per batch; per hash slot on a Cluster), except
 * those starting with one of `reserved`. Not atomic: keys written meanwhile may survive.
 */
export async function clearKeyspace(client: RedisClient, start: string, reserved: readonly Buffer[]): Promise<void> {
  const match = `${escapeGlob(start)}*`;
  if (!isRedisCluster(client)) {
    await clearNode(client, match, reserved, (doomed) => client.unlink(doomed));
    return;
  }
  await untilReady(client);
  const unlinkBySlot = (doomed: Buffer[]): Promise<unknown> =>
    Promise.all(groupBySlot(doomed).map((group) => client.unlink(group.map((index) => doomed[index] as Buffer))));
  await Promise.all(client.nodes('master').map((node) => clearNode(node, match, reserved, unlinkBySlot)));
}

/**
 * The keys starting with `start` whose rest matches `glob` (every key under `start` without one), each without its
 * first `strip` characters (the layer's prefix). The glob goes to the server as MATCH, the exact check is made here.
 * Stops once more than `limit` keys are found (the caller reports the overflow).
 */
export async function findKeysIn(client: RedisClient, start: string, strip: number, glob: string | undefined, limit: number): Promise<string[]> {
  const match = escapeGlob(start) + toRedisGlob(glob);
  const matches = globMatcher(glob);
  const found = new Set<string>();
  const scan = async (node: Redis): Promise<void> => {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const key of keys) {
        if (found.size > limit) return;
        if (key.startsWith(start) && matches(key.slice(start.length))) found.add(key.slice(strip));
      }
    } while (cursor !== '0' && found.size <= limit);
  };
  if (!isRedisCluster(client)) await scan(client);
  else {
    await untilReady(client);
    await Promise.all(client.nodes('master').map(scan));
  }
  return [...found];
}

/** Until the cluster is ready, `nodes()` lists the startup nodes: a keyless command waits for the slot map (and connects a lazy client). */
async function untilReady(client: Cluster): Promise<void> {
  if (client.status !== 'ready') await client.ping();
}

/** SCANs one server for `match`, handing every batch of keys outside the reserved ones to `unlink`. */
async function clearNode(node: Redis, match: string, reserved: readonly Buffer[], unlink: (doomed: Buffer[]) => Promise<unknown>): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await node.scanBuffer(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next.toString('latin1');
    const doomed = found.filter((key) => !reserved.some((start) => startsWith(key, start)));
    if (doomed.length > 0) await unlink(doomed);
  } while (cursor !== '0');
}

function startsWith(key: Buffer, start: Buffer): boolean {
  return key.length >= start.length && key.compare(start, 0, start.length, 0, start.length) === 0;
}
