/**
 * A small benchmark harness. Cases of one group run interleaved in the same process: each round runs
 * every case for a short slice, the starting case rotates from round to round, and the first rounds are
 * warm-up. Drift of the machine (another process, CPU frequency, GC) then hits every case alike, so ratios
 * against a baseline of the same run hold better than absolute numbers.
 *
 * - Throughput cases (ns scale) are timed in batches: one sample = `opsPerSample` sequential operations
 *   timed with `process.hrtime.bigint()`, divided by `opsPerSample`. Reported: median ns/op (p25-p75).
 * - Latency cases (µs scale, network) are timed one operation per sample. Reported: p50 / p99 / mean.
 */

/** A case timed in batches: `batch(n)` runs the operation `n` times in sequence (awaiting each one). */
export interface ThroughputCase {
  readonly name: string;
  readonly batch: (n: number) => void | Promise<void>;
}

/** A case timed one operation per sample. */
export interface LatencyCase {
  readonly name: string;
  readonly op: () => Promise<unknown>;
}

export interface ThroughputOptions {
  /** Operations timed together as one sample. */
  readonly opsPerSample: number;
  /** Samples per case per round (one slice). */
  readonly samplesPerSlice: number;
  /** Measured rounds. */
  readonly rounds: number;
  /** Rounds run first and thrown away (JIT warm-up). */
  readonly warmupRounds: number;
}

export interface LatencyOptions {
  /** Operations per case per round (one slice). */
  readonly opsPerSlice: number;
  /** Untimed operations at the start of each slice, after the GC (the server and caches wake up). @default 5 */
  readonly settleOps?: number;
  readonly rounds: number;
  readonly warmupRounds: number;
  /**
   * A full GC before each slice (as for throughput cases). Off for (b): on this VM a forced full GC slows the
   * hundreds of operations after it (raw GETs included) and put milliseconds into every p99 (docs/benchmarks.md,
   * section (b)); without it each case pays the scavenges of its own allocations. @default true
   */
  readonly gcBetweenSlices?: boolean;
}

export interface ThroughputResult {
  readonly name: string;
  /** Median ns per operation over all samples. */
  readonly medianNs: number;
  readonly p25Ns: number;
  readonly p75Ns: number;
  readonly samples: number;
}

export interface LatencyResult {
  readonly name: string;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly meanNs: number;
  readonly samples: number;
}

/** A target from the issue, checked against numbers of the same run. */
export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

/** Keeps results alive so that the optimizer cannot drop the measured work. */
export const blackhole: { value: unknown } = { value: undefined };

/** A throughput case whose operation is awaited: `op()` n times in sequence. */
export function awaitedCase(name: string, op: () => unknown): ThroughputCase {
  return {
    name,
    async batch(n) {
      for (let i = 0; i < n; i++) blackhole.value = await op();
    },
  };
}

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

/** A full GC between slices, when node runs with `--expose-gc`: garbage of one case is not billed to the next. */
export function collectGarbage(): void {
  gc?.();
}

/**
 * Runs one slice of every case per round, the starting case rotating each round, with a GC before each
 * slice (unless `gcBetweenSlices` is false); the first `warmupRounds` rounds are not measured. Returns the samples of each case.
 */
async function interleave<C>(
  cases: readonly C[],
  rounds: { readonly warmupRounds: number; readonly rounds: number; readonly gcBetweenSlices?: boolean },
  slice: (current: C, into: number[], measured: boolean) => Promise<void>,
): Promise<number[][]> {
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < rounds.warmupRounds + rounds.rounds; round++) {
    for (let offset = 0; offset < cases.length; offset++) {
      const index = (round + offset) % cases.length;
      if (rounds.gcBetweenSlices !== false) collectGarbage();
      await slice(cases[index] as C, samples[index] as number[], round >= rounds.warmupRounds);
    }
  }
  return samples;
}

/** Runs throughput cases interleaved; results in the order of `cases`. */
export async function runThroughput(
  cases: readonly ThroughputCase[],
  options: ThroughputOptions,
): Promise<ThroughputResult[]> {
  const samples = await interleave(cases, options, async (current, into, measured) => {
    for (let s = 0; s < options.samplesPerSlice; s++) {
      const start = process.hrtime.bigint();
      await current.batch(options.opsPerSample);
      const elapsed = Number(process.hrtime.bigint() - start);
      if (measured) into.push(elapsed / options.opsPerSample);
    }
  });
  return cases.map((c, i) => {
    const sorted = Float64Array.from(samples[i] as number[]).sort();
    return {
      name: c.name,
      medianNs: percentile(sorted, 0.5),
      p25Ns: percentile(sorted, 0.25),
      p75Ns: percentile(sorted, 0.75),
      samples: sorted.length,
    };
  });
}

/** Runs latency cases interleaved; results in the order of `cases`. */
export async function runLatency(cases: readonly LatencyCase[], options: LatencyOptions): Promise<LatencyResult[]> {
  const samples = await interleave(cases, options, async (current, into, measured) => {
    for (let s = 0; s < (options.settleOps ?? 5); s++) blackhole.value = await current.op();
    for (let s = 0; s < options.opsPerSlice; s++) {
      const start = process.hrtime.bigint();
      blackhole.value = await current.op();
      const elapsed = Number(process.hrtime.bigint() - start);
      if (measured) into.push(elapsed);
    }
  });
  return cases.map((c, i) => {
    const sorted = Float64Array.from(samples[i] as number[]).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      name: c.name,
      p50Ns: percentile(sorted, 0.5),
      p99Ns: percentile(sorted, 0.99),
      meanNs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
      samples: sorted.length,
    };
  });
}

/** The `q` quantile (0..1) of sorted values, linearly interpolated. */
export function percentile(sorted: Float64Array | readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.min(n - 1, lower + 1);
  const a = sorted[lower] as number;
  const b = sorted[upper] as number;
  return a + (b - a) * (position - lower);
}

/** Human-readable duration from nanoseconds: `47 ns`, `1.23 µs`, `20.4 ms`. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${ns.toFixed(0)} ns`;
  if (abs < 1_000_000) return `${(ns / 1_000).toFixed(abs < 10_000 ? 2 : 1)} µs`;
  return `${(ns / 1_000_000).toFixed(abs < 10_000_000 ? 2 : 1)} ms`;
}

/** A ratio such as `12.3x`. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  return `${ratio.toFixed(ratio < 10 ? 2 : 1)}x`;
}

/** Prints a left-aligned first column and right-aligned others. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** Prints targets with PASS/FAIL. */
export function printTargets(targets: readonly TargetResult[]): void {
  for (const t of targets) console.log(`  [${t.pass ? 'PASS' : 'FAIL'}] ${t.target}: ${t.measured}`);
}

/** Prints a section header. */
export function section(title: string): void {
  console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}`);
}

/** The result named `name`, or an error naming what is missing. */
export function byName<R extends { readonly name: string }>(results: readonly R[], name: string): R {
  const found = results.find((r) => r.name === name);
  if (found === undefined) throw new Error(`benchmark result "${name}" is missing`);
  return found;
}
