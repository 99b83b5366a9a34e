/**
 * (e) HTTP: `npm run bench:http` (node --import tsx bench/http.bench.ts).
 *
 *   --quick          fewer rounds (a smoke run, numbers are noisier)
 *   --strict         exit with code 1 when the target FAILs (default: report only)
 *   --rounds=N       N rounds per adapter in the child-process setup (default 15 on Fastify, 6 on Express)
 *   --adapter=NAME   only `fastify` or `express`
 *   --child-only     skip the in-process setup
 *
 * A route cached by `LayerCacheInterceptor` (every measured request a HIT) against the same route with no
 * interceptor returning the same constant ~1 KB JSON body (`bench/http-app.ts`, a mirror of the sample's
 * `/catalogue`), loaded with autocannon (50 connections, pipelining 1) on loopback, on Fastify and Express,
 * in one run; for reference, the same body behind a minimal caching interceptor (`Map` lookup, `of(body)`: the
 * ceiling of any interceptor-based HIT). Target (issue 4): on Nest 12 + Fastify a HIT reaches at least 85% of the uncached route's req/s.
 *
 * The app (`http-app.ts`) and server (`http-server.ts`) are compiled with tsc first (`bench/tsconfig.http.json`
 * to `.tmp/bench-build`, incremental), because `LayerCacheModule` needs decorator metadata, which tsx does not emit.
 *
 * Two setups per adapter, each interleaved: every round loads each route once for a 1 s slice, back to back,
 * the first route rotating from round to round (so no route always follows another). The ratios are **paired**:
 * each round gives cached / plain (and minimal / plain) from its own slices, seconds apart, so a slow phase of the
 * shared machine lowers both sides of a ratio; the reported ratio is the median of the per-round ratios (with
 * their interquartile range), not a ratio of medians.
 * 1. **server in a child process** (the target's numbers): the compiled `http-server.js` is forked and autocannon runs
 *    here, so server and load generator each have their own thread; the server reports its own
 *    `process.cpuUsage()` over IPC before and after each slice, giving the server's CPU per request alone
 *    (and this process's delta gives the load generator's), and how busy it was (CPU time over wall time: near
 *    100% when it bounds req/s). The per-round ratio of server CPU per request (plain / cached) is printed beside
 *    the req/s ratio: it is what the req/s ratio tends to when the server alone bounds req/s.
 *    On a shared machine other processes take CPU time in bursts: the machine's busy time over each slice
 *    (`/proc/stat`) minus the server's and the load generator's is "others busy" (in cores). A round is
 *    **quiet** when others used at most 15% of a core in each of its slices; the target is judged on the quiet
 *    rounds when there are at least 5 (the rule looks at the machine, never at the ratios), else on all rounds,
 *    saying so. `/proc/stat` only sees this machine (or VM): load from outside it shows only as a higher CPU per
 *    request on every route.
 * 2. **server in this process**: the app and autocannon share one thread; CPU per request is then server +
 *    load generator (`process.cpuUsage()` of this process), and req/s is bounded by their sum.
 * Each slice must return only 2xx without errors; the cached routes are probed for `X-Cache: HIT` and a body
 * identical to the plain route's before and after, and (child setup) the stack must count no miss while
 * measuring and at least one hit per counted request.
 */
import autocannon from 'autocannon';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatRatio, percentile, printTable, printTargets, section, type TargetResult } from './harness.js';
import { ADAPTERS, ROUTES, type AdapterName } from './http-routes.js';
import type { ParentMessage, ServerMessage, ServerSample } from './http-server.js';

type RouteName = keyof typeof ROUTES;

/** The app and server are run compiled by tsc (decorator metadata, see `http-app.ts`), built here first. */
const BUILD_CONFIG = fileURLToPath(new URL('./tsconfig.http.json', import.meta.url));
const BUILT = new URL('../.tmp/bench-build/bench/', import.meta.url);

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const strict = flag('strict');
const childOnly = flag('child-only');
const onlyAdapter = option('adapter') as AdapterName | undefined;
if (onlyAdapter !== undefined && !ADAPTERS.includes(onlyAdapter)) throw new Error(`--adapter must be one of ${ADAPTERS.join(', ')}`);
const roundsOption = option('rounds') === undefined ? undefined : Number(option('rounds'));
if (roundsOption !== undefined && !(Number.isInteger(roundsOption) && roundsOption > 0)) throw new Error('--rounds must be a positive integer');

