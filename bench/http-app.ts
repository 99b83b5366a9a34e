/**
 * The Nest app of the HTTP benchmark (`npm run bench:http`): routes returning the same constant JSON body,
 * one plain, one cached by `LayerCacheInterceptor` on the memory layer, one behind a minimal caching
 * interceptor (the ceiling of any interceptor, for reference), and one cached by @nestjs/cache-manager's
 * `CacheInterceptor` (cache-manager 7, its default in-memory Keyv store: what users migrate from).
 *
 * It mirrors the sample's `/catalogue` route (`sample/catalogue/catalogue.controller.ts`): the same decorators
 * on the handler (`@UseInterceptors(LayerCacheInterceptor)`, `@HttpCache`, `@CacheTags('products')`) and the
 * same response shape (`{ products, renderedAt }`, products of the sample's `Product` shape), with two
 * differences that make it a measurement rather than a demo: the body is a constant built once (10 products,
 * ~1 KB as JSON) instead of a 300 ms database read, and the entry stays fresh for the whole run
 * (`ttl: 3600`, no stale-while-revalidate), so every measured request of the cached route is a HIT. The sample's
 * controller itself cannot be loaded here: it injects its services by constructor type, which needs
 * `emitDecoratorMetadata`, and tsx does not emit it. This controller injects nothing; the interceptor and the
 * module use explicit `@Inject` tokens and factories, so they need no metadata.
 */
import 'reflect-metadata';
import { CacheInterceptor, CacheModule, CacheTTL } from '@nestjs/cache-manager';
import { Controller, Get, Inject, Injectable, Module, UseInterceptors, type CallHandler, type ExecutionContext, type INestApplication, type NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { of, tap, type Observable } from 'rxjs';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { CacheStack, CacheTags, HttpCache, LayerCacheInterceptor, LayerCacheModule, MemoryLayer } from '../lib/index.js';
import type { AdapterName } from './http-routes.js';

/** A product as the sample's `CatalogueRepository` returns it (dates as JSON sends them). */
interface CatalogueProduct {
  id: number;
  name: string;
  price: number;
  authorId: number;
  updatedAt: string;
}

const PRODUCT_NAMES = ['Mechanical keyboard', 'Trackball', 'Wireless mouse', 'USB-C dock', 'Monitor arm', 'Desk mat', 'Webcam', 'Headset', 'Laptop stand', 'Microphone'];

/** The constant body of both routes: the sample's `/catalogue` shape, ~1 KB as JSON. */
export const CATALOGUE_BODY: { readonly products: readonly CatalogueProduct[]; readonly renderedAt: string } = Object.freeze({
  products: PRODUCT_NAMES.map((name, i) => ({
    id: i + 1,
    name,
    price: 19 + 10 * i,
    authorId: (i % 2) + 1,
    updatedAt: new Date(Date.UTC(2026, 10, 24, 9, i)).toISOString(),
  })),
  renderedAt: new Date(Date.UTC(2026, 10, 24, 10)).toISOString(),
});

/**
 * The least a caching interceptor can do: a `Map` lookup by URL and `of(body)` plus one header on a hit,
 * `next.handle()` on a miss. Not a usable cache (no TTL, no key hashing, no ETag): the benchmark's ceiling for
 * any interceptor-based HIT on this Nest and adapter.
 */
@Injectable()
export class MinimalCacheInterceptor implements NestInterceptor {
  private readonly entries = new Map<string, unknown>();
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const url = http.getRequest<{ url: string }>().url;
    const hit = this.entries.get(url);
    this.adapterHost.httpAdapter.setHeader(http.getResponse(), 'X-Cache', hit === undefined ? 'MISS' : 'HIT');
    if (hit !== undefined) return of(hit);
    return next.handle().pipe(tap((body: unknown) => this.entries.set(url, body)));
  }
}

@Controller()
export class BenchCatalogueController {
  /** The same handler with no interceptor: the baseline. */
  @Get('catalogue-plain')
  plain() {
    return CATALOGUE_BODY;
  }

  /** The sample's `/catalogue` decorators, fresh for an hour (every measured request is a HIT). */
  @Get('catalogue')
  @UseInterceptors(LayerCacheInterceptor)
  @HttpCache({ ttl: 3600 })
  @CacheTags('products')
  cached() {
    return CATALOGUE_BODY;
  }

  /** The same handler behind the minimal interceptor (the ceiling). */
  @Get('catalogue-minimal')
  @UseInterceptors(MinimalCacheInterceptor)
  minimal() {
    return CATALOGUE_BODY;
  }

  /** The same handler behind @nestjs/cache-manager's `CacheInterceptor` (keyed by URL), fresh for an hour (ms). */
  @Get('catalogue-cache-manager')
  @UseInterceptors(CacheInterceptor)
  @CacheTTL(3_600_000)
  cacheManager() {
    return CATALOGUE_BODY;
  }
}

@Module({
  imports: [
    LayerCacheModule.forRoot({ layers: [() => new MemoryLayer({ maxSize: 10_000 })], ttl: 60 }),
    // cache-manager 7 on its default store (Keyv's in-memory Map), as `CacheModule.register()` sets it up.
    CacheModule.register({ ttl: 60_000 }),
  ],
  controllers: [BenchCatalogueController],
})
class BenchHttpModule {}

/** A started app: its base URL, its stack (for hit/miss counts) and how to close it. */
export interface BenchHttpApp {
  readonly url: string;
  readonly stack: CacheStack;
  close(): Promise<void>;
}

/** Starts the app on `adapter`, listening on 127.0.0.1 (`port` 0: a free port). */
export async function startBenchApp(adapter: AdapterName, port = 0): Promise<BenchHttpApp> {
  const options = { logger: ['error', 'warn'] as ('error' | 'warn')[] };
  const app: INestApplication =
    adapter === 'fastify'
      ? await NestFactory.create(BenchHttpModule, new FastifyAdapter(), options)
      : await NestFactory.create(BenchHttpModule, options);
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, stack: app.get(CacheStack), close: () => app.close() };
}
