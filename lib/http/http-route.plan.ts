/**
 * The caching plan of one route, resolved once per route and interceptor instance from `@HttpCache`,
 * `@SkipCache`, `@CacheTags`, Nest's route metadata and the app-wide defaults: the entry options passed to the
 * stack (one object per route, so the stack resolves them once), the key's route part and inputs (what the
 * handler reads, see `route-arguments.ts`), and the headers.
 */
import { isCalendarTtl } from '../core/calendar-boundary.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { getCacheTags, type CacheTagValue } from '../common/cache-tags.metadata.js';
import type { CacheEntryOptions } from '../stack/cache-stack.options.js';
import { getHttpCacheOptions, isSkipCacheRoute } from './http-cache.decorator.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkHttpCacheOptions } from './http-cache.checks.js';
import {
  DEFAULT_HTTP_CACHE_OPTIONS,
  type HttpCacheIdentityFn,
  type HttpCacheKeyFn,
  type HttpCacheOptions,
  type HttpCacheTtlFn,
  type LayerCacheHttpOptions,
  routeEntryOptions,
} from './http-cache.options.js';
import type { HandlerOutcome } from './http-response.record.js';
import { readRouteArguments } from './route-arguments.js';
import { normalizerOf, type HeaderNormalizer } from './vary-normalize.js';

/** Nest's route metadata keys (`@nestjs/common` constants, written out to import from package roots only). */
const NEST_METADATA = Object.freeze({
  path: 'path',
  httpCode: '__httpCode__',
  sse: '__sse__',
  redirect: '__redirect__',
  render: '__renderTemplate__',
});

/** One request header in the key: its lower-case name and how its value is normalised (`undefined`: as received). */
export interface KeyedHeader {
  readonly name: string;
  readonly normalize: HeaderNormalizer | undefined;
}

/** The resolved plan of a cached route. */
export interface HttpRoutePlan {
  /** `Controller.handler`, for log lines. */
  readonly label: string;
  /** The route's part of the key: controller, handler and declared paths. */
  readonly route: string;
  /** The stack's name, or `undefined` for the default stack. */
  readonly stack: string | undefined;
  /** The status Nest sends (`@HttpCode`, else 200). */
  readonly status: number;
  readonly statusCacheable: boolean;
  /** Who a response is for (`identity`): in the computed key, and what lets requests with credentials be cached. */
  readonly identity: HttpCacheIdentityFn | undefined;
  /** The declared key (`key`): the entry's key in the stack's key space, instead of the computed one. */
  readonly declaredKey: string | HttpCacheKeyFn | undefined;
  /** Cookies a request may carry and still be cached as a cookieless one (`true`: any); `undefined` for none. */
  readonly ignoreCookies: ReadonlySet<string> | true | undefined;
  /** The route's per-request ttl (`ttl` as a function), called once per stored response. */
  readonly ttlFn: HttpCacheTtlFn | undefined;
  /** Lower-case names of the request headers in the key: declared in `vary`, then read with `@Headers(name)`. */
  readonly vary: readonly string[];
  /** The same headers with their normalisers (declared ones normalised, those the handler reads kept as received). */
  readonly keyedHeaders: readonly KeyedHeader[];
  /** The `Vary` response header, or `undefined`. */
  readonly varyHeader: string | undefined;
  /** Host-routed controller: the request's host name is in the key (`@HostParam` values derive from it). */
  readonly hostKeyed: boolean;
  /** The handler reads the request body: a request carrying one bypasses. */
  readonly readsBody: boolean;
  /** The key is made of the URL (route params, query) and, on host-routed controllers, the host: memoizable. */
  readonly urlKeyed: boolean;
  readonly shared: boolean;
  readonly cacheControl: boolean;
  /** The route's own fixed ttl in ms, when it (or the defaults) gives one (not a calendar ttl nor a function). */
  readonly ttlMs: number | undefined;
  /**
   * The route's ttl is a calendar ttl, a function or jittered (route or defaults): `max-age` comes from the served entry's
   * own freshness, not from a fixed ttl.
   */
  readonly freshnessOfEntry: boolean;
  readonly maxBodySize: number;
  /** `@CacheTags` values of the handler and controller; functions get the route parameters' values. */
  readonly tagValues: readonly CacheTagValue[];
  readonly tagsOption: HttpCacheOptions['tags'];
  /** The options given to the stack for every request of the route. */
  readonly entryOptions: CacheEntryOptions<HandlerOutcome>;
}