const CONNECTIONS = 50;
const PIPELINING = 1;
const TARGET_RATIO = 0.85;
/** A round is quiet when other processes used at most this much CPU (in cores) during each of its slices. */
const QUIET_OTHERS = 0.15;
/** The target is judged on the quiet rounds when there are at least this many, else on all rounds. */
const MIN_QUIET_ROUNDS = 5;

interface Setup {
  readonly name: 'child' | 'in-process';
  /** The routes loaded in each round (rotating which goes first). */
  readonly routes: readonly RouteName[];
  /** Rounds per adapter. */
  readonly rounds: Readonly<Record<AdapterName, number>>;
  /** Seconds per slice (one route, one round): a whole number, autocannon stops on its 1 s sampling tick. */
  readonly sliceSeconds: number;
  /** Seconds of unmeasured load per route first (JIT warm-up). */
  readonly warmupSeconds: number;
}

const ALL_SETUPS: readonly Setup[] = [
  {
    name: 'child',
    routes: ['plain', 'cached', 'minimal'],
    rounds: roundsOption !== undefined ? { fastify: roundsOption, express: roundsOption } : quick ? { fastify: 3, express: 3 } : { fastify: 15, express: 6 },
    sliceSeconds: 1,
    warmupSeconds: quick ? 1 : 2,
  },
  { name: 'in-process', routes: ['plain', 'cached'], rounds: quick ? { fastify: 2, express: 2 } : { fastify: 4, express: 4 }, sliceSeconds: 1, warmupSeconds: 1 },
];
const SETUPS = ALL_SETUPS.filter((setup) => !childOnly || setup.name === 'child');
const RUN_ADAPTERS = ADAPTERS.filter((adapter) => onlyAdapter === undefined || adapter === onlyAdapter);

/** The whole run is stopped (servers killed, exit code 1) past this: the planned load plus a minute. */
const WATCHDOG_MS =
  60_000 +
  1_000 *
    SETUPS.reduce(
      (total, setup) =>
        total + RUN_ADAPTERS.reduce((sum, adapter) => sum + setup.routes.length * (setup.rounds[adapter] * setup.sliceSeconds + setup.warmupSeconds), 0),
      0,
    );

/** One slice: one route loaded for `sliceSeconds`. */
interface Slice {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** CPU µs per request of the server (child setup) or of this process (in-process setup). */
  readonly cpuUsPerReq: number;
  /** Child setup: CPU µs per request of this process (the load generator). */
  readonly clientCpuUsPerReq?: number;
  /** Child setup: the server's CPU time over the slice's wall time (1 = one core busy all along). */
  readonly serverBusy?: number;
  /**
   * CPU time of every other process of the machine over the slice's wall time, in cores (the machine's busy
   * time minus the server's and this process's; `undefined` where `/proc/stat` cannot be read).
   */
  readonly othersBusy?: number;
  /** Child setup: stack hits and misses during the slice. */
  readonly hits?: number;
  readonly misses?: number;
}

/** A running server: its URL, and (child setup) a way to read its CPU time and stack counters. */
interface Server {
  readonly url: string;
  sample(): Promise<{ cpuUs: number; hits: number; misses: number } | undefined>;
  close(): Promise<void>;
}

const children = new Set<ChildProcess>();

