/**
 * (o) The cost of `tracing` on a memory-only stack, interleaved in one process: an L1 hit (no span is ever made
 * there) and a miss (one `layercache.load` span per loader run), each with tracing off, on without an SDK (the
 * `@opentelemetry/api` no-op tracer: what `tracing: true` costs in an app that registers no provider), and on with
 * an SDK tracer (a `BasicTracerProvider` without processors: spans are built and ended, nothing is exported).
 */
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { CacheStack, MemoryLayer, type CacheStackOptions } from '../lib/index.js';
import { makeValue, type BenchValue } from './fixtures.js';
import { awaitedCase, byName, formatNs, printTable, runThroughput, type TargetResult, type ThroughputCase } from './harness.js';

const KEY = 'user:42';
const MODES = [
  ['off', false],
  ['on, no SDK', true],
  ['on, SDK', 'sdk'],
] as const;

export interface TracingBenchOptions {
  readonly rounds: number;
}

export async function benchTracing(options: TracingBenchOptions): Promise<TargetResult[]> {
  const value = makeValue();
  const loader = (): BenchValue => value;
  const provider = new BasicTracerProvider();
  const stacks: CacheStack[] = [];
  const cases: ThroughputCase[] = [];
  for (const [label, mode] of MODES) {
    const tracing: CacheStackOptions['tracing'] = mode === 'sdk' ? { tracer: provider.getTracer('bench') } : mode;
    // A bounded L1: the miss cases write a new key per operation.
    const stack = new CacheStack([new MemoryLayer({ maxSize: 10_000 })], { ttl: '1h', tracing });
    stacks.push(stack);
    await stack.set(KEY, value);
    if ((await stack.get(KEY, loader)) !== value) throw new Error(`tracing ${label}: the L1 hit did not return the value`);
    let n = 0;
    cases.push(awaitedCase(`L1 hit, tracing ${label}`, () => stack.get(KEY, loader)));
    cases.push(awaitedCase(`miss (memory only), tracing ${label}`, () => stack.get(`miss:${n++}`, loader)));
  }
  const results = await runThroughput(cases, {
    opsPerSample: 1_000,
    samplesPerSlice: 10,
    rounds: options.rounds,
    warmupRounds: Math.max(3, Math.round(options.rounds / 10)),
  });
  await Promise.all(stacks.map((stack) => stack.close()));
  await provider.shutdown();

  const ns = (name: string): number => byName(results, name).medianNs;
  printTable(
    ['case', 'median/op', 'p25-p75', 'vs off'],
    results.map((r) => {
      const off = ns(r.name.replace(/tracing .*$/, 'tracing off'));
      return [r.name, formatNs(r.medianNs), `${formatNs(r.p25Ns)}-${formatNs(r.p75Ns)}`, `${r.medianNs >= off ? '+' : '-'}${formatNs(Math.abs(r.medianNs - off))}`];
    }),
  );
  const extra = (kind: string, mode: string): number => ns(`${kind}, tracing ${mode}`) - ns(`${kind}, tracing off`);
  const hit = extra('L1 hit', 'on, no SDK');
  const miss = extra('miss (memory only)', 'on, no SDK');
  return [
    {
      target: '(o) tracing on without an SDK: an L1 hit costs <= 50 ns more than with tracing off',
      measured: `${hit >= 0 ? '+' : '-'}${formatNs(Math.abs(hit))}`,
      pass: hit <= 50,
    },
    {
      target: '(o) tracing on without an SDK: a miss costs <= 2 µs more than with tracing off',
      measured: `${miss >= 0 ? '+' : '-'}${formatNs(Math.abs(miss))} (with an SDK: +${formatNs(extra('miss (memory only)', 'on, SDK'))})`,
      pass: miss <= 2_000,
    },
  ];
}
