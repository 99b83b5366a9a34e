/**
 * Options of HTTP response caching: per route (`@HttpCache`), and app-wide defaults given to the interceptor
 * through `LayerCacheModule.forRoot({ http })` (an internal provider). Route options win over the app-wide defaults,
 * which win over the stack's own entry defaults (`ttl`, `staleWhileRevalidate`, `staleIfError` of
 * `LayerCacheModule.forRoot`), so a module-wide `staleWhileRevalidate` is the global SWR switch and a route
 * turns it off with `staleWhileRevalidate: 0`.
 */
import type { Clock } from '../core/clock.js';
import type { Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkName } from '../core/keys.js';
import type { TagsOption } from '../core/tags.js';
import type { CalendarTtl } from '../core/calendar-boundary.js';
import { basePolicy, resolvePolicy, type CacheEntryOptions } from '../stack/cache-stack.options.js';

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

/** A resolvable policy, to check route entry options eagerly. */
const ROUTE_CHECK_BASE = basePolicy(0);

/** The request as the key functions see it (Express and Fastify requests both fit). */
export interface HttpCacheRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query?: unknown;
  readonly params?: unknown;
  readonly [property: string]: unknown;
}

/**
 * A per-user (or per-anything) key input: a function of the request. Returning `undefined` or `null`
 * makes that request bypass the cache (e.g. no user).
 */
export type HttpCacheKeyFn = (request: HttpCacheRequest) => string | number | undefined | null;

/** Options of one route, given to `@HttpCache`. Durations: a number is seconds, a string carries its unit. */
export interface HttpCacheOptions {
  /**
   * How long a response stays fresh (`X-Cache: HIT`): a duration, or a calendar ttl (`'until-midnight'`,
   * `'next-hour'` in `timeZone`; `Cache-Control: max-age` then counts down to that boundary). A function of the
   * value is not accepted here: the value is the stored response record, not the handler's result. @default the stack's `ttl`
   */
  ttl?: Duration | CalendarTtl;
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
   * A per-user key: a function of the request (e.g. `(req) => req.user.id`). Requests carrying
   * `Authorization` or `Cookie` are cached only on routes that declare one; their responses get
   * `Cache-Control: private` when `cacheControl` is on. @default none (such requests bypass)
   */
  key?: HttpCacheKeyFn;
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
  defaults?: Omit<HttpCacheOptions, 'key' | 'tags'>;
  /** Cache every GET route of the interceptor's scope, also without `@HttpCache`. @default true */
  cacheUndecoratedRoutes?: boolean;
  /** Time source for `Age` and `Cache-Control: max-age`. @default the default stack's clock */
  clock?: Clock;
}

/** DI token of the optional {@link LayerCacheHttpOptions}. */
export const LAYER_CACHE_HTTP_OPTIONS = 'nestjs-layercache:http-options';

/** Defaults of {@link HttpCacheOptions} and {@link LayerCacheHttpOptions}. */
export const DEFAULT_HTTP_CACHE_OPTIONS = Object.freeze({
  /** 1 MiB. */
  maxBodySize: 1024 * 1024,
  shared: false,
  cacheControl: false,
  cacheUndecoratedRoutes: true,
  cacheableStatus: (status: number): boolean => status >= 200 && status < 300 && status !== 206,
} as const);

/**
 * Validates route options, naming the option in an `InvalidOptionError`.
 * @param label e.g. `@HttpCache`, used in error messages.
 */
export function checkHttpCacheOptions(label: string, options: HttpCacheOptions | undefined): HttpCacheOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new InvalidOptionError(label, 'expected an options object');
  if (typeof options.ttl === 'function') {
    throw new InvalidOptionError(`${label}.ttl`, 'expected a duration or a calendar ttl (a ttl function is not accepted on routes: it would get the stored response record)');
  }
  try {
    resolvePolicy(routeEntryOptions(options), ROUTE_CHECK_BASE);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${label}.${error.option}`, error.message.replace(/^Invalid option "[^"]*": /, ''));
    throw error;
  }
  if (options.key !== undefined && typeof options.key !== 'function') throw new InvalidOptionError(`${label}.key`, 'expected a function of the request');
  if (options.vary !== undefined) {
    if (!Array.isArray(options.vary)) throw new InvalidOptionError(`${label}.vary`, 'expected an array of request header names');
    for (const header of options.vary) {
      if (typeof header !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) {
        throw new InvalidOptionError(`${label}.vary`, `not a header name: ${JSON.stringify(header)}`);
      }
    }
  }
  if (options.stack !== undefined && (typeof options.stack !== 'string' || options.stack === '')) {
    throw new InvalidOptionError(`${label}.stack`, 'expected the name of a registered stack');
  }
  if (options.shared === true && options.key !== undefined) {
    throw new InvalidOptionError(`${label}.shared`, 'a route with a per-user key cannot be shared (its responses are private)');
  }
  if (options.maxBodySize !== undefined && (!Number.isSafeInteger(options.maxBodySize) || options.maxBodySize < 0)) {
    throw new InvalidOptionError(`${label}.maxBodySize`, 'expected a non-negative integer number of bytes');
  }
  if (options.cacheableStatus !== undefined && typeof options.cacheableStatus !== 'function') {
    throw new InvalidOptionError(`${label}.cacheableStatus`, 'expected a function of the status');
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    if (!Array.isArray(options.tags)) throw new InvalidOptionError(`${label}.tags`, 'expected an array of tag names or a function');
    for (const tag of options.tags) {
      try {
        checkName('tag', tag);
      } catch (error) {
        throw new InvalidOptionError(`${label}.tags`, (error as Error).message);
      }
    }
  }
  return options;
}
