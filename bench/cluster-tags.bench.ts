/**
 * (p) Tags on a 3-master Redis Cluster (issue 18, point 2), on a private cluster this section starts and stops
 * (test/support/redis-cluster.ts), through the public API only: stacks whose only layer is a RedisLayer (every
 * read is an L2 read) with a `RedisTagStore` on the same `Cluster` client, with or without a
 * `RedisInvalidationBus`.
 *
 * 1. Reads per second: the same N keys written once untagged and once with 2 tags each out of 1,000 tags (half of
 *    the tags invalidated before the writes, so their records exist), read by 64 callers in flight for a fixed
 *    time per slice; the four cases (untagged / tagged, without / with a bus) interleaved, the starting case
 *    rotating each round, medians of the measured rounds. Also the Redis commands per read and the busiest
 *    master's share of them (INFO commandstats on every master around each slice).
 * 2. A mixed workload over 1,000 tags (70% reads, 20% writes with 2 random tags, 10% invalidations of a random
 *    tag, seeded PRNG, 64 in flight) on 2,000 keys written first: the commands each master served.
 *
 * Targets (issue 18): tagged reads/s ≥ 0.8× untagged, with and without a bus; the busiest master ≤ 50% of the
 * mixed workload's commands, with and without a bus.
 */
import { Cluster } from 'ioredis';
import { CacheStack, RedisInvalidationBus, RedisLayer, RedisTagStore } from '../lib/index.js';
import { prng } from '../test/support/prng.js';
import { startRedisCluster, type ClusterNodeAddress } from '../test/support/redis-cluster.js';
import { addCounts, busiest, countsBetween, MasterStats, median, runBounded, topCommands, totalOf, type CommandCounts } from './cluster-stats.js';
import { makeValue } from './fixtures.js';
import { formatRatio, printTable, type TargetResult } from './harness.js';

const TAGS = 1_000;
const KEYS = 2_000;
const CONCURRENCY = 64;
const READS_PREFIX = 'bench:p:reads:';

export interface ClusterTagsBenchOptions {
  readonly quick: boolean;
}

/** A "process": its own `Cluster` client and a stack on it (RedisLayer only, RedisTagStore, optionally a bus). */
interface Instance {
  readonly stack: CacheStack;
  readonly client: Cluster;
}

async function instance(nodes: readonly ClusterNodeAddress[], prefix: string, bus: boolean): Promise<Instance> {
  const client = new Cluster([...nodes], { redisOptions: { maxRetriesPerRequest: 1 } });
  const stack = new CacheStack([new RedisLayer({ client, prefix })], {
    ttl: '1h',
    tagStore: new RedisTagStore({ client, prefix }),
    ...(bus && { invalidationBus: new RedisInvalidationBus({ client, prefix }) }),
  });
  await stack.ready();
  return { stack, client };
}

async function closeInstance({ stack, client }: Instance): Promise<void> {
  await stack.close();
  await client.quit().catch(() => client.disconnect());
}

/** Layer, tag-store and bus failures of `stack` so far: a cache failure reads as a miss, so a benchmark must look. */
function failures(stack: CacheStack): number {
  const metrics = stack.getMetrics();
  let count = metrics.tagStore.errors + metrics.tagStore.skipped + (metrics.bus?.publishErrors ?? 0);
  for (const layer of Object.values(metrics.layers)) count += layer.errors + layer.skipped;
  return count;
}

/** The `count` distinct random tags of an entry (`tag:<n>`, n < TAGS). */
function pickTags(random: () => number, count = 2): string[] {
  const tags = new Set<string>();
  while (tags.size < count) tags.add(`tag:${Math.floor(random() * TAGS)}`);
  return [...tags];
}