const isStored = (outcome: HandlerOutcome): boolean => outcome.type === 'stored';
/** The stack's ttl function of a route with a per-request ttl: what the response's capture computed (seconds). */
const ttlOfResponse = (outcome: HandlerOutcome): number => (outcome.type === 'stored' && outcome.ttlMs !== undefined ? outcome.ttlMs / 1000 : 0);
const tagsOf = (outcome: HandlerOutcome): readonly string[] => (outcome.type === 'stored' ? outcome.tags : []);

/**
 * Why a route is never cached: `@SkipCache`; SSE, redirects, templates, `@Res()`/`@Next()`; undecorated with caching
 * of those off; arguments no key describes (`@Ip()`, `@Session()`, custom decorators) without `vary` or `key`.
 */
export type RouteExclusion = 'skip-cache' | 'not-cacheable-route' | 'undecorated' | 'undeclared-arguments';

/**
 * Resolves the plan of a route, or the reason it is never cached.
 * @throws InvalidOptionError when merged options are invalid, or a constant declared key cannot describe what the
 * handler reads (named after the route).
 */
export function resolveRoutePlan(
  controller: abstract new (...args: never[]) => unknown,
  handler: (...args: never[]) => unknown,
  httpOptions: LayerCacheHttpOptions,
  warn: (message: string) => void = () => undefined,
): HttpRoutePlan | RouteExclusion {
  if (isSkipCacheRoute(controller, handler)) return 'skip-cache';
  for (const key of [NEST_METADATA.sse, NEST_METADATA.redirect, NEST_METADATA.render]) {
    if (Reflect.getMetadata(key, handler) !== undefined) return 'not-cacheable-route';
  }
  const args = readRouteArguments(controller, handler);
  if (args.sendsItself) return 'not-cacheable-route';
  const own = getHttpCacheOptions(controller, handler);
  if (own === undefined && httpOptions.cacheUndecoratedRoutes === false) return 'undecorated';
  const label = `${controller.name}.${handler.name}`;
  const options = checkHttpCacheOptions(`@HttpCache on ${label}`, { ...httpOptions.defaults, ...own });
  if (args.opaque.length > 0 && options.key === undefined && options.identity === undefined && (options.vary ?? []).length === 0) {
    warn(
      `${label} is not cached: it takes ${args.opaque.join(', ')}, whose value no part of the key describes; ` +
        'declare what it depends on with @HttpCache({ vary }), ({ identity }) or ({ key }) to cache it',
    );
    return 'undeclared-arguments';
  }
  if (typeof options.key === 'string') {
    const reads = [...args.urlReads, ...args.headers.map((name) => `@Headers('${name}')`), ...args.opaque, ...(args.hostRouted ? ['a host-routed controller'] : [])];
    if (reads.length > 0) {
      throw new InvalidOptionError(
        `@HttpCache on ${label}.key`,
        `the constant key ${JSON.stringify(options.key)} cannot describe ${reads.join(', ')}: use a function of the request that builds them into the key`,
      );
    }
  }
  let ignoreCookies = options.ignoreCookies ?? httpOptions.ignoreCookies;
  if (ignoreCookies !== undefined && args.seesCookies.length > 0 && options.identity === undefined) {
    warn(`${label} takes ${args.seesCookies.join(', ')}, which can read the cookies it would ignore: ignoreCookies is not applied (requests with cookies bypass)`);
    ignoreCookies = undefined;
  }
  const httpCode = Reflect.getMetadata(NEST_METADATA.httpCode, handler) as number | undefined;
  const status = typeof httpCode === 'number' ? httpCode : 200;
  const declared = (options.vary ?? []).map((name) => name.toLowerCase());
  const vary = [...new Set([...declared, ...args.headers])];
  const keyedHeaders = vary.map((name): KeyedHeader => ({ name, normalize: args.headers.includes(name) ? undefined : normalizerOf(name) }));
  const entryOptions: CacheEntryOptions<HandlerOutcome> = { ...(routeEntryOptions(options) as CacheEntryOptions<HandlerOutcome>), shouldCache: isStored };
  const ttlFn = typeof options.ttl === 'function' ? options.ttl : undefined;
  if (ttlFn !== undefined) entryOptions.ttl = ttlOfResponse;
  const breaker = options.circuitBreaker;
  // One circuit per route unless the route names its scope (as `@Cacheable` has one per decorated method).
  if (breaker !== undefined && breaker !== false && breaker.scope === undefined) entryOptions.circuitBreaker = { ...breaker, scope: () => label };
  const tagValues = getCacheTags(controller, handler);
  if (tagValues.length > 0 || options.tags !== undefined) entryOptions.tags = tagsOf;
  const controllerPath = Reflect.getMetadata(NEST_METADATA.path, controller) as unknown;
  const handlerPath = Reflect.getMetadata(NEST_METADATA.path, handler) as unknown;
  return {
    label,
    route: JSON.stringify([controller.name, handler.name, controllerPath ?? null, handlerPath ?? null]),
    stack: options.stack,
    status,
    statusCacheable: (options.cacheableStatus ?? DEFAULT_HTTP_CACHE_OPTIONS.cacheableStatus)(status),
    identity: options.identity,
    declaredKey: options.key,
    ignoreCookies: ignoreCookies === undefined || ignoreCookies === true ? ignoreCookies : new Set(ignoreCookies),
    ttlFn,
    vary,
    keyedHeaders,
    varyHeader: vary.length === 0 ? undefined : vary.join(', '),
    hostKeyed: args.hostRouted,
    readsBody: args.readsBody,
    urlKeyed: vary.length === 0 && options.identity === undefined && options.key === undefined,
    shared: options.shared ?? DEFAULT_HTTP_CACHE_OPTIONS.shared,
    cacheControl: options.cacheControl ?? DEFAULT_HTTP_CACHE_OPTIONS.cacheControl,
    ttlMs: options.ttl === undefined || ttlFn !== undefined || isCalendarTtl(options.ttl) ? undefined : toMilliseconds(options.ttl as Duration, 'ttl'),
    freshnessOfEntry: ttlFn !== undefined || (options.ttl !== undefined && (isCalendarTtl(options.ttl) || isJittered(options.ttlJitter))),
    maxBodySize: options.maxBodySize ?? DEFAULT_HTTP_CACHE_OPTIONS.maxBodySize,
    tagValues,
    tagsOption: options.tags,
    entryOptions,
  };
}