async function forkServer(adapter: AdapterName): Promise<Server> {
  const child = fork(fileURLToPath(new URL('http-server.js', BUILT)), [adapter, '0'], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  const next = (): Promise<ServerMessage> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the ${adapter} server exited (code ${code})`));
      child.once('exit', onExit);
      child.once('message', (message: ServerMessage) => {
        child.off('exit', onExit);
        resolve(message);
      });
    });
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`unexpected message from the ${adapter} server: ${JSON.stringify(ready)}`);
  const send = (message: ParentMessage): void => {
    child.send(message);
  };
  return {
    url: ready.url,
    async sample() {
      const reply = next();
      send({ type: 'sample' });
      const message = (await reply) as ServerSample;
      return { cpuUs: message.userUs + message.systemUs, hits: message.hits, misses: message.misses };
    },
    async close() {
      send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function inProcessServer(adapter: AdapterName): Promise<Server> {
  const { startBenchApp } = (await import(new URL('http-app.js', BUILT).href)) as typeof import('./http-app.js');
  const app = await startBenchApp(adapter);
  return { url: app.url, sample: () => Promise.resolve(undefined), close: () => app.close() };
}

function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, pipelining: PIPELINING, duration: seconds });
}

/**
 * Busy time of the whole machine in µs (`/proc/stat`, Linux: user + nice + system + irq + softirq; the kernel's
 * loopback work shows there as softirq but in the processes' own system time), or `undefined`.
 */
function machineCpuUs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]?.trim().split(/\s+/) ?? [];
    const ticks = Number(fields[1]) + Number(fields[2]) + Number(fields[3]) + Number(fields[6]) + Number(fields[7]);
    return Number.isFinite(ticks) ? (ticks * 1_000_000) / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}
/** `/proc/stat` counts in USER_HZ, 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS = 100;

function cpuNow(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

async function runSlice(server: Server, route: RouteName, seconds: number): Promise<Slice> {
  const before = await server.sample();
  const wallBefore = process.hrtime.bigint();
  const machineBefore = machineCpuUs();
  const clientBefore = cpuNow();
  const result = await load(server.url + ROUTES[route], seconds);
  const clientCpu = cpuNow() - clientBefore;
  const machineAfter = machineCpuUs();
  const after = await server.sample();
  const wallUs = Number(process.hrtime.bigint() - wallBefore) / 1_000;
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(`${server.url}${ROUTES[route]}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  const requests = result.requests.total;
  const slice = { reqPerSec: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, requests };
  if (before === undefined || after === undefined) return { ...slice, cpuUsPerReq: clientCpu / requests };
  return {
    ...slice,
    cpuUsPerReq: (after.cpuUs - before.cpuUs) / requests,
    clientCpuUsPerReq: clientCpu / requests,
    serverBusy: (after.cpuUs - before.cpuUs) / wallUs,
    othersBusy:
      machineBefore === undefined || machineAfter === undefined ? undefined : (machineAfter - machineBefore - (after.cpuUs - before.cpuUs) - clientCpu) / wallUs,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
  };
}

/** Checks that the cached routes answer HIT with the plain route's body. */
async function probe(url: string, when: string): Promise<void> {
  const plain = await fetch(url + ROUTES.plain);
  const plainBody = await plain.text();
  if (plain.headers.get('x-cache') !== null) throw new Error(`${when}: ${ROUTES.plain} went through an interceptor`);
  for (const path of [ROUTES.cached, ROUTES.minimal]) {
    const cached = await fetch(url + path);
    const xCache = cached.headers.get('x-cache');
    if (xCache !== 'HIT') throw new Error(`${when}: ${path} answered X-Cache: ${String(xCache)}, expected HIT`);
    if ((await cached.text()) !== plainBody) throw new Error(`${when}: ${path} and ${ROUTES.plain} answered different bodies`);
  }
}

interface RouteStats {
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

interface AdapterRun {
  readonly adapter: AdapterName;
  readonly setup: Setup['name'];
  readonly plain: RouteStats;
  readonly cached: RouteStats;
  /** The minimal interceptor's route, when the setup loads it. */
  readonly minimal: RouteStats | undefined;
  /** cached / plain req/s of each round (paired slices of one round). */
  readonly cachedRatios: readonly number[];
  /** minimal / plain req/s of each round (empty when the setup does not load it). */
  readonly minimalRatios: readonly number[];
  /** plain / cached CPU per request of each round (what cachedRatios tends to when the server bounds req/s). */
  readonly cpuRatios: readonly number[];
  /** Whether each round was quiet (see `QUIET_OTHERS`); all `true` where other processes' CPU time is unknown. */
  readonly quiet: readonly boolean[];
  readonly bodyBytes: number;
}

const median = (values: readonly number[]): number => percentile(Float64Array.from(values).sort(), 0.5);
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const spreadPercent = (ratios: readonly number[]): string => {
  const sorted = Float64Array.from(ratios).sort();
  return `${(percentile(sorted, 0.25) * 100).toFixed(1)}-${(percentile(sorted, 0.75) * 100).toFixed(1)}%`;
};

function stats(slices: readonly Slice[]): RouteStats {
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

async function benchAdapter(adapter: AdapterName, setup: Setup): Promise<AdapterRun> {
  const server = setup.name === 'child' ? await forkServer(adapter) : await inProcessServer(adapter);
  try {
    let bodyBytes = 0;
    for (const path of [ROUTES.cached, ROUTES.minimal]) {
      const first = await fetch(server.url + path);
      bodyBytes = (await first.arrayBuffer()).byteLength;
      if (first.headers.get('x-cache') !== 'MISS') throw new Error(`the first request of ${path} was ${String(first.headers.get('x-cache'))}, not MISS`);
    }
    await probe(server.url, `${adapter}, before the run`);
    for (const route of setup.routes) await load(server.url + ROUTES[route], setup.warmupSeconds);

    const slices: Record<RouteName, Slice[]> = { plain: [], cached: [], minimal: [] };
    const rounds = setup.rounds[adapter];
    for (let round = 0; round < rounds; round++) {
      for (let offset = 0; offset < setup.routes.length; offset++) {
        const route = setup.routes[(round + offset) % setup.routes.length] as RouteName;
        slices[route].push(await runSlice(server, route, setup.sliceSeconds));
      }
    }
    await probe(server.url, `${adapter}, after the run`);

    const cached = stats(slices.cached);
    if (cached.misses !== undefined && (cached.misses > 0 || (cached.hits ?? 0) < cached.requests)) {
      throw new Error(`${adapter}: the cached route was not all HITs (${cached.hits} hits, ${cached.misses} misses, ${cached.requests} requests)`);
    }
    const plainOf = (i: number): Slice => slices.plain[i] as Slice;
    return {
      adapter,
      setup: setup.name,
      plain: stats(slices.plain),
      cached,
      minimal: slices.minimal.length === 0 ? undefined : stats(slices.minimal),
      cachedRatios: slices.cached.map((s, i) => s.reqPerSec / plainOf(i).reqPerSec),
      minimalRatios: slices.minimal.map((s, i) => s.reqPerSec / plainOf(i).reqPerSec),
      cpuRatios: slices.cached.map((s, i) => plainOf(i).cpuUsPerReq / s.cpuUsPerReq),
      quiet: slices.plain.map((_, i) => setup.routes.every((route) => (slices[route][i]?.othersBusy ?? 0) <= QUIET_OTHERS)),
      bodyBytes,
    };
  } finally {
    await server.close();
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const signed = (n: number): string => `${n >= 0 ? '+' : ''}${fmt(n, 1)}`;

function printRun(run: AdapterRun): void {
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
  const quiet = run.quiet.filter(Boolean).length;
  if (quiet < run.quiet.length) {
    const { rounds, note } = judged(run);
    console.log(
      `  * not quiet: other processes used more than ${QUIET_OTHERS * 100}% of a core in a slice of the round. ${quiet} of ${run.quiet.length} rounds quiet; ` +
        `on ${note}: cached / plain ${spread(pick(run.cachedRatios, rounds))}` +
        (run.minimal === undefined ? '' : `, minimal / plain ${spread(pick(run.minimalRatios, rounds))}`),
    );
  }
}

/** The rounds the target is judged on: the quiet ones when there are enough of them, else all. */
function judged(run: AdapterRun): { readonly rounds: number[]; readonly note: string } {
  const all = run.quiet.map((_, i) => i);
  const quiet = all.filter((i) => run.quiet[i]);
  if (quiet.length === all.length) return { rounds: all, note: `all ${all.length} rounds quiet` };
  if (quiet.length >= MIN_QUIET_ROUNDS) return { rounds: quiet, note: `the ${quiet.length} quiet rounds of ${all.length}` };
  return { rounds: all, note: `all ${all.length} rounds, only ${quiet.length} of them quiet: the machine was busy, a verdict of this run may flip in the next` };
}

const pick = (values: readonly number[], rounds: readonly number[]): number[] => rounds.map((i) => values[i] as number);

/** The median of per-round ratios, with their interquartile range. */
function spread(ratios: readonly number[]): string {
  const sorted = Float64Array.from(ratios).sort();
  return `${formatRatio(percentile(sorted, 0.5))} (IQR ${percentile(sorted, 0.25).toFixed(2)}-${percentile(sorted, 0.75).toFixed(2)}, ${sorted.length} rounds)`;
}

/** Compiles the app and the server (incremental: quick when nothing changed). */
function build(): void {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', BUILD_CONFIG], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`tsc -p ${BUILD_CONFIG} failed (status ${result.status})`);
}

async function main(): Promise<number> {
  const started = Date.now();
  build();
  console.log(
    `nestjs-layercache HTTP benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, ` +
      `autocannon ${CONNECTIONS} connections, pipelining ${PIPELINING}${argv.length > 0 ? `, ${argv.join(' ')}` : ''}`,
  );
  const runs: AdapterRun[] = [];
  for (const setup of SETUPS) {
    for (const adapter of RUN_ADAPTERS) {
      section(
        `(e) HTTP, ${adapter}, server ${setup.name === 'child' ? 'in a child process' : 'in the load generator\'s process'}: ` +
          `${setup.rounds[adapter]} rounds x ${setup.sliceSeconds} s per route`,
      );
      const run = await benchAdapter(adapter, setup);
      if (runs.length === 0) console.log(`body: ${run.bodyBytes} bytes of JSON on every route; X-Cache: HIT probed before and after`);
      runs.push(run);
      printRun(run);
    }
  }

  const summary = (run: AdapterRun): { ratio: number; measured: string } => {
    const { rounds, note } = judged(run);
    const cachedRatios = pick(run.cachedRatios, rounds);
    const ratio = median(cachedRatios);
    const measured =
      `${(ratio * 100).toFixed(1)}% (median of paired per-round ratios, ${note}; IQR ${spreadPercent(cachedRatios)}; ` +
      `${fmt(run.cached.reqPerSec)} vs ${fmt(run.plain.reqPerSec)} req/s), ` +
      `server CPU ${fmt(run.cached.cpuUsPerReq, 1)} vs ${fmt(run.plain.cpuUsPerReq, 1)} µs/req (${signed(run.cached.cpuUsPerReq - run.plain.cpuUsPerReq)}); ` +
      `minimal interceptor ${(median(pick(run.minimalRatios, rounds)) * 100).toFixed(1)}%, CPU ${run.minimal === undefined ? 'n/a' : signed(run.minimal.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req`;
    return { ratio, measured };
  };
  const childRuns = runs.filter((run) => run.setup === 'child');
  const targets: TargetResult[] = childRuns
    .filter((run) => run.adapter === 'fastify')
    .map((run) => {
      const { ratio, measured } = summary(run);
      return { target: `Nest 12 + Fastify: a HIT reaches >= ${TARGET_RATIO * 100}% of the uncached route's req/s`, measured, pass: ratio >= TARGET_RATIO };
    });
  section('Targets');
  printTargets(targets);
  for (const run of childRuns.filter((r) => r.adapter !== 'fastify')) console.log(`  [info] Nest 12 + ${run.adapter} (reported, not a target): ${summary(run).measured}`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return strict && targets.some((t) => !t.pass) ? 1 : 0;
}

function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

const watchdog = setTimeout(() => {
  console.error(`\nthe HTTP benchmark ran over ${WATCHDOG_MS / 1000} s: stopping`);
  killChildren();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killChildren();
    process.exit(code);
  },
  (error: unknown) => {
    console.error(error);
    killChildren();
    process.exit(1);
  },
);
