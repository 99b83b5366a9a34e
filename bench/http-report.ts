/**
 * The reporting side of the HTTP benchmark (`http.bench.ts`): per-route statistics over a run's slices, the
 * printed tables, and which rounds a verdict is judged on.
 *
 * Hard part: ratios are paired per round (cached / plain of the same round, seconds apart), and the verdict uses
 * the quiet rounds only when there are enough of them: a rule on the machine's other load, never on the ratios.
 */
import { formatRatio, percentile, printTable } from './harness.js';
import { ROUTES, type AdapterName } from './http-routes.js';
import type { Slice } from './http-load.js';

/** A round is quiet when other processes used at most this much CPU (in cores) during each of its slices. */
export const QUIET_OTHERS = 0.15;
/** The target is judged on the quiet rounds when there are at least this many, else on all rounds. */
export const MIN_QUIET_ROUNDS = 5;

export interface RouteStats {
  readonly reqPerSec: number;
  readonly minReqPerSec: number;
  readonly maxReqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number;
  readonly clientCpuUsPerReq: number | undefined;
  readonly serverBusy: number | undefined;
  readonly othersBusy: number | undefined;
  readonly requests: number;
  readonly hits: number | undefined;
  readonly misses: number | undefined;
}

export interface AdapterRun {
  readonly adapter: AdapterName;
  readonly setup: 'child' | 'in-process';
  readonly plain: RouteStats;
  readonly cached: RouteStats;
  /** The minimal interceptor's route, when the setup loads it. */
  readonly minimal: RouteStats | undefined;
  /** @nestjs/cache-manager's `CacheInterceptor` route, when the setup loads it. */
  readonly nest: RouteStats | undefined;
  /** cached / plain req/s of each round (paired slices of one round). */
  readonly cachedRatios: readonly number[];
  /** minimal / plain req/s of each round (empty when the setup does not load it). */
  readonly minimalRatios: readonly number[];
  /** cache-manager / plain req/s of each round (empty when the setup does not load it). */
  readonly nestRatios: readonly number[];
  /** plain / cached CPU per request of each round (what cachedRatios tends to when the server bounds req/s). */
  readonly cpuRatios: readonly number[];
  /** Whether each round was quiet (see `QUIET_OTHERS`); all `true` where other processes' CPU time is unknown. */
  readonly quiet: readonly boolean[];
  readonly bodyBytes: number;
}

export const median = (values: readonly number[]): number => percentile(Float64Array.from(values).sort(), 0.5);
export const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
export const spreadPercent = (ratios: readonly number[]): string => {
  const sorted = Float64Array.from(ratios).sort();
  return `${(percentile(sorted, 0.25) * 100).toFixed(1)}-${(percentile(sorted, 0.75) * 100).toFixed(1)}%`;
};

