/**
 * (d) A `@Cacheable` L1 hit against the same method undecorated, interleaved in one process. The decorated
 * instance gets its stack the way the module hands it over (the hidden `stackPropertyKey()` property), with
 * no Nest app around it: what is measured is the decorator's own cost on a hit.
 */
import { Cacheable, CacheStack, MemoryLayer } from '../lib/index.js';
import { stackPropertyKey } from '../lib/common/layer-cache.tokens.js';
import { makeValue, type BenchValue } from './fixtures.js';
import { awaitedCase, byName, formatNs, formatRatio, printTable, runThroughput, type TargetResult, type ThroughputCase } from './harness.js';

const CASE = {
  plain: 'await service.findOne(42) (undecorated async)',
  templateKey: "await service.findOne(42) @Cacheable({ key: 'user:{0}' }) hit",
  defaultKey: 'await service.findOne(42) @Cacheable() default key hit',
} as const;

class PlainService {
  constructor(private readonly value: BenchValue) {}
  async findOne(_id: number): Promise<BenchValue> {
    return this.value;
  }
}

class TemplateKeyService {
  constructor(private readonly value: BenchValue) {}
  @Cacheable({ key: 'user:{0}', ttl: '1h' })
  async findOne(_id: number): Promise<BenchValue> {
    return this.value;
  }
}

class DefaultKeyService {
  constructor(private readonly value: BenchValue) {}
  @Cacheable({ ttl: '1h' })
  async findOne(_id: number): Promise<BenchValue> {
    return this.value;
  }
}

export async function benchDecorators(options: { readonly rounds: number }): Promise<TargetResult[]> {
  const value = makeValue();
  const stack = new CacheStack([new MemoryLayer({ maxSize: 10_000 })]);
  const plain = new PlainService(value);
  const template = new TemplateKeyService(value);
  const byDefault = new DefaultKeyService(value);
  for (const service of [template, byDefault]) {
    (service as unknown as Record<symbol, CacheStack>)[stackPropertyKey()] = stack;
    await service.findOne(42); // warm: the next calls are L1 hits
  }
  const before = stack.getMetrics().stack.hits;
  if ((await template.findOne(42)) !== value || (await byDefault.findOne(42)) !== value) {
    throw new Error('a decorated case did not return the cached value');
  }
  if (stack.getMetrics().stack.hits !== before + 2) throw new Error('the decorated calls were not cache hits');

  const cases: ThroughputCase[] = [
    awaitedCase(CASE.plain, () => plain.findOne(42)),
    awaitedCase(CASE.templateKey, () => template.findOne(42)),
    awaitedCase(CASE.defaultKey, () => byDefault.findOne(42)),
  ];
  const results = await runThroughput(cases, {
    opsPerSample: 1_000,
    samplesPerSlice: 10,
    rounds: options.rounds,
    warmupRounds: Math.max(3, Math.round(options.rounds / 10)),
  });
  await stack.close();

  const baseline = byName(results, CASE.plain).medianNs;
  printTable(
    ['case', 'median/op', 'p25-p75', 'x undecorated'],
    results.map((r) => [r.name, formatNs(r.medianNs), `${formatNs(r.p25Ns)}-${formatNs(r.p75Ns)}`, formatRatio(r.medianNs / baseline)]),
  );
  return [CASE.templateKey, CASE.defaultKey].map((name) => {
    const ns = byName(results, name).medianNs;
    return {
      target: `@Cacheable L1 hit costs <= 1 µs more than the undecorated async method [${name}]`,
      measured: `+${formatNs(ns - baseline)} (${formatNs(ns)} vs ${formatNs(baseline)}, ${formatRatio(ns / baseline)})`,
      pass: ns - baseline <= 1_000,
    };
  });
}
