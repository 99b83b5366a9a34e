/**
 * The HTTP benchmark's server as a process of its own, compiled (see `bench/http-app.ts` for why):
 * `npx tsc -p bench/tsconfig.http.json && node .tmp/bench-build/bench/http-server.js <fastify|express> [port]`
 * (port 0 or none: a free one). `bench/http.bench.ts` forks it, so that the CPU time of the server is measured
 * apart from the load generator's: the server reads its own `process.cpuUsage()` when asked over the IPC
 * channel, together with its stack's hit/miss counters.
 *
 * IPC (only when forked): sends `{ type: 'ready', url }` once listening; answers `{ type: 'sample' }` with a
 * {@link ServerSample}; on `{ type: 'close' }` closes the app and exits (the parent waits for the exit); exits as well when the parent goes away.
 * Started by hand (no IPC) it prints its URL and runs until SIGINT/SIGTERM.
 */
import { startBenchApp } from './http-app.js';
import { ADAPTERS, type AdapterName } from './http-routes.js';

/** What the server reports about itself. */
export interface ServerSample {
  readonly type: 'sample';
  /** `process.cpuUsage()`: user and system CPU time of this process, µs. */
  readonly userUs: number;
  readonly systemUs: number;
  /** The stack's counters: fresh hits, stale answers, misses. */
  readonly hits: number;
  readonly stale: number;
  readonly misses: number;
}

export type ServerMessage = { readonly type: 'ready'; readonly url: string } | ServerSample;
export type ParentMessage = { readonly type: 'sample' } | { readonly type: 'close' };

async function main(): Promise<void> {
  const adapter = process.argv[2] as AdapterName;
  if (!ADAPTERS.includes(adapter)) throw new Error(`usage: http-server.ts <${ADAPTERS.join('|')}> [port]`);
  const app = await startBenchApp(adapter, Number(process.argv[3] ?? 0));
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await app.close();
  };

  if (process.send === undefined) {
    console.log(`${adapter} bench server on ${app.url} (plain: /catalogue-plain, cached: /catalogue)`);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        const cpu = process.cpuUsage();
        console.log(`CPU: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
        void close().then(() => process.exit(0));
      });
    }
    return;
  }

  const send = (message: ServerMessage): void => {
    process.send?.(message);
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'sample') {
      const cpu = process.cpuUsage();
      const { hits, stale, misses } = app.stack.getMetrics().stack;
      send({ type: 'sample', userUs: cpu.user, systemUs: cpu.system, hits, stale, misses });
    } else if (message.type === 'close') {
      void close().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => void close().then(() => process.exit(0)));
  send({ type: 'ready', url: app.url });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
