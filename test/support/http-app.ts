/**
 * Real Nest apps for the HTTP tests, on Express or Fastify: `LayerCacheModule` on a memory stack and a fake clock,
 * the interceptor's app-wide options, the test's controllers, and a few helpers around them.
 * Hard part: the app-wide options are provided under the internal `LAYER_CACHE_HTTP_OPTIONS` token (not
 * exported by lib/index.ts) so a test can hand the interceptor a clock without going through `forRoot`.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import {
  CacheStack,
  LayerCacheInterceptor,
  LayerCacheModule,
  MemoryLayer,
  type LayerCacheHttpOptions,
  type LayerCacheModuleRootOptions,
} from '../../lib/index.js';
import { LAYER_CACHE_HTTP_OPTIONS } from '../../lib/http/http-cache.options.js';
import { silentLogger } from './decorator-app.js';
import type { FakeClock } from './fake-clock.js';
import { startApp, type AdapterName } from './nest-app.js';

/** What {@link startHttpApp} builds. */
export interface HttpAppOptions {
  controllers: Type[];
  providers?: Provider[];
  /** The time source of the stack and of `Age` (default: the system clock). */
  clock?: FakeClock;
  /** Options of the default stack (memory-only unless `redis` is given). */
  stack?: LayerCacheModuleRootOptions;
  /** Named stacks (memory-only). */
  named?: string[];
  http?: LayerCacheHttpOptions;
  /** Register the interceptor as APP_INTERCEPTOR. */
  global?: boolean;
}

/** A started app and its default stack; closed after the test. */
export interface HttpApp {
  app: INestApplication;
  stack: CacheStack;
  /** `http://127.0.0.1:<port>`: the app listens, so concurrent supertest requests share one server. */
  url: string;
}

const open: INestApplication[] = [];
const restores: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
  for (const restore of restores.splice(0)) restore();
});

/** Starts an app with `LayerCacheModule` on a fake clock, the HTTP options provider, and the test's controllers. */
export async function startHttpApp(adapter: AdapterName, options: HttpAppOptions): Promise<HttpApp> {
  const providers: Provider[] = [{ provide: LAYER_CACHE_HTTP_OPTIONS, useValue: { ...(options.clock && { clock: options.clock }), ...options.http } }, ...(options.providers ?? [])];
  if (options.global === true) providers.push({ provide: APP_INTERCEPTOR, useClass: LayerCacheInterceptor });
  const imports = [
    LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], ...(options.clock && { clock: options.clock }), logger: silentLogger, ...options.stack }),
    ...(options.named ?? []).map((name) => LayerCacheModule.forRoot({ name, layers: [() => new MemoryLayer()], ...(options.clock && { clock: options.clock }), logger: silentLogger })),
  ];
  const app = await startApp({ imports, controllers: options.controllers, providers }, adapter);
  open.push(app);
  await app.listen(0, '127.0.0.1');
  return { app, stack: app.get(CacheStack), url: (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1') };
}

/** Records the interceptor's warnings (Nest `Logger.warn`), silencing them. */
export function recordHttpWarnings(): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
    lines.push(String(message));
  });
  restores.push(() => spy.mockRestore());
  return lines;
}

/** Lets a background revalidation start (it is scheduled after the reply) and finish. */
export async function afterRevalidation(stack: CacheStack): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await stack.idle();
}

/** A supertest parser reading the body as raw bytes, whatever its content type. */
export function rawBody(res: unknown, done: (error: Error | null, body: Buffer) => void): void {
  const stream = res as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

/** Closes an app of {@link startHttpApp} now (e.g. before a Redis server it uses comes back). */
export async function closeHttpApp(app: INestApplication): Promise<void> {
  const index = open.indexOf(app);
  if (index >= 0) open.splice(index, 1);
  await app.close();
}
