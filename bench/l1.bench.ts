/**
 * (a) L1 hits, interleaved in one process: raw Map.get, an awaited async method returning a constant
 * (the baseline), CacheStack hits on a MemoryLayer-only stack, and the same warm hit through bentocache
 * `getOrSet` (memory driver only) and cache-manager 7 `wrap` (its default in-memory Keyv store).
 */
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { CacheStack, MemoryLayer } from '../lib/index.js';
import { makeValue, type BenchValue } from './fixtures.js';
import {
  awaitedCase,
  blackhole,
  byName,
  formatNs,
  formatRatio,
  printTable,
  runThroughput,
  type TargetResult,
  type ThroughputCase,
  type ThroughputResult,
} from './harness.js';

const KEY = 'user:42';

const CASE = {
  map: 'Map.get (sync)',
  asyncMethod: 'await service.get(key) (async, constant)',
  stackGet: 'await stack.get(key) L1 hit',
  stackGetLoader: 'await stack.get(key, loader) L1 hit',
  bento: 'await bento.getOrSet({ key, factory }) hit',
  cacheManager: 'await cacheManager.wrap(key, fn) hit',
} as const;

/** The baseline: an awaited async method that returns a constant. */
class ConstantService {
  constructor(private readonly value: BenchValue) {}

  async get(_key: string): Promise<BenchValue> {
    return this.value;
  }
}

export interface L1BenchOptions {
  readonly rounds: number;
}

export async function benchL1(options: L1BenchOptions): Promise<{ results: ThroughputResult[]; targets: TargetResult[] }> {
  const value = makeValue();
  const loader = (): BenchValue => value;

  const map = new Map<string, BenchValue>([[KEY, value]]);
  const service = new ConstantService(value);

  const stack = new CacheStack([new MemoryLayer({ maxSize: 10_000 })], { ttl: '1h' });
  await stack.set(KEY, value);

  // bentocache's fastest L1-only setup: memory driver without serialization (hits return the stored object,
  // like MemoryLayer). Its default `serialize: true` would add a JSON round trip to every hit.
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false })) },
    ttl: '1h',
  });
  await bento.getOrSet({ key: KEY, factory: loader });

  const cacheManager = createCache({ ttl: 3_600_000 }); // ms; default store: Keyv in memory
  await cacheManager.wrap(KEY, loader);

  // Sanity: every case returns the value itself before anything is timed.
  const answers = [
    map.get(KEY),
    await service.get(KEY),
    await stack.get(KEY),
    await stack.get(KEY, loader),
    await bento.getOrSet({ key: KEY, factory: loader }),
    await cacheManager.wrap(KEY, loader),
  ];
  answers.forEach((answer, i) => {
    if ((answer as BenchValue | undefined)?.id !== value.id) throw new Error(`L1 case #${i} did not return the value`);
  });

  const cases: ThroughputCase[] = [
    {
      name: CASE.map,
      batch(n) {
        for (let i = 0; i < n; i++) blackhole.value = map.get(KEY);
      },
    },
    awaitedCase(CASE.asyncMethod, () => service.get(KEY)),
    awaitedCase(CASE.stackGet, () => stack.get(KEY)),
    awaitedCase(CASE.stackGetLoader, () => stack.get(KEY, loader)),
    awaitedCase(CASE.bento, () => bento.getOrSet({ key: KEY, factory: loader })),
    awaitedCase(CASE.cacheManager, () => cacheManager.wrap(KEY, loader)),
  ];

  const results = await runThroughput(cases, {
    opsPerSample: 1_000,
    samplesPerSlice: 10,
    rounds: options.rounds,
    warmupRounds: Math.max(3, Math.round(options.rounds / 10)),
  });

  await stack.close();
  await bento.disconnectAll();
  await cacheManager.disconnect();

  const baseline = byName(results, CASE.asyncMethod).medianNs;
  const mapNs = byName(results, CASE.map).medianNs;
  printTable(
    ['case', 'median/op', 'p25-p75', 'x async', 'x Map.get'],
    results.map((r) => [
      r.name,
      formatNs(r.medianNs),
      `${formatNs(r.p25Ns)}-${formatNs(r.p75Ns)}`,
      formatRatio(r.medianNs / baseline),
      formatRatio(r.medianNs / mapNs),
    ]),
  );
  console.log(`  (${results[0]?.samples ?? 0} samples of 1,000 ops per case; baseline = the awaited async method)`);

  const bentoNs = byName(results, CASE.bento).medianNs;
  const targets: TargetResult[] = [];
  for (const name of [CASE.stackGet, CASE.stackGetLoader]) {
    const ns = byName(results, name).medianNs;
    const extra = ns - baseline;
    targets.push({
      target: `L1 hit costs <= 1 µs more than the awaited async method [${name}]`,
      measured: `+${formatNs(extra)} (${formatNs(ns)} vs ${formatNs(baseline)}, ${formatRatio(ns / baseline)})`,
      pass: extra <= 1_000,
    });
  }
  for (const name of [CASE.stackGet, CASE.stackGetLoader]) {
    const ns = byName(results, name).medianNs;
    targets.push({
      target: `L1 hit >= 10x faster than bentocache getOrSet [${name}]`,
      measured: `${formatRatio(bentoNs / ns)} (${formatNs(ns)} vs ${formatNs(bentoNs)})`,
      pass: bentoNs / ns >= 10,
    });
  }
  return { results, targets };
}
