/**
 * `LayerCacheInterceptor`: HTTP response caching on the layered stack (docs/architecture.md, "HTTP caching").
 *
 * ## One request of a cached route
 * 1. Not cacheable (not GET/HEAD, `Range`, `Authorization`/`Cookie` without a per-user key, a body on a route
 *    reading it, `@NoCache`, arguments no key describes): the handler runs, `X-Cache: BYPASS`. The key covers
 *    what the handler reads (see `route-arguments.ts` and `route-request.key.ts`).
 * 2. The stack is read without a loader. Fresh: the stored response is replayed (`HIT`) and
 *    `next.handle()` is never called (no pipes, no handler). Stale within `staleWhileRevalidate`: replayed
 *    (`STALE`), then, once the reply is under way, the stack is read again with a loader that re-subscribes
 *    `next.handle()`; the stack runs one such refresh per key per process and the new response replaces the
 *    entry. The background run never touches the response (its headers are those of the stale entry).
 * 3. Otherwise the stack is read with a loader that subscribes `next.handle()`: concurrent requests of one
 *    key share one handler run (and its error); a 5xx or non-HTTP error within `staleIfError` serves the stale
 *    entry; a 4xx is authoritative (shared with the waiting requests, never stored, the old entry dropped).
 * A response that may not be stored (stream, Set-Cookie, no-store, too large, status) goes to its own request
 * with `BYPASS`; requests that waited for it run the handler themselves. A failure of the cache itself
 * (Redis down, stack closed) never fails a request: the handler answers. A cached value that is not a valid
 * stored response (see `response-replay.ts`) is a miss: dropped, logged once per route, the handler answers.
 */
import { Inject, Injectable, Logger, Optional, type CallHandler, type ExecutionContext, type NestInterceptor, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef, type AbstractHttpAdapter } from '@nestjs/core';
import { from, of, type Observable } from 'rxjs';
import { systemClock, type Clock } from '../core/clock.js';
import { LayerCacheError, LoaderTimeoutError } from '../core/errors.js';
import { DEFAULT_STACK_NAME, getCacheStackToken } from '../common/layer-cache.tokens.js';
import { CacheStack } from '../stack/cache-stack.js';
import { CACHE_MISS, type ReadInfo } from '../stack/cache-stack.js';
import type { LoaderContext } from '../stack/cache-stack.options.js';
import { LAYER_CACHE_HTTP_OPTIONS, type HttpCacheRequest, type LayerCacheHttpOptions } from './http-cache.options.js';
import {
  handlerHeaders,
  headersOf,
  isClientError,
  lastValue,
  snapshotHeaders,
  type HandlerHeaders,
  type HandlerOutcome,
  type NotStoredReason,
  type StoredResponse,
} from './http-response.record.js';
import { captureResponse } from './response-capture.js';
import { resolveRoutePlan, type HttpRoutePlan, type RouteExclusion } from './http-route.plan.js';
import { installNotModifiedHook } from './not-modified.hook.js';
import { isReplayable, replayStored, type XCacheStatus } from './response-replay.js';
import { carriesBody, RequestKeys } from './route-request.key.js';

export type { XCacheStatus } from './response-replay.js';