/**
 * The `Cache-Control` of a replayed response: `private` on routes with an identity; with `cacheControl`, `public` (shared
 * routes) or `private`, and `max-age` = the freshness left (0 when stale), or `no-cache` without a route ttl.
 * The freshness left: the route's fixed ttl minus the age (at most the served entry's own, `freshLeftMs`, when known:
 * the stack's `maxLifetime` caps it), or, for a calendar or jittered route ttl, the entry's own (`no-cache` when it is
 * not known, e.g. a response that was not stored).
 */
export function cacheControlOf(plan: HttpRoutePlan, stale: boolean, ageMs: number, freshLeftMs?: number): string | undefined {
  if (!plan.cacheControl) return plan.identity === undefined ? undefined : 'private';
  const scope = plan.shared ? 'public' : 'private';
  let leftMs: number;
  if (plan.freshnessOfEntry) {
    if (freshLeftMs === undefined) return `${scope}, no-cache`;
    leftMs = freshLeftMs;
  } else if (plan.ttlMs === undefined) return `${scope}, no-cache`;
  // Never past the entry's own freshness: the stack caps it at `maxLifetime` after the write, whatever the route's ttl.
  else leftMs = freshLeftMs === undefined ? plan.ttlMs - ageMs : Math.min(plan.ttlMs - ageMs, freshLeftMs);
  const maxAge = stale ? 0 : Math.max(0, Math.floor(leftMs / 1000));
  return `${scope}, max-age=${maxAge}`;
}

/** Whether a (checked) `ttlJitter` moves ttls: a fraction or a duration above 0. */
function isJittered(jitter: number | Duration | undefined): boolean {
  return jitter !== undefined && (typeof jitter === 'number' ? jitter > 0 : toMilliseconds(jitter, 'ttlJitter') > 0);
}
