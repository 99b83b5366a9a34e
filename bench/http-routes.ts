/** Names shared by the HTTP benchmark's runner (`http.bench.ts`, run by tsx) and its compiled app. */

export type AdapterName = 'fastify' | 'express';
export const ADAPTERS: readonly AdapterName[] = ['fastify', 'express'];

/**
 * Paths of the routes, all answering the same constant body: no interceptor (the baseline), `LayerCacheInterceptor`,
 * a minimal caching interceptor (a `Map` lookup and `of(body)` on a hit: the ceiling of any interceptor), and
 * @nestjs/cache-manager's `CacheInterceptor` on cache-manager 7 with its default in-memory Keyv store (the
 * interceptor users migrate from).
 */
export const ROUTES = { plain: '/catalogue-plain', cached: '/catalogue', minimal: '/catalogue-minimal', nest: '/catalogue-cache-manager' } as const;
