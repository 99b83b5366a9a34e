/**
 * A micro-benchmark of one HIT through `intercept()` (a tool to see where the interceptor's own time goes; `npm run
 * bench:http` runs it last, in a process of its own): `node --import tsx bench/http-intercept.micro.ts [rounds]`.
 *
 * `LayerCacheInterceptor` and the benchmark's minimal caching interceptor (`http-app.ts`) answer a HIT of the
 * benchmark's `/catalogue` handler (same decorators), interleaved, in this process: a real `ExecutionContextHost`
 * and `FastifyAdapter` (its `setHeader`/`isHeadersSent`), a fake Fastify reply (a `header()` storing into an
 * object), the returned Observable subscribed synchronously. No HTTP, no Nest pipeline: only what each
 * interceptor does itself, in ns per HIT (median over the rounds). The stack is a `MemoryLayer` stack.
 */
import 'reflect-metadata';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { of, type Observable } from 'rxjs';
import { CacheStack, LayerCacheInterceptor, MemoryLayer } from '../lib/index.js';
import { BenchCatalogueController, CATALOGUE_BODY, MinimalCacheInterceptor } from './http-app.js';
import { percentile } from './harness.js';

/** The parts of a Fastify reply the adapter and the interceptor use. */
class FakeReply {
  readonly sent = false;
  readonly raw = { headersSent: false };
  headers: Record<string, unknown> = {};
  status(): this {
    return this; // `'status' in reply` makes the adapter treat it as a Fastify reply, not a raw response
  }
  header(name: string, value: unknown): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
}

interface Interceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown>;
}

const HITS_PER_ROUND = 200_000;
const rounds = Number(process.argv[2] ?? 21);
if (!Number.isInteger(rounds) || rounds < 1 || process.argv.length > 3) {
  console.error(`usage: http-intercept.micro.ts [rounds] (a positive integer, default 21), got ${JSON.stringify(process.argv.slice(2))}`);
  process.exit(2);
}

const adapter = new FastifyAdapter();
const host = { httpAdapter: adapter } as never;
const stack = new CacheStack([new MemoryLayer({ maxSize: 10_000 })], { ttl: 60 });
const next: CallHandler = { handle: () => of(CATALOGUE_BODY) };
const subjects: Record<string, Interceptor> = {
  LayerCacheInterceptor: new LayerCacheInterceptor(host, {} as never, stack, undefined),
  'minimal interceptor': new MinimalCacheInterceptor(host),
};
const handlers: Record<string, () => unknown> = {
  LayerCacheInterceptor: BenchCatalogueController.prototype.cached,
  'minimal interceptor': BenchCatalogueController.prototype.minimal,
};

function contexts(name: string): ExecutionContextHost[] {
  return Array.from({ length: 16 }, () => {
    const request = { method: 'GET', url: '/catalogue', headers: { host: '127.0.0.1', accept: '*/*' }, params: {}, query: {} };
    const context = new ExecutionContextHost([request, new FakeReply(), undefined], BenchCatalogueController, handlers[name]);
    context.setType('http');
    return context;
  });
}

/** ns per HIT over one round (a pool of 16 contexts, each reply's headers reset before use). */
function round(name: string, pool: readonly ExecutionContextHost[]): number {
  const interceptor = subjects[name] as Interceptor;
  let answered = 0;
  const count = (): void => {
    answered++;
  };
  const started = process.hrtime.bigint();
  for (let i = 0; i < HITS_PER_ROUND; i++) {
    const context = pool[i & 15] as ExecutionContextHost;
    (context.getArgByIndex(1) as FakeReply).headers = {};
    interceptor.intercept(context, next).subscribe(count);
  }
  const ns = Number(process.hrtime.bigint() - started) / HITS_PER_ROUND;
  if (answered !== HITS_PER_ROUND) throw new Error(`${name}: ${answered} of ${HITS_PER_ROUND} HITs answered synchronously`);
  return ns;
}

async function main(): Promise<void> {
  const names = Object.keys(subjects);
  const pools = Object.fromEntries(names.map((name) => [name, contexts(name)]));
  for (const name of names) {
    // the first request of each is a MISS that stores the body
    await new Promise<void>((resolve, reject) => (subjects[name] as Interceptor).intercept(contexts(name)[0] as ExecutionContextHost, next).subscribe({ complete: resolve, error: reject }));
  }
  const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let r = 0; r < rounds + 2; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length] as string;
      const ns = round(name, pools[name] as ExecutionContextHost[]);
      if (r >= 2) samples[name]?.push(ns); // two warm-up rounds
    }
  }
  const probe = pools.LayerCacheInterceptor?.[0] as ExecutionContextHost;
  console.log(`one HIT through intercept(), median of ${rounds} interleaved rounds of ${HITS_PER_ROUND.toLocaleString('en-US')}, Node ${process.version}:`);
  for (const name of names) {
    const sorted = Float64Array.from(samples[name] as number[]).sort();
    console.log(`  ${name.padEnd(24)} ${percentile(sorted, 0.5).toFixed(0).padStart(6)} ns (IQR ${percentile(sorted, 0.25).toFixed(0)}-${percentile(sorted, 0.75).toFixed(0)})`);
  }
  console.log(`  LayerCacheInterceptor's headers on a HIT: ${JSON.stringify((probe.getArgByIndex(1) as FakeReply).headers)}`);
  await stack.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
