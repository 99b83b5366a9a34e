/**
 * (e) HTTP: `npm run bench:http` (node --import tsx bench/http.bench.ts).
 *
 *   --quick     fewer, shorter rounds (a smoke run, numbers are noisier)
 *   --strict    exit with code 1 when the target FAILs (default: report only)
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
 * Two setups per adapter, each interleaved (every round loads each route once, the first route rotating):
 * 1. **server in a child process** (the target's numbers): the compiled `http-server.js` is forked and autocannon runs
 *    here, so server and load generator each have their own thread; the server reports its own
 *    `process.cpuUsage()` over IPC before and after each slice, giving the server's CPU per request alone
 *    (and this process's delta gives the load generator's).
 * 2. **server in this process**: the app and autocannon share one thread; CPU per request is then server +
 *    load generator (`process.cpuUsage()` of this process), and req/s is bounded by their sum.
 * Each slice must return only 2xx without errors; the cached routes are probed for `X-Cache: HIT` and a body
 * identical to the plain route's before and after, and (child setup) the stack must count no miss while
 * measuring and at least one hit per counted request.
 */
import autocannon from 'autocannon';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatRatio, percentile, printTable, printTargets, section, type TargetResult } from './harness.js';
import { ADAPTERS, ROUTES, type AdapterName } from './http-routes.js';
import type { ParentMessage, ServerMessage, ServerSample } from './http-server.js';

type RouteName = keyof typeof ROUTES;

/** The app and server are run compiled by tsc (decorator metadata, see `http-app.ts`), built here first. */
const BUILD_CONFIG = fileURLToPath(new URL('./tsconfig.http.json', import.meta.url));
const BUILT = new URL('../.tmp/bench-build/bench/', import.meta.url);

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const strict = args.has('--strict');

const CONNECTIONS = 50;
const PIPELINING = 1;
/** The whole run is stopped (servers killed, exit code 1) past this. */
const WATCHDOG_MS = 170_000;
const TARGET_RATIO = 0.85;

interface Setup {
  readonly name: 'child' | 'in-process';
  /** The routes loaded in each round (rotating which goes first). */
  readonly routes: readonly RouteName[];
  readonly rounds: number;
  /** Seconds per slice (one route, one round). */
  readonly sliceSeconds: number;
  /** Seconds of unmeasured load per route first (JIT warm-up). */
  readonly warmupSeconds: number;
}

const SETUPS: readonly Setup[] = quick
  ? [
      { name: 'child', routes: ['plain', 'cached', 'minimal'], rounds: 2, sliceSeconds: 1, warmupSeconds: 0.5 },
      { name: 'in-process', routes: ['plain', 'cached'], rounds: 2, sliceSeconds: 1, warmupSeconds: 0.5 },
    ]
  : [
      { name: 'child', routes: ['plain', 'cached', 'minimal'], rounds: 5, sliceSeconds: 2, warmupSeconds: 1 },
      { name: 'in-process', routes: ['plain', 'cached'], rounds: 3, sliceSeconds: 2, warmupSeconds: 1 },
    ];

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