export function stats(slices: readonly Slice[]): RouteStats {
  const hits = slices.map((s) => s.hits);
  const misses = slices.map((s) => s.misses);
  const client = slices.map((s) => s.clientCpuUsPerReq);
  const busy = slices.map((s) => s.serverBusy);
  const others = slices.map((s) => s.othersBusy);
  return {
    reqPerSec: median(slices.map((s) => s.reqPerSec)),
    minReqPerSec: Math.min(...slices.map((s) => s.reqPerSec)),
    maxReqPerSec: Math.max(...slices.map((s) => s.reqPerSec)),
    p50Ms: median(slices.map((s) => s.p50Ms)),
    p99Ms: median(slices.map((s) => s.p99Ms)),
    cpuUsPerReq: median(slices.map((s) => s.cpuUsPerReq)),
    clientCpuUsPerReq: client.every((c) => c !== undefined) ? median(client as number[]) : undefined,
    serverBusy: busy.every((b) => b !== undefined) ? median(busy as number[]) : undefined,
    othersBusy: others.every((o) => o !== undefined) ? median(others as number[]) : undefined,
    requests: sum(slices.map((s) => s.requests)),
    hits: hits.every((h) => h !== undefined) ? sum(hits as number[]) : undefined,
    misses: misses.every((m) => m !== undefined) ? sum(misses as number[]) : undefined,
  };
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const signed = (n: number): string => `${n >= 0 ? '+' : ''}${fmt(n, 1)}`;

export function printRun(run: AdapterRun): void {
  const child = run.setup === 'child';
  const row = (name: string, s: RouteStats): string[] => [
    name,
    fmt(s.reqPerSec),
    `${fmt(s.minReqPerSec)}-${fmt(s.maxReqPerSec)}`,
    `${fmt(s.p50Ms)} ms`,
    `${fmt(s.p99Ms)} ms`,
    fmt(s.cpuUsPerReq, 1),
    ...(child ? [s.clientCpuUsPerReq === undefined ? 'n/a' : fmt(s.clientCpuUsPerReq, 1)] : []),
    ...(child ? [s.serverBusy === undefined ? 'n/a' : `${fmt(s.serverBusy * 100)}%`] : []),
    ...(child ? [s.othersBusy === undefined ? 'n/a' : `${fmt(s.othersBusy * 100)}%`] : []),
    fmt(s.requests),
  ];
  printTable(
    ['route', 'req/s (median)', 'min-max', 'p50', 'p99', child ? 'server CPU µs/req' : 'process CPU µs/req', ...(child ? ['client CPU µs/req', 'server busy', 'others busy'] : []), 'requests'],
    [
      row(`${ROUTES.plain} (no interceptor, baseline)`, run.plain),
      row(`${ROUTES.cached} (LayerCacheInterceptor HIT)`, run.cached),
      ...(run.minimal === undefined ? [] : [row(`${ROUTES.minimal} (minimal interceptor HIT, ceiling)`, run.minimal)]),
      ...(run.nest === undefined ? [] : [row(`${ROUTES.nest} (@nestjs/cache-manager CacheInterceptor HIT)`, run.nest)]),
    ],
  );
  console.log(
    `  cached / plain req/s, paired per round: ${spread(run.cachedRatios)}` +
      (child ? `; server CPU per request, plain / cached: ${spread(run.cpuRatios)}` : '') +
      `; CPU ${signed(run.cached.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req (medians)` +
      (run.cached.hits === undefined ? '' : `; stack: ${fmt(run.cached.hits)} hits, ${fmt(run.cached.misses ?? 0)} misses while measuring`),
  );
  console.log(`    per round: ${run.cachedRatios.map((r, i) => `${r.toFixed(2)}${run.quiet[i] ? '' : '*'}`).join(' ')}`);
  if (run.minimal !== undefined) {
    console.log(
      `  minimal / plain req/s, paired per round: ${spread(run.minimalRatios)}, CPU ${signed(run.minimal.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req; ` +
        `cached / minimal: ${formatRatio(median(run.cachedRatios) / median(run.minimalRatios))}`,
    );
    console.log(`    per round: ${run.minimalRatios.map((r, i) => `${r.toFixed(2)}${run.quiet[i] ? '' : '*'}`).join(' ')}`);
  }
  if (run.nest !== undefined) {
    console.log(
      `  cache-manager / plain req/s, paired per round: ${spread(run.nestRatios)}, CPU ${signed(run.nest.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req; ` +
        `cached (LayerCacheInterceptor) / cache-manager: ${formatRatio(median(run.cachedRatios) / median(run.nestRatios))}`,
    );
    console.log(`    per round: ${run.nestRatios.map((r, i) => `${r.toFixed(2)}${run.quiet[i] ? '' : '*'}`).join(' ')}`);
  }
  const quiet = run.quiet.filter(Boolean).length;
  if (quiet < run.quiet.length) {
    const { rounds, note } = judged(run);
    console.log(
      `  * not quiet: other processes used more than ${QUIET_OTHERS * 100}% of a core in a slice of the round. ${quiet} of ${run.quiet.length} rounds quiet; ` +
        `on ${note}: cached / plain ${spread(pick(run.cachedRatios, rounds))}` +
        (run.minimal === undefined ? '' : `, minimal / plain ${spread(pick(run.minimalRatios, rounds))}`) +
        (run.nest === undefined ? '' : `, cache-manager / plain ${spread(pick(run.nestRatios, rounds))}`),
    );
  }
}

/** The rounds the target is judged on: the quiet ones when there are enough of them, else all. */
export function judged(run: AdapterRun): { readonly rounds: number[]; readonly note: string } {
  const all = run.quiet.map((_, i) => i);
  const quiet = all.filter((i) => run.quiet[i]);
  if (quiet.length === all.length) return { rounds: all, note: `all ${all.length} rounds quiet` };
  if (quiet.length >= MIN_QUIET_ROUNDS) return { rounds: quiet, note: `the ${quiet.length} quiet rounds of ${all.length}` };
  return { rounds: all, note: `all ${all.length} rounds, only ${quiet.length} of them quiet: the machine was busy, a verdict of this run may flip in the next` };
}

export const pick = (values: readonly number[], rounds: readonly number[]): number[] => rounds.map((i) => values[i] as number);

/** The median of per-round ratios, with their interquartile range. */
export function spread(ratios: readonly number[]): string {
  const sorted = Float64Array.from(ratios).sort();
  return `${formatRatio(percentile(sorted, 0.5))} (IQR ${percentile(sorted, 0.25).toFixed(2)}-${percentile(sorted, 0.75).toFixed(2)}, ${sorted.length} rounds)`;
}

/** A run's verdict line: the median paired cached / plain ratio over the judged rounds, with its context. */
export function summarize(run: AdapterRun): { ratio: number; measured: string } {
  const { rounds, note } = judged(run);
  const cachedRatios = pick(run.cachedRatios, rounds);
  const ratio = median(cachedRatios);
  const measured =
    `${(ratio * 100).toFixed(1)}% (median of paired per-round ratios, ${note}; IQR ${spreadPercent(cachedRatios)}; ` +
    `${fmt(run.cached.reqPerSec)} vs ${fmt(run.plain.reqPerSec)} req/s), ` +
    `server CPU ${fmt(run.cached.cpuUsPerReq, 1)} vs ${fmt(run.plain.cpuUsPerReq, 1)} µs/req (${signed(run.cached.cpuUsPerReq - run.plain.cpuUsPerReq)}); ` +
    `minimal interceptor ${(median(pick(run.minimalRatios, rounds)) * 100).toFixed(1)}%, CPU ${run.minimal === undefined ? 'n/a' : signed(run.minimal.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req; ` +
    `@nestjs/cache-manager ${run.nest === undefined ? 'n/a' : `${(median(pick(run.nestRatios, rounds)) * 100).toFixed(1)}%, CPU ${signed(run.nest.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req`}`;
  return { ratio, measured };
}
