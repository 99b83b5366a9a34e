/**
 * Options of HTTP response caching: per route (`@HttpCache`), and app-wide defaults given to the interceptor
 * through `LayerCacheModule.forRoot({ http })` (an internal provider). Route options win over the app-wide defaults,
 * which win over the stack's own entry defaults (`ttl`, `staleWhileRevalidate`, `staleIfError` of
 * `LayerCacheModule.forRoot`), so a module-wide `staleWhileRevalidate` is the global SWR switch and a route
 * turns it off with `staleWhileRevalidate: 0`.
 */
import type { Clock } from '../core/clock.js';
import type { Duration } from '../core/duration.js';
import type { TagsOption } from '../core/tags.js';
import type { CalendarTtl } from '../core/calendar-boundary.js';
import type { CacheEntryOptions } from '../stack/cache-stack.options.js';

/** The route options that are entry options, handed to the stack as written. */
export const ROUTE_ENTRY_OPTIONS = [
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'refreshAhead',
  'slidingTtl',
  'maxTtl',
  'adaptiveTtl',
  'ttlJitter',
  'timeZone',
  'circuitBreaker',
  'loaderRateLimit',
] as const satisfies readonly (keyof HttpCacheOptions & keyof CacheEntryOptions)[];

/** The entry options written on a route (absent ones stay absent). */
export function routeEntryOptions(options: HttpCacheOptions): CacheEntryOptions {
  const entry: Record<string, unknown> = {};
  for (const name of ROUTE_ENTRY_OPTIONS) if (options[name] !== undefined) entry[name] = options[name];
  return entry as CacheEntryOptions;
}

/** The request as the key functions see it (Express and Fastify requests both fit). */
export interface HttpCacheRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query?: unknown;
  readonly params?: unknown;
  readonly [property: string]: unknown;
}

/**
 * A declared key: a function of the request building the entry's key in the stack's own key space (e.g.
 * `` (req) => `items:${req.params.id}` ``). Returning `undefined` or `null` (or throwing) makes that request bypass.
 */
export type HttpCacheKeyFn = (request: HttpCacheRequest) => string | number | undefined | null;

/**
 * Who a response is for: a function of the request (e.g. `(req) => req.user.id`). Returning `undefined` or `null`
 * (or throwing) makes that request bypass the cache (e.g. no user).
 */
export type HttpCacheIdentityFn = (request: HttpCacheRequest) => string | number | undefined | null;

/** A ttl computed per request: a duration (a number is seconds) from the request and the handler's response body. */
export type HttpCacheTtlFn = (request: HttpCacheRequest, body: unknown) => Duration;