function cpuNow(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

async function runSlice(server: Server, route: RouteName, seconds: number): Promise<Slice> {
  const before = await server.sample();
  const clientBefore = cpuNow();
  const result = await load(server.url + ROUTES[route], seconds);
  const clientCpu = cpuNow() - clientBefore;
  const after = await server.sample();
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
  /** cached / plain req/s of each round (paired slices). */
  readonly roundRatios: readonly number[];
  readonly bodyBytes: number;
}

const median = (values: readonly number[]): number => percentile(Float64Array.from(values).sort(), 0.5);
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

function stats(slices: readonly Slice[]): RouteStats {
  const hits = slices.map((s) => s.hits);
  const misses = slices.map((s) => s.misses);
  const client = slices.map((s) => s.clientCpuUsPerReq);
  return {
    reqPerSec: median(slices.map((s) => s.reqPerSec)),
    minReqPerSec: Math.min(...slices.map((s) => s.reqPerSec)),
    maxReqPerSec: Math.max(...slices.map((s) => s.reqPerSec)),
    p50Ms: median(slices.map((s) => s.p50Ms)),
    p99Ms: median(slices.map((s) => s.p99Ms)),
    cpuUsPerReq: median(slices.map((s) => s.cpuUsPerReq)),
    clientCpuUsPerReq: client.every((c) => c !== undefined) ? median(client as number[]) : undefined,
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
    for (let round = 0; round < setup.rounds; round++) {
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
    return {
      adapter,
      setup: setup.name,
      plain: stats(slices.plain),
      cached,
      minimal: slices.minimal.length === 0 ? undefined : stats(slices.minimal),
      roundRatios: slices.cached.map((s, i) => s.reqPerSec / (slices.plain[i] as Slice).reqPerSec),
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
    fmt(s.requests),
  ];
  printTable(
    ['route', 'req/s (median)', 'min-max', 'p50', 'p99', child ? 'server CPU µs/req' : 'process CPU µs/req', ...(child ? ['client CPU µs/req'] : []), 'requests'],
    [
      row(`${ROUTES.plain} (no interceptor, baseline)`, run.plain),
      row(`${ROUTES.cached} (LayerCacheInterceptor HIT)`, run.cached),
      ...(run.minimal === undefined ? [] : [row(`${ROUTES.minimal} (minimal interceptor HIT, ceiling)`, run.minimal)]),
    ],
  );
  const ratios = [...run.roundRatios].sort((a, b) => a - b);
  console.log(
    `  cached / plain req/s: ${formatRatio(run.cached.reqPerSec / run.plain.reqPerSec)} (per round ${ratios.map((r) => r.toFixed(2)).join(', ')}); ` +
      `CPU ${signed(run.cached.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req` +
      (run.cached.hits === undefined ? '' : `; stack: ${fmt(run.cached.hits)} hits, ${fmt(run.cached.misses ?? 0)} misses while measuring`),
  );
  if (run.minimal !== undefined) {
    console.log(
      `  minimal / plain req/s: ${formatRatio(run.minimal.reqPerSec / run.plain.reqPerSec)}, CPU ${signed(run.minimal.cpuUsPerReq - run.plain.cpuUsPerReq)} µs/req; ` +
        `cached / minimal req/s: ${formatRatio(run.cached.reqPerSec / run.minimal.reqPerSec)}`,
    );
  }
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
      `autocannon ${CONNECTIONS} connections, pipelining ${PIPELINING}${quick ? ', --quick' : ''}`,
  );
  const runs: AdapterRun[] = [];
  for (const setup of SETUPS) {
    for (const adapter of ADAPTERS) {
      section(
        `(e) HTTP, ${adapter}, server ${setup.name === 'child' ? 'in a child process' : 'in the load generator\'s process'}: ` +
          `${setup.rounds} rounds x ${setup.sliceSeconds} s per route`,
      );
      const run = await benchAdapter(adapter, setup);
      if (runs.length === 0) console.log(`body: ${run.bodyBytes} bytes of JSON on every route; X-Cache: HIT probed before and after`);
      runs.push(run);
      printRun(run);
    }
  }

  const summary = (run: AdapterRun): { ratio: number; measured: string } => {
    const ratio = run.cached.reqPerSec / run.plain.reqPerSec;
    const measured =
      `${fmt(run.cached.reqPerSec)} vs ${fmt(run.plain.reqPerSec)} req/s = ${(ratio * 100).toFixed(1)}%, ` +
      `server CPU ${fmt(run.cached.cpuUsPerReq, 1)} vs ${fmt(run.plain.cpuUsPerReq, 1)} µs/req (${signed(run.cached.cpuUsPerReq - run.plain.cpuUsPerReq)})`;
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
