/**
 * (e) HTTP: `npm run bench:http` (node --import tsx bench/http.bench.ts).
 *
 *   --quick          fewer rounds: a smoke run (every setup, adapter and route runs; numbers are noisier), ~45 s
 *   --strict         exit with code 1 when the target FAILs (default: report only)
 *   --rounds=N       N rounds per adapter in the child-process setup (default 15 on Fastify, 6 on Express)
 *   --adapter=NAME   only `fastify` or `express`
 *   --child-only     skip the in-process setup and the intercept() micro-benchmark
 *
 * Exit codes (run-guard.ts): 0 done, 1 a crash, a FAIL under --strict or the watchdog, 2 a bad argument, 130/143
 * SIGINT/SIGTERM; the forked servers and the micro-benchmark's process are killed on every one of them.
 *
 * A route cached by `LayerCacheInterceptor` (every measured request a HIT) against the same route with no
 * interceptor returning the same constant ~1 KB JSON body (`bench/http-app.ts`, a mirror of the sample's
 * `/catalogue`), loaded with autocannon (50 connections, pipelining 1) on loopback, on Fastify and Express,
 * in one run; for reference, the same body behind a minimal caching interceptor (`Map` lookup, `of(body)`: the
 * ceiling of any interceptor-based HIT), and behind @nestjs/cache-manager's `CacheInterceptor` (cache-manager 7, its
 * default in-memory Keyv store, every measured request a HIT: the interceptor users migrate from; child setup only).
 * Target (issue 4): on Nest 12 + Fastify a HIT reaches at least 85% of the uncached route's req/s.
 *
 * The app (`http-app.ts`) and server (`http-server.ts`) are compiled with tsc first (`bench/tsconfig.http.json`
 * to `.tmp/bench-build`, incremental), so that the servers run the library as tsc emits it for users (`dist/`), with
 * no loader hook in between. (The app itself needs no decorator metadata and also starts under tsx.)
 *
 * Two setups per adapter, each interleaved: every round loads each route once for a 1 s slice, back to back,
 * the first route rotating from round to round (so no route always follows another). The ratios are **paired**:
 * each round gives cached / plain (and minimal / plain, cache-manager / plain) from its own slices, seconds apart, so a slow phase of the
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
 * 3. **intercept() alone** (`http-intercept.micro.ts`, in a process of its own): one HIT through each interceptor with
 *    no HTTP, in ns; 2 rounds under --quick. Run here so that the tool keeps working.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { printTargets, section, type TargetResult } from './harness.js';
import { CONNECTIONS, forkServer, inProcessServer, load, PIPELINING, probe, runSlice, type RouteName, type Slice } from './http-load.js';
import { printRun, QUIET_OTHERS, stats, summarize, type AdapterRun } from './http-report.js';
import { ADAPTERS, ROUTES, type AdapterName } from './http-routes.js';
import { parseArgs, runMain, UsageError, type RunGuard } from './run-guard.js';

/** The app and server are run compiled by tsc (as users run the library), built here first. */
const BUILD_CONFIG = fileURLToPath(new URL('./tsconfig.http.json', import.meta.url));
const BUILT = new URL('../.tmp/bench-build/bench/', import.meta.url);
/** tsc gets this long (a clean build on a busy machine takes ~20 s). */
const BUILD_TIMEOUT_MS = 5 * 60_000;
const MICRO = fileURLToPath(new URL('./http-intercept.micro.ts', import.meta.url));

const TARGET_RATIO = 0.85;

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

interface Plan {
  readonly quick: boolean;
  readonly strict: boolean;
  readonly setups: readonly Setup[];
  readonly adapters: readonly AdapterName[];
  /** Rounds of the intercept() micro-benchmark; 0: not run. */
  readonly microRounds: number;
}

/** The run the arguments ask for. @throws UsageError */
function plan(argv: readonly string[]): Plan {
  const args = parseArgs(argv, { flags: ['quick', 'strict', 'child-only'], options: ['rounds', 'adapter'] });
  const quick = args.flag('quick');
  const adapter = args.option('adapter');
  if (adapter !== undefined && !ADAPTERS.includes(adapter as AdapterName)) {
    throw new UsageError(`--adapter=${adapter}: expected one of ${ADAPTERS.join(', ')}`);
  }
  const roundsArg = args.option('rounds');
  const rounds = roundsArg === undefined ? undefined : Number(roundsArg);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) throw new UsageError(`--rounds=${roundsArg}: expected a positive integer`);
  const all: Setup[] = [
    {
      name: 'child',
      routes: ['plain', 'cached', 'minimal', 'nest'],
      rounds: rounds !== undefined ? { fastify: rounds, express: rounds } : quick ? { fastify: 2, express: 2 } : { fastify: 15, express: 6 },
      sliceSeconds: 1,
      warmupSeconds: quick ? 1 : 2,
    },
    { name: 'in-process', routes: ['plain', 'cached'], rounds: quick ? { fastify: 1, express: 1 } : { fastify: 4, express: 4 }, sliceSeconds: 1, warmupSeconds: 1 },
  ];
  const childOnly = args.flag('child-only');
  return {
    quick,
    strict: args.flag('strict'),
    setups: all.filter((setup) => !childOnly || setup.name === 'child'),
    adapters: ADAPTERS.filter((a) => adapter === undefined || a === adapter),
    microRounds: childOnly ? 0 : quick ? 2 : 21,
  };
}

