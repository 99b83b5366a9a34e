/**
 * `LayerCacheInterceptor`: HTTP response caching on the layered stack (docs/architecture.md, "HTTP caching").
 *
 * ## One request of a cached route: at most one stack call
 * 1. Not cacheable (the pass-through stack of `enabled: false`, not GET/HEAD, `Range`, `Authorization` or cookies not
 *    ignored without an identity, a body on a route
 *    reading it, `@SkipCache`, arguments no key describes): the handler runs, `X-Cache: BYPASS`. The key covers
 *    what the handler reads (see `route-arguments.ts` and `route-request.key.ts`).
 * 2. A fresh response in the in-process layer (`stack.peek`, synchronous, no shared read): replayed (`HIT`),
 *    `next.handle()` is never called (no pipes, no handler).
 * 3. Otherwise one `getDetailed(key, loader)` call, whose loader runs the handler (`RouteLoad`, route-load.ts):
 *    - fresh in a shared layer: replayed (`HIT`);
 *    - stale within `staleWhileRevalidate` (or fresh past `refreshAhead`: `HIT`): replayed (`STALE`); the stack starts the key's one background refresh
 *      (per process, or per cluster with a revalidation lock) with this request's loader, which re-subscribes
 *      `next.handle()` only once the reply is under way and never touches the response;
 *    - a miss: the loader runs the handler now; concurrent requests of one key share that run (and its error);
 *      a 5xx or non-HTTP error within `staleIfError` serves the stale entry; a 4xx is authoritative (shared
 *      with the waiting requests, never stored, the old entry dropped).
 * A response that may not be stored (stream, Set-Cookie, no-store, too large, status) goes to its own request
 * with `BYPASS`; requests that waited for it run the handler themselves. A failure of the cache itself
 * (Redis down, stack closed) never fails a request: the handler answers. A cached value that is not a valid
 * stored response (see `response-replay.ts`) is a miss: dropped, logged once per route, read again with the
 * loader (the one exception to "one call"), so the handler's response replaces it.
 */
import { Inject, Injectable, Logger, Optional, ServiceUnavailableException, type CallHandler, type ExecutionContext, type NestInterceptor, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef, type AbstractHttpAdapter } from '@nestjs/core';
import { from, of, type Observable } from 'rxjs';
import { systemClock, type Clock } from '../core/clock.js';
import { CircuitOpenError, LayerCacheError, LoaderTimeoutError, RateLimitError } from '../core/errors.js';
import { DEFAULT_STACK_NAME, getCacheStackToken } from '../common/layer-cache.tokens.js';
import { isPassThroughStack } from '../common/pass-through-stack.js';
import { CACHE_MISS, CacheStack, type CacheReadResult, type ReadInfo } from '../stack/cache-stack.js';
import { LAYER_CACHE_HTTP_OPTIONS, type HttpCacheRequest, type LayerCacheHttpOptions } from './http-cache.options.js';
import { lastValue, type HandlerOutcome, type NotStoredReason, type StoredResponse } from './http-response.record.js';
import { resolveRoutePlan, type HttpRoutePlan, type RouteExclusion } from './http-route.plan.js';
import { installNotModifiedHook } from './not-modified.hook.js';
import { isReplayable, replayStored, type ServedEntry, type XCacheStatus } from './response-replay.js';
import { carriesBody, onlyIgnoredCookies, RequestKeys } from './route-request.key.js';
import { nextTurn, RouteLoad, type HttpCacheCall, type RouteLoadHost } from './route-load.js';

export type { HttpCacheCall } from './route-load.js';
export type { XCacheStatus } from './response-replay.js';

/**
 * Caches GET/HEAD responses of the routes it intercepts (see `@HttpCache`); per route or controller with
 * `@UseInterceptors(LayerCacheInterceptor)`, or for the whole app as `APP_INTERCEPTOR`. Extend it and override
 * the protected hooks (`isRequestCacheable`, `trackBy`, `getStack`, `onRevalidationError`) to adapt it.
 * @example
 * ```ts
 * providers: [{ provide: APP_INTERCEPTOR, useClass: LayerCacheInterceptor }]
 * ```
 */
@Injectable()
export class LayerCacheInterceptor implements NestInterceptor, OnModuleInit {
  protected readonly logger = new Logger('LayerCacheInterceptor');
  protected readonly httpOptions: LayerCacheHttpOptions;
  protected readonly clock: Clock;
  /** Per interceptor instance (never module-level): two apps in one process keep their own plans and stacks. */
  private readonly plans = new WeakMap<object, HttpRoutePlan | RouteExclusion>();
  private readonly stacks = new Map<string, CacheStack | undefined>();
  private readonly keys = new RequestKeys();
  /** Routes whose malformed cached value was logged (once per route). */
  private readonly malformedLogged = new WeakSet<HttpRoutePlan>();
  private readonly notStored: Partial<Record<NotStoredReason, number>> = {};
  private readonly loadHost: RouteLoadHost = {
    adapter: () => this.adapterHost.httpAdapter,
    notStored: (plan, outcome) => {
      this.notStored[outcome.reason] = (this.notStored[outcome.reason] ?? 0) + 1;
      const what = outcome.reason === 'ttl-failed' ? 'The ttl function' : 'Tags';
      if (outcome.error !== undefined) this.logger.warn(`${what} of ${plan.label} failed; the response is not stored: ${String(outcome.error)}`);
    },
    revalidationFailed: (plan, error) => this.onRevalidationError(plan, error),
  };