/** Options of one route, given to `@HttpCache`. Durations: a number is seconds, a string carries its unit. */
export interface HttpCacheOptions {
  /**
   * How long a response stays fresh (`X-Cache: HIT`): a duration, a calendar ttl (`'until-midnight'`, `'next-hour'`
   * in `timeZone`), or a function of the request and the response body returning a duration, called once per
   * stored response (`(req, body) => (body.final ? '1h' : 10)`). With a calendar ttl or a function,
   * `Cache-Control: max-age` counts down the served entry's own freshness. A function that throws or returns no
   * duration: the response is not stored (`ttl-failed`). @default the stack's `ttl`
   */
  ttl?: Duration | CalendarTtl | HttpCacheTtlFn;
  /** Randomizes each stored response's ttl: a fraction in [0, 1) (`0.1`: ±10%) or a duration (`'5s'`); see `CacheEntryOptions.ttlJitter`. @default the stack's (off) */
  ttlJitter?: number | Duration;
  /** The IANA time zone of a calendar `ttl`. @default the stack's, else the process's */
  timeZone?: string;
  /** After freshness: serve stale at once (`X-Cache: STALE`) and re-run the handler in the background; `0` turns a module-wide default off. @default the stack's (0, off) */
  staleWhileRevalidate?: Duration;
  /** After freshness: serve stale when the handler fails with a 5xx or a non-HTTP error. @default the stack's (0, off) */
  staleIfError?: Duration;
  /**
   * Refresh-ahead: after this fraction of the fresh window (e.g. `0.8`) a request is still a `HIT` and re-runs the
   * handler once in the background, so a route requested steadily never misses. @default the stack's (0, off)
   */
  refreshAhead?: number;
  /** Sliding expiry: each `HIT` extends the response's freshness by its ttl (up to `maxTtl`). @default the stack's (false) */
  slidingTtl?: boolean;
  /** The longest a response stays fresh after it was stored, whatever extends it. @default the stack's (none) */
  maxTtl?: Duration;
  /** Adaptive ttl: a route requested often keeps its responses longer (see `CacheEntryOptions.adaptiveTtl`). @default the stack's (off) */
  adaptiveTtl?: CacheEntryOptions['adaptiveTtl'];
  /**
   * Circuit breaker over the handler (see `CacheEntryOptions.circuitBreaker`; one circuit per route unless a `scope` is
   * given): while open, a request with no stale response to serve gets `503` with `Retry-After`, without running the
   * handler. @default the stack's (off)
   */
  circuitBreaker?: CacheEntryOptions['circuitBreaker'];
  /** Rate limit of the handler's cache-filling runs (see `CacheEntryOptions.loaderRateLimit`); over it: `503`. @default the stack's (off) */
  loaderRateLimit?: CacheEntryOptions['loaderRateLimit'];
  /**
   * The entry's key, declared: a string (`'items:all'`) or a function of the request
   * (`` (req) => `items:${req.params.id}` ``), used as is in the stack's key space, so `cache.delete('items:1')`,
   * `@CacheEvict({ keys: ['items:1'] })`, `cache.ttl`/`inspect` and the admin CLI reach the route's entry. It
   * replaces the computed `http:` key: the route's params, query and headers are not added to it (GET and HEAD
   * share the entry), so the key must name everything the body depends on. One declared key is one entry: `vary`
   * and `identity` are refused beside it, and a string key on a handler reading `@Param`, `@Query`,
   * `@Headers(name)` or a host-routed controller is refused (docs/http-caching.md, "Declared keys"). @default the computed key
   */
  key?: string | HttpCacheKeyFn;
  /**
   * Who the response is for: a function of the request (e.g. `(req) => req.user.id`), added to the computed key.
   * Requests carrying `Authorization` (or cookies not ignored) are cached only on routes that declare one; their
   * responses get `Cache-Control: private`. (Named `key` before 0.x: see the CHANGELOG.) @default none (such requests bypass)
   */
  identity?: HttpCacheIdentityFn;
  /**
   * Cookies that do not change the response: a request whose only cookies are these is cached as a cookieless
   * one (`['connect.sid', '_ga']`), or `true` for every cookie. Safe only when the handler reads neither them nor
   * what they carry (a session): not applied to handlers taking `@Req()`, `@Headers()`, `@Session()` or a custom
   * parameter decorator (their requests with cookies bypass; one warning). A response setting a cookie is never
   * stored. Replaces the app-wide `ignoreCookies` of `forRoot({ http })`. @default the app-wide list, else none
   */
  ignoreCookies?: readonly string[] | true;
  /**
   * Request header names whose values are part of the key (and sent back in `Vary`), normalised for `Accept-*`,
   * `Forwarded` and `X-Forwarded-*` (docs/http-caching.md). Headers the handler reads with `@Headers(name)` are
   * keyed without being listed; declare here what a handler taking `@Req()` or `@Headers()` reads. @default none
   */
  vary?: readonly string[];
  /** The named stack to use (`LayerCacheModule.forRoot({ name })`). @default the default stack */
  stack?: string;
  /** The response may be stored by shared caches (CDN, proxies): `Cache-Control: public`. @default false */
  shared?: boolean;
  /**
   * Emit `Cache-Control` (`public` on shared routes, else `private`; `max-age` from the route's `ttl`, or from the
   * served entry's freshness for a calendar or jittered `ttl`; `no-cache` without a route `ttl`). @default false
   */
  cacheControl?: boolean;
  /** Tags of the route's entries, beside `@CacheTags` on the handler or controller: names, or a function of the request and the response body. @default none */
  tags?: TagsOption<[request: HttpCacheRequest, body: unknown]>;
  /**
   * The byte budget of one stored response: the body as sent (JSON text, string, Buffer) plus the content type,
   * ETag and headers stored with it. A response over it is never stored (`X-Cache: BYPASS`, counted as
   * `over-budget` by `LayerCacheInterceptor.getNotStoredCounts()`). @default 1 MiB
   */
  maxBodySize?: number;
  /** Whether a status (the route's, e.g. from `@HttpCode`) is stored. @default 2xx except 206 */
  cacheableStatus?: (status: number) => boolean;
}

/** App-wide options of the interceptor: `LayerCacheModule.forRoot({ http })` (the module provides them). */
export interface LayerCacheHttpOptions {
  /** Defaults for every cached route (below `@HttpCache`, above the stack's own defaults). @default none */
  defaults?: Omit<HttpCacheOptions, 'key' | 'identity' | 'tags'>;
  /** Cookies every route ignores (see `HttpCacheOptions.ignoreCookies`; a route's own list replaces it). @default none */
  ignoreCookies?: readonly string[] | true;
  /** Cache every GET route of the interceptor's scope, also without `@HttpCache`. @default true */
  cacheUndecoratedRoutes?: boolean;
  /** Time source for `Age` and `Cache-Control: max-age`. @default the default stack's clock */
  clock?: Clock;
}

/** DI token of the optional {@link LayerCacheHttpOptions}. */
export const LAYER_CACHE_HTTP_OPTIONS = 'nestjs-layercache:http-options';

/** The names of {@link HttpCacheOptions}, for `checkOptionKeys`. */
export const HTTP_CACHE_OPTION_NAMES: readonly (keyof HttpCacheOptions)[] = [
  ...ROUTE_ENTRY_OPTIONS,
  'key',
  'identity',
  'ignoreCookies',
  'vary',
  'stack',
  'shared',
  'cacheControl',
  'tags',
  'maxBodySize',
  'cacheableStatus',
];

/** The names of {@link LayerCacheHttpOptions}, for `checkOptionKeys`. */
export const LAYER_CACHE_HTTP_OPTION_NAMES: readonly (keyof LayerCacheHttpOptions)[] = ['defaults', 'ignoreCookies', 'cacheUndecoratedRoutes', 'clock'];

/** Defaults of {@link HttpCacheOptions} and {@link LayerCacheHttpOptions}. */
export const DEFAULT_HTTP_CACHE_OPTIONS = Object.freeze({
  /** 1 MiB. */
  maxBodySize: 1024 * 1024,
  shared: false,
  cacheControl: false,
  cacheUndecoratedRoutes: true,
  cacheableStatus: (status: number): boolean => status >= 200 && status < 300 && status !== 206,
} as const);