/** One request being answered by a cached route. */
export interface HttpCacheCall {
  readonly context: ExecutionContext;
  readonly next: CallHandler;
  readonly plan: HttpRoutePlan;
  readonly request: HttpCacheRequest;
  readonly response: object;
  readonly stack: CacheStack;
  readonly key: string;
}

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
      key = undefined; // e.g. a per-user key function reading a missing user
    }
    const stack = key === undefined ? undefined : this.getStack(plan);
    if (key === undefined || stack === undefined) {
      this.setHeader(response, 'X-Cache', 'BYPASS');
      return next.handle();
    }
    // Fast path: a fresh response in the in-process layer is replayed synchronously (no promise, no handler).
    const info: ReadInfo = { status: 'miss', createdAt: undefined };
    let fresh: HandlerOutcome | typeof CACHE_MISS = CACHE_MISS;
    try {
      fresh = stack.peek<HandlerOutcome>(key, info);
    } catch {
      // a closed or failing stack: the slow path below decides (it bypasses on failures)
    }
    if (fresh !== CACHE_MISS && isReplayable(fresh)) {
      replayStored(this.adapterHost.httpAdapter, this.clock, request, response, plan, fresh, 'HIT', info.createdAt, false);
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
    return plan.perUserKey !== undefined || (headers.authorization === undefined && headers.cookie === undefined);
  }

  /** The key of a request (a hash, see `buildRequestKey`), or `undefined` to bypass the cache. */
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
        plan = 'no-cache';
      }
      this.plans.set(handler, plan);
    }
    return plan;
  }

  private async serve(call: HttpCacheCall): Promise<unknown> {
    const { stack, key, plan } = call;
    let first;
    try {
      first = await stack.getDetailed<HandlerOutcome>(key, undefined, plan.entryOptions);
    } catch (error) {
      return this.bypassAfterFailure(call, error);
    }
    if (isReplayable(first.value)) {
      if (first.status === 'stale') setImmediate(() => this.revalidate(call));
      return this.replayCall(call, first.value, first.status === 'stale' ? 'STALE' : 'HIT', first.createdAt, false);
    }
    if (first.status !== 'miss' && !(await this.dropMalformed(call))) return this.bypass(call);
    let ran = false;
    let read;
    try {
      read = await stack.getDetailed<HandlerOutcome>(key, (loader) => ((ran = true), this.load(call, loader)), plan.entryOptions);
    } catch (error) {
      if (error instanceof LayerCacheError && !(error instanceof LoaderTimeoutError) && !ran) return this.bypassAfterFailure(call, error);
      throw error;
    }
    const outcome = read.value;
    if (isReplayable(outcome)) {
      const status = read.status === 'miss' ? 'MISS' : read.status === 'hit' ? 'HIT' : 'STALE';
      return this.replayCall(call, outcome, status, read.createdAt, ran);
    }
    if (outcome?.type === 'rejected' && (ran || read.status === 'miss')) throw outcome.error; // a load's 4xx, never a cached value
    if (outcome?.type === 'passthrough' && ran) {
      this.setHeader(call.response, 'X-Cache', 'BYPASS');
      return outcome.value;
    }
    return this.bypass(call); // a follower of a response that is not stored: run the handler itself
  }

  /** Runs the handler for a miss (or a stale-if-error reload) of this request. */
  private async load(call: HttpCacheCall, loader: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> {
    const sent = this.adapterHost.httpAdapter.isHeadersSent(call.response) as boolean;
    const before = sent ? undefined : snapshotHeaders(call.response);
    let value: unknown;
    try {
      value = await lastValue(call.next.handle());
    } catch (error) {
      return this.rejectedOrThrow(call, error, loader.stale);
    }
    const afterSent = this.adapterHost.httpAdapter.isHeadersSent(call.response) as boolean;
    const headers = before === undefined || afterSent ? headersOf(loader.stale) : handlerHeaders(before, snapshotHeaders(call.response));
    return this.capture(call, value, headers, loader.stale !== undefined);
  }

  /** Starts the background revalidation of a stale entry (the stack runs one per key; it never touches the response). */
  private revalidate(call: HttpCacheCall): void {
    const loader = async (context: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> => {
      let value: unknown;
      try {
        value = await lastValue(call.next.handle());
      } catch (error) {
        if (!isClientError(error)) this.onRevalidationError(call.plan, error);
        return this.rejectedOrThrow(call, error, context.stale);
      }
      return this.capture(call, value, headersOf(context.stale), true);
    };
    call.stack.getDetailed(call.key, loader, call.plan.entryOptions).catch((error: unknown) => {
      this.logger.warn(`Revalidation of ${call.plan.label} could not start: ${String(error)}`);
    });
  }

  /** A 4xx is an answer (returned, never stored, the old entry dropped); anything else is thrown. */
  private rejectedOrThrow(call: HttpCacheCall, error: unknown, stale: HandlerOutcome | undefined): HandlerOutcome {
    if (!isClientError(error)) throw error;
    if (stale !== undefined) this.forget(call);
    return { type: 'rejected', error };
  }

  /** What to keep of a handler's value (see `captureResponse`); an entry being replaced by a passthrough is dropped. */
  private capture(call: HttpCacheCall, value: unknown, headers: HandlerHeaders, replacing: boolean): HandlerOutcome {
    const outcome = captureResponse(call.plan, call.request, value, headers);
    if (outcome.type === 'passthrough') {
      this.notStored[outcome.reason] = (this.notStored[outcome.reason] ?? 0) + 1;
      if (replacing) this.forget(call);
      if (outcome.error !== undefined) this.logger.warn(`Tags of ${call.plan.label} failed; the response is not stored: ${String(outcome.error)}`);
    }
    return outcome;
  }

  private replayCall(call: HttpCacheCall, stored: StoredResponse, status: XCacheStatus, createdAt: number | undefined, ranHere: boolean): unknown {
    return replayStored(this.adapterHost.httpAdapter, this.clock, call.request, call.response, call.plan, stored, status, createdAt, ranHere);
  }

  /**
   * Drops a cached value that is not a replayable response (written by another version or by hand), logging once
   * per route, so the loader run that follows stores the handler's response. `false` when it cannot be dropped.
   */
  private async dropMalformed(call: HttpCacheCall): Promise<boolean> {
    if (!this.malformedLogged.has(call.plan)) {
      this.malformedLogged.add(call.plan);
      this.logger.warn(`A cached value of ${call.plan.label} is not a valid stored response; it is treated as a miss and replaced`);
    }
    try {
      await call.stack.delete(call.key);
      return true;
    } catch {
      return false;
    }
  }

  private bypass(call: HttpCacheCall): Promise<unknown> {
    this.setHeader(call.response, 'X-Cache', 'BYPASS');
    return lastValue(call.next.handle());
  }

  private bypassAfterFailure(call: HttpCacheCall, error: unknown): Promise<unknown> {
    this.logger.warn(`The cache failed for ${call.plan.label}; answering without it: ${String(error)}`);
    return this.bypass(call);
  }

  /** Drops an entry the handler no longer produces (4xx, or now not storable); never throws. */
  private forget(call: HttpCacheCall): void {
    call.stack.delete(call.key).catch(() => undefined);
  }

  private setHeader(response: object, name: string, value: string | string[]): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(response) !== true) adapter.setHeader(response, name, value as string);
  }
}
