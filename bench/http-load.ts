/**
 * The load side of the HTTP benchmark (`http.bench.ts`): starting a server (forked, or in this process), loading
 * one route for one slice with autocannon, and what a slice measures: req/s and latency, the server's CPU time
 * per request (reported by the forked server over IPC), this process's, and the machine's other load.
 *
 * Hard part: "others busy" is the machine's busy time (`/proc/stat`) minus the server's and this process's over
 * the slice; it only sees this machine (or VM), and the kernel's loopback work shows as softirq there but in the
 * processes' own system time.
 */
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ROUTES, type AdapterName } from './http-routes.js';
import type { ParentMessage, ServerMessage, ServerSample } from './http-server.js';
import type { RunGuard } from './run-guard.js';

export type RouteName = keyof typeof ROUTES;

/** autocannon's load: connections, and requests in flight per connection. */
export const CONNECTIONS = 50;
export const PIPELINING = 1;

/** One slice: one route loaded for `sliceSeconds`. */
export interface Slice {
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
export interface Server {
  readonly url: string;
  sample(): Promise<{ cpuUs: number; hits: number; misses: number } | undefined>;
  close(): Promise<void>;
}

/** Forks the compiled server (`http-server.js` in `built`) on `adapter`; killed on any exit of this process. */
export async function forkServer(adapter: AdapterName, built: URL, guard: RunGuard): Promise<Server> {
  const child = fork(fileURLToPath(new URL('http-server.js', built)), [adapter, '0'], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const untrack = guard.track(() => child.kill('SIGKILL'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => (untrack(), resolve())));
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

/** Starts the compiled app (`http-app.js` in `built`) in this process. */
export async function inProcessServer(adapter: AdapterName, built: URL): Promise<Server> {
  const { startBenchApp } = (await import(new URL('http-app.js', built).href)) as typeof import('./http-app.js');
  const app = await startBenchApp(adapter);
  return { url: app.url, sample: () => Promise.resolve(undefined), close: () => app.close() };
}

export function load(url: string, seconds: number): Promise<autocannon.Result> {
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

export async function runSlice(server: Server, route: RouteName, seconds: number): Promise<Slice> {
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
export async function probe(url: string, when: string): Promise<void> {
  const plain = await fetch(url + ROUTES.plain);
  const plainBody = await plain.text();
  if (plain.headers.get('x-cache') !== null) throw new Error(`${when}: ${ROUTES.plain} went through an interceptor`);
  for (const path of [ROUTES.cached, ROUTES.minimal, ROUTES.nest]) {
    const cached = await fetch(url + path);
    const xCache = cached.headers.get('x-cache');
    if (xCache !== 'HIT') throw new Error(`${when}: ${path} answered X-Cache: ${String(xCache)}, expected HIT`);
    if ((await cached.text()) !== plainBody) throw new Error(`${when}: ${path} and ${ROUTES.plain} answered different bodies`);
  }
}