/** The watchdog's bound, armed after the build: the planned load plus three minutes (Nest start-ups, probes, the micro). */
function watchdogMs(run: Plan): number {
  const loadSeconds = run.setups.reduce(
    (total, setup) => total + run.adapters.reduce((sum, adapter) => sum + setup.routes.length * (setup.rounds[adapter] * setup.sliceSeconds + setup.warmupSeconds), 0),
    0,
  );
  return 1_000 * (180 + loadSeconds);
}

async function benchAdapter(adapter: AdapterName, setup: Setup, guard: RunGuard): Promise<AdapterRun> {
  const server = setup.name === 'child' ? await forkServer(adapter, BUILT, guard) : await inProcessServer(adapter, BUILT);
  try {
    let bodyBytes = 0;
    for (const path of [ROUTES.cached, ROUTES.minimal, ROUTES.nest]) {
      const first = await fetch(server.url + path);
      bodyBytes = (await first.arrayBuffer()).byteLength;
      if (first.headers.get('x-cache') !== 'MISS') throw new Error(`the first request of ${path} was ${String(first.headers.get('x-cache'))}, not MISS`);
    }
    await probe(server.url, `${adapter}, before the run`);
    for (const route of setup.routes) await load(server.url + ROUTES[route], setup.warmupSeconds);

    const slices: Record<RouteName, Slice[]> = { plain: [], cached: [], minimal: [], nest: [] };
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
      nest: slices.nest.length === 0 ? undefined : stats(slices.nest),
      cachedRatios: slices.cached.map((s, i) => s.reqPerSec / plainOf(i).reqPerSec),
      minimalRatios: slices.minimal.map((s, i) => s.reqPerSec / plainOf(i).reqPerSec),
      nestRatios: slices.nest.map((s, i) => s.reqPerSec / plainOf(i).reqPerSec),
      cpuRatios: slices.cached.map((s, i) => plainOf(i).cpuUsPerReq / s.cpuUsPerReq),
      quiet: slices.plain.map((_, i) => setup.routes.every((route) => (slices[route][i]?.othersBusy ?? 0) <= QUIET_OTHERS)),
      bodyBytes,
    };
  } finally {
    await server.close();
  }
}
/** Compiles the app and the server (incremental: quick when nothing changed). */
function build(): void {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', BUILD_CONFIG], { stdio: 'inherit', timeout: BUILD_TIMEOUT_MS, killSignal: 'SIGKILL' });
  if (result.error !== undefined) throw new Error(`tsc -p ${BUILD_CONFIG}: ${result.error.message}`, { cause: result.error });
  if (result.status !== 0) throw new Error(`tsc -p ${BUILD_CONFIG} failed (status ${result.status}, signal ${result.signal})`);
}

/** Runs `http-intercept.micro.ts` in a process of its own (its output goes to ours). @throws on a non-zero exit */
async function runMicro(rounds: number, guard: RunGuard): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', MICRO, String(rounds)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const untrack = guard.track(() => child.kill('SIGKILL'));
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    });
    if (code !== 0) throw new Error(`${MICRO} ${rounds} failed (exit code ${code}, signal ${signal})`);
  } finally {
    untrack();
  }
}

/** The installed version of `@nestjs/<name>` (the CI also runs against another major than the lockfile's). */
function nestVersion(name: string): string {
  const manifest = fileURLToPath(new URL(`../node_modules/@nestjs/${name}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

async function main(guard: RunGuard): Promise<number> {
  const argv = process.argv.slice(2);
  const run = plan(argv);
  const started = Date.now();
  build();
  guard.watchdog(watchdogMs(run));
  const nest = nestVersion('core');
  const nestMajor = nest.split('.')[0] as string;
  console.log(
    `nestjs-layercache HTTP benchmark — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, NestJS ${nest}, ` +
      `autocannon ${CONNECTIONS} connections, pipelining ${PIPELINING}${argv.length > 0 ? `, ${argv.join(' ')}` : ''}`,
  );
  const runs: AdapterRun[] = [];
  for (const setup of run.setups) {
    for (const adapter of run.adapters) {
      section(
        `(e) HTTP, ${adapter}, server ${setup.name === 'child' ? 'in a child process' : 'in the load generator\'s process'}: ` +
          `${setup.rounds[adapter]} rounds x ${setup.sliceSeconds} s per route`,
      );
      const result = await benchAdapter(adapter, setup, guard);
      if (runs.length === 0) console.log(`body: ${result.bodyBytes} bytes of JSON on every route; X-Cache: HIT probed before and after`);
      runs.push(result);
      printRun(result);
    }
  }
  if (run.microRounds > 0) {
    section(`(e) one HIT through intercept() alone, no HTTP: ${run.microRounds} rounds (bench/http-intercept.micro.ts)`);
    await runMicro(run.microRounds, guard);
  }

  const childRuns = runs.filter((r) => r.setup === 'child');
  const targets: TargetResult[] = childRuns
    .filter((r) => r.adapter === 'fastify')
    .map((r) => {
      const { ratio, measured } = summarize(r);
      return { target: `Nest ${nestMajor} + Fastify: a HIT reaches >= ${TARGET_RATIO * 100}% of the uncached route's req/s`, measured, pass: ratio >= TARGET_RATIO };
    });
  section('Targets');
  printTargets(targets);
  for (const r of childRuns.filter((c) => c.adapter !== 'fastify')) console.log(`  [info] Nest ${nestMajor} + ${r.adapter} (reported, not a target): ${summarize(r).measured}`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return run.strict && targets.some((t) => !t.pass) ? 1 : 0;
}

runMain('npm run bench:http', main);