export async function benchClusterTags(options: ClusterTagsBenchOptions): Promise<TargetResult[]> {
  const started = Date.now();
  const cluster = await startRedisCluster({ masters: 3 });
  const stats = new MasterStats(cluster.nodes);
  try {
    console.log(`  (Redis Cluster of 3 masters started on ${stats.labels.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    await stats.connect();
    const reads = await benchReads(cluster.nodes, stats, options.quick);
    const mixed = await benchMixed(cluster.nodes, stats, options.quick);
    return [...reads, mixed];
  } finally {
    stats.disconnect();
    await cluster.stop();
  }
}

interface ReadCase {
  readonly name: string;
  readonly reader: Instance;
  readonly keys: readonly string[];
  readonly perSecond: number[];
  readonly perMaster: CommandCounts[];
  reads: number;
  misses: number;
  cursor: number;
}

/** Part 1: tagged vs untagged L2 reads per second, without and with a bus. */
async function benchReads(nodes: readonly ClusterNodeAddress[], stats: MasterStats, quick: boolean): Promise<TargetResult[]> {
  const sliceMs = quick ? 250 : 750;
  const rounds = quick ? 3 : 12;
  const warmupRounds = quick ? 1 : 2;
  const keyCount = quick ? 1_000 : KEYS;
  const opened: Instance[] = [];
  const open = async (bus: boolean): Promise<Instance> => {
    const one = await instance(nodes, READS_PREFIX, bus);
    opened.push(one);
    return one;
  };
  try {
    // Readers first, so that the bus reader hears the invalidations as a peer would.
    const plainReader = await open(false);
    const busReader = await open(true);
    const writer = await open(true);
    // Half of the tags invalidated before the writes: their records exist, the entries written after stay valid.
    await runBounded(CONCURRENCY, (i) => writer.stack.invalidateByTag(`tag:${2 * i}`), { count: TAGS / 2 });
    const random = prng(0x5eed);
    const value = makeValue();
    const untagged = Array.from({ length: keyCount }, (_, i) => `plain:${i}`);
    const tagged = Array.from({ length: keyCount }, (_, i) => `tagged:${i}`);
    await runBounded(CONCURRENCY, (i) => writer.stack.set(untagged[i] as string, { ...value, id: i }), { count: keyCount });
    await runBounded(CONCURRENCY, (i) => writer.stack.set(tagged[i] as string, { ...value, id: i }, { tags: pickTags(random) }), { count: keyCount });
    // Every read below must be a hit: a miss (or a failure read as one) would measure something else.
    for (const reader of [plainReader, busReader]) {
      const all = [...untagged, ...tagged];
      let missing = 0;
      await runBounded(CONCURRENCY, async (i) => void ((await reader.stack.get(all[i] as string)) === undefined && missing++), { count: all.length });
      if (missing > 0 || failures(reader.stack) > 0) {
        throw new Error(`(p) setup: ${missing} of ${all.length} keys missed on a reader (${failures(reader.stack)} cache failures)`);
      }
    }
    console.log(
      `  ${keyCount} keys untagged + ${keyCount} with 2 of ${TAGS} tags (${TAGS / 2} invalidated before), ${CONCURRENCY} reads in flight, ` +
        `${rounds} rounds of ${sliceMs} ms per case (+${warmupRounds} warm-up)`,
    );

    const cases: ReadCase[] = [
      { name: 'untagged, no bus', reader: plainReader, keys: untagged },
      { name: 'tagged, no bus', reader: plainReader, keys: tagged },
      { name: 'untagged, bus', reader: busReader, keys: untagged },
      { name: 'tagged, bus', reader: busReader, keys: tagged },
    ].map((c) => ({ ...c, perSecond: [], perMaster: [], reads: 0, misses: 0, cursor: 0 }));
    for (let round = 0; round < warmupRounds + rounds; round++) {
      for (let offset = 0; offset < cases.length; offset++) {
        const current = cases[(round + offset) % cases.length] as ReadCase;
        const before = await stats.read();
        const start = performance.now();
        const end = start + sliceMs;
        let misses = 0;
        const reads = await runBounded(
          CONCURRENCY,
          async (i) => {
            if ((await current.reader.stack.get(current.keys[(current.cursor + i) % current.keys.length] as string)) === undefined) misses++;
          },
          { until: () => performance.now() >= end },
        );
        const elapsed = performance.now() - start;
        const after = await stats.read();
        current.cursor += reads;
        if (round < warmupRounds) continue;
        current.perSecond.push((reads * 1000) / elapsed);
        addCounts(current.perMaster, countsBetween(before, after));
        current.reads += reads;
        current.misses += misses;
      }
    }
    for (const { stack } of [plainReader, busReader]) {
      if (failures(stack) > 0) throw new Error(`(p) reads: ${failures(stack)} cache failures on a reader`);
    }

    const base = (name: string): number => median((cases.find((c) => c.name === name) as ReadCase).perSecond);
    printTable(
      ['case', 'reads/s (median)', 'min-max', 'x untagged', 'cmds/read', 'busiest master', 'misses'],
      cases.map((c) => {
        const perSecond = median(c.perSecond);
        const untaggedRate = base(`untagged, ${c.name.split(', ')[1] as string}`);
        const all = busiest(c.perMaster);
        return [
          c.name,
          perSecond.toFixed(0),
          `${Math.min(...c.perSecond).toFixed(0)}-${Math.max(...c.perSecond).toFixed(0)}`,
          formatRatio(perSecond / untaggedRate),
          (all.total / c.reads).toFixed(2),
          `${(all.share * 100).toFixed(0)}% (${stats.labels[all.index]})`,
          String(c.misses),
        ];
      }),
    );
    for (const c of cases) console.log(`  ${c.name}: ${c.perMaster.map((counts, i) => `${stats.labels[i]} ${topCommands(counts) || '-'}`).join(' | ')}`);

    return [false, true].map((bus) => {
      const suffix = bus ? 'bus' : 'no bus';
      const ratio = base(`tagged, ${suffix}`) / base(`untagged, ${suffix}`);
      return {
        target: `(p) tagged L2 reads/s at least 0.8x untagged on a 3-master cluster, ${bus ? 'with' : 'without'} a RedisInvalidationBus`,
        measured: `${formatRatio(ratio)} (${base(`tagged, ${suffix}`).toFixed(0)}/s vs ${base(`untagged, ${suffix}`).toFixed(0)}/s)`,
        pass: ratio >= 0.8,
      };
    });
  } finally {
    await Promise.all(opened.map(closeInstance));
  }
}

/** Part 2: the mixed workload, once without and once with a bus; each master's share of the commands. */
async function benchMixed(nodes: readonly ClusterNodeAddress[], stats: MasterStats, quick: boolean): Promise<TargetResult> {
  const operations = quick ? 4_000 : 20_000;
  console.log(
    `\n  Mixed workload: ${operations} operations, ${CONCURRENCY} in flight, over ${KEYS} keys written first with 2 of ${TAGS} tags each: ` +
      '70% reads, 20% writes with 2 random tags, 10% invalidations of a random tag',
  );
  const rows: string[][] = [];
  const shares: { bus: boolean; share: number }[] = [];
  for (const bus of [false, true]) {
    const variant = bus ? 'with a bus' : 'no bus';
    const one = await instance(nodes, `bench:p:mixed:${bus ? 'bus' : 'plain'}:`, bus);
    try {
      const random = prng(bus ? 0xb05 : 0x9a1);
      const value = makeValue();
      const key = (): string => `k:${Math.floor(random() * KEYS)}`;
      await runBounded(CONCURRENCY, (i) => one.stack.set(`k:${i}`, { ...value, id: i }, { tags: pickTags(random) }), { count: KEYS });
      const before = await stats.read();
      const start = performance.now();
      await runBounded(
        CONCURRENCY,
        async () => {
          const draw = random();
          if (draw < 0.7) await one.stack.get(key());
          else if (draw < 0.9) await one.stack.set(key(), value, { tags: pickTags(random) });
          else await one.stack.invalidateByTag(`tag:${Math.floor(random() * TAGS)}`);
        },
        { count: operations },
      );
      const seconds = (performance.now() - start) / 1000;
      const perMaster = countsBetween(before, await stats.read());
      if (failures(one.stack) > 0) throw new Error(`(p) mixed workload ${variant}: ${failures(one.stack)} cache failures`);
      const top = busiest(perMaster);
      shares.push({ bus, share: top.share });
      perMaster.forEach((counts, i) => {
        rows.push([
          i === 0 ? `${variant} (${(operations / seconds).toFixed(0)} ops/s, ${(top.total / operations).toFixed(2)} cmds/op)` : '',
          stats.labels[i] as string,
          String(totalOf(counts)),
          `${((totalOf(counts) / top.total) * 100).toFixed(1)}%`,
          topCommands(counts),
        ]);
      });
    } finally {
      await closeInstance(one);
    }
  }
  printTable(['workload', 'master', 'commands', 'share', 'top commands'], rows);
  const worst = Math.max(...shares.map((s) => s.share));
  return {
    target: '(p) mixed workload over 1,000 tags on a 3-master cluster: the busiest master serves at most 50% of the commands',
    measured: shares.map((s) => `${(s.share * 100).toFixed(1)}% ${s.bus ? 'with a bus' : 'without'}`).join(', '),
    pass: worst <= 0.5,
  };
}