  constructor(
    @Inject(HttpAdapterHost) protected readonly adapterHost: HttpAdapterHost,
    @Inject(ModuleRef) protected readonly moduleRef: ModuleRef,
    @Optional() @Inject(CacheStack) protected readonly defaultStack?: CacheStack,
    @Optional() @Inject(LAYER_CACHE_HTTP_OPTIONS) httpOptions?: LayerCacheHttpOptions,
  ) {
    this.httpOptions = httpOptions ?? {};
    this.clock = this.httpOptions.clock ?? defaultStack?.clock ?? systemClock;
  }

  /** Installs the conditional-GET support of the adapter (see `installNotModifiedHook`). */
  onModuleInit(): void {
    installNotModifiedHook(this.adapterHost.httpAdapter as AbstractHttpAdapter | undefined);
  }

  /** @inheritdoc */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const plan = this.planOf(context);
    // `getArgByIndex` is what `switchToHttp().getRequest()`/`getResponse()` read, without a host object per request
    const request = context.getArgByIndex<HttpCacheRequest>(0);
    const response = context.getArgByIndex<object>(1);
    if (typeof plan === 'string') {
      if (plan !== 'not-cacheable-route') this.setHeader(response, 'X-Cache', 'BYPASS');
      return next.handle();
    }
    let key: string | undefined;
    try {
      key = this.isRequestCacheable(context, request, plan) ? this.trackBy(context, request, plan) : undefined;
    } catch {
      key = undefined; // e.g. an identity or key function reading a missing user
    }
    const stack = key === undefined ? undefined : this.getStack(plan);
    if (key === undefined || stack === undefined || isPassThroughStack(stack)) {
      this.setHeader(response, 'X-Cache', 'BYPASS');
      return next.handle();
    }
    // Fast path: a fresh response in the in-process layer is replayed synchronously (no promise, no handler).
    const info: ReadInfo = { status: 'miss', createdAt: undefined, freshUntil: undefined };
    let fresh: HandlerOutcome | typeof CACHE_MISS = CACHE_MISS;
    try {
      fresh = stack.peek<HandlerOutcome>(key, info);
    } catch {
      // a closed or failing stack: the slow path below decides (it bypasses on failures)
    }
    if (fresh !== CACHE_MISS && isReplayable(fresh)) {
      replayStored(this.adapterHost.httpAdapter, this.clock, request, response, plan, fresh, 'HIT', info, false);
      return of(fresh.body);
    }
    return from(this.serve({ context, next, plan, request, response, stack, key }));
  }

  /** How many handler responses this interceptor did not store, by reason (e.g. `over-budget`). */
  getNotStoredCounts(): Readonly<Partial<Record<NotStoredReason, number>>> {
    return { ...this.notStored };
  }

  /** Whether a request may be answered from (and stored in) the cache. */
  protected isRequestCacheable(_context: ExecutionContext, request: HttpCacheRequest, plan: HttpRoutePlan): boolean {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const headers = request.headers;
    if (headers.range !== undefined) return false;
    if (plan.readsBody && carriesBody(request)) return false;
    if (plan.identity !== undefined) return true;
    return headers.authorization === undefined && (headers.cookie === undefined || onlyIgnoredCookies(headers.cookie, plan.ignoreCookies));
  }

  /** The key of a request (the declared key, else a hash, see `buildRequestKey`), or `undefined` to bypass the cache. */
  protected trackBy(_context: ExecutionContext, request: HttpCacheRequest, plan: HttpRoutePlan): string | undefined {
    return this.keys.keyOf(plan, request, this.adapterHost.httpAdapter);
  }

  /** The stack of a route: the default one, or a named one (`@HttpCache({ stack })`). */
  protected getStack(plan: HttpRoutePlan): CacheStack | undefined {
    if (plan.stack === undefined || plan.stack === DEFAULT_STACK_NAME) return this.defaultStack;
    if (!this.stacks.has(plan.stack)) {
      let stack: CacheStack | undefined;
      try {
        stack = this.moduleRef.get<CacheStack>(getCacheStackToken(plan.stack) as string, { strict: false });
      } catch {
        this.logger.warn(`${plan.label} uses stack '${plan.stack}', but no LayerCacheModule.forRoot({ name: '${plan.stack}' }) is registered; the route is not cached`);
      }
      this.stacks.set(plan.stack, stack);
    }
    return this.stacks.get(plan.stack);
  }

  /** Called once per failed background revalidation (the stale entry is still served). */
  protected onRevalidationError(plan: HttpRoutePlan, error: unknown): void {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.logger.warn(`Background revalidation of ${plan.label} failed; the stale response is still served: ${reason}`);
  }

  private planOf(context: ExecutionContext): HttpRoutePlan | RouteExclusion {
    const handler = context.getHandler();
    let plan = this.plans.get(handler);
    if (plan === undefined) {
      try {
        plan = resolveRoutePlan(context.getClass(), handler as (...args: never[]) => unknown, this.httpOptions, (message) => this.logger.warn(message));
      } catch (error) {
        this.logger.error(`${(error as Error).message}; the route is not cached`);
        plan = 'skip-cache';
      }
      this.plans.set(handler, plan);
    }
    return plan;
  }

  /** The single stack call of a request that L1 could not answer (see the file header). */
  private async serve(call: HttpCacheCall, replacing = false): Promise<unknown> {
    const load = new RouteLoad(call, this.loadHost);
    let read: CacheReadResult<HandlerOutcome>;
    try {
      read = await call.stack.getDetailed<HandlerOutcome>(call.key, load.loader, call.plan.entryOptions);
    } catch (error) {
      // The route's circuit is open or its loads are rate limited: the handler must not run (that is the point).
      if (error instanceof CircuitOpenError || error instanceof RateLimitError) throw this.unavailable(call, error);
      if (error instanceof LayerCacheError && !(error instanceof LoaderTimeoutError) && !load.ran) return this.bypassAfterFailure(call, error);
      throw error;
    }
    const outcome = read.value;
    if (isReplayable(outcome)) {
      // The refresh this read started (if any: stale-while-revalidate, or refresh-ahead of a hit) runs once the reply is under way.
      if (read.status === 'stale' || read.status === 'hit') setImmediate(() => load.release(true));
      const status = read.status === 'miss' ? 'MISS' : read.status === 'hit' ? 'HIT' : 'STALE';
      return this.replayCall(call, outcome, status, read, load.ran);
    }
    if (outcome?.type === 'rejected' && (load.ran || read.status === 'miss')) throw outcome.error; // a load's 4xx, never a cached value
    if (outcome?.type === 'passthrough' && load.ran) {
      this.setHeader(call.response, 'X-Cache', 'BYPASS');
      return outcome.value;
    }
    if (!replacing && (read.status === 'hit' || read.status === 'stale')) return this.replaceMalformed(call, load, read.status === 'stale');
    return this.bypass(call); // a follower of a response that is not stored: run the handler itself
  }

  /**
   * A cached value that is not a replayable response (written by another version or by hand): dropped, logged
   * once per route, and read again with the loader, so the handler's response replaces it (`MISS`). The refresh
   * the stale read may have started is cancelled once the drop has invalidated it.
   */
  private async replaceMalformed(call: HttpCacheCall, first: RouteLoad, stale: boolean): Promise<unknown> {
    if (!this.malformedLogged.has(call.plan)) {
      this.malformedLogged.add(call.plan);
      this.logger.warn(`A cached value of ${call.plan.label} is not a valid stored response; it is treated as a miss and replaced`);
    }
    let dropped = true;
    try {
      await call.stack.delete(call.key);
    } catch {
      dropped = false;
    } finally {
      first.release(false);
    }
    if (!dropped) return this.bypass(call);
    if (stale) await nextTurn(); // the cancelled refresh settles first, so the read below does not join it
    return this.serve(call, true);
  }

  private replayCall(call: HttpCacheCall, stored: StoredResponse, status: XCacheStatus, served: ServedEntry, ranHere: boolean): unknown {
    return replayStored(this.adapterHost.httpAdapter, this.clock, call.request, call.response, call.plan, stored, status, served, ranHere);
  }

  /** `503 Service Unavailable` with `Retry-After` (whole seconds, at least 1) for an open circuit or a rate limit. */
  private unavailable(call: HttpCacheCall, error: CircuitOpenError | RateLimitError): ServiceUnavailableException {
    const retryMs = error instanceof CircuitOpenError ? error.retryAfter : 0;
    this.setHeader(call.response, 'Retry-After', String(Math.max(1, Math.ceil(retryMs / 1000))));
    this.setHeader(call.response, 'X-Cache', 'BYPASS');
    return new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', message: error.message, code: error.code });
  }

  private bypass(call: HttpCacheCall): Promise<unknown> {
    this.setHeader(call.response, 'X-Cache', 'BYPASS');
    return lastValue(call.next.handle());
  }

  private bypassAfterFailure(call: HttpCacheCall, error: unknown): Promise<unknown> {
    this.logger.warn(`The cache failed for ${call.plan.label}; answering without it: ${String(error)}`);
    return this.bypass(call);
  }

  private setHeader(response: object, name: string, value: string | string[]): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(response) !== true) adapter.setHeader(response, name, value as string);
  }
}
