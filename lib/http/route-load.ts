/**
 * `RouteLoad`: the loader one request of a cached route hands to its single `getDetailed` call, and how that
 * loader runs the handler (`next.handle()`).
 *
 * ## Hard part: which run is this?
 * The stack calls a read's loader for
 *  1. a miss (`stale` undefined): the request waits for it; the handler runs at once (foreground);
 *  2. a stale-if-error reload (`stale` set): the request waits for it too (foreground);
 *  3. a background refresh (`stale` set; stale-while-revalidate, or refresh-ahead of a still-fresh entry): the
 *     request is answered with the cached entry; the handler
 *     runs in the background once that reply is under way, and never touches the response.
 * The stack tells (3) from (1) and (2) (`LoaderContext.background`). A refresh waits for the interceptor's go
 * (`release(true)`), given once the stale reply is under way, or its cancel (`release(false)`: the stale entry was
 * malformed and is being dropped); a cancelled refresh ends without running the handler and its result is never
 * stored. (A refresh that waited for the key's revalidation lease has already been checked by the stack for a
 * peer's refresh that landed meanwhile, so a call here means the handler must run.)
 *
 * A foreground run keeps the headers the handler set (the response is not sent yet); a background run keeps the
 * stale entry's. A 4xx is an answer (returned, never stored, the old entry dropped); any other error is thrown
 * (for a background run, after `revalidationFailed`).
 */
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { CacheStack } from '../stack/cache-stack.js';
import type { LoaderContext } from '../stack/cache-stack.options.js';
import type { HttpCacheRequest } from './http-cache.options.js';
import {
  handlerHeaders,
  headersOf,
  isClientError,
  lastValue,
  snapshotHeaders,
  type HandlerHeaders,
  type HandlerOutcome,
  type PassthroughResponse,
} from './http-response.record.js';
import type { HttpRoutePlan } from './http-route.plan.js';
import { captureResponse } from './response-capture.js';

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

/** What a `RouteLoad` needs from its interceptor. */
export interface RouteLoadHost {
  /** The app's HTTP adapter (is the response sent?). */
  adapter(): AbstractHttpAdapter;
  /** A handler response that is not stored (counted, its error logged). */
  notStored(plan: HttpRoutePlan, outcome: PassthroughResponse): void;
  /** A background run failed with anything but a 4xx (the stale entry is still served). */
  revalidationFailed(plan: HttpRoutePlan, error: unknown): void;
}

/** What a cancelled refresh returns: never stored (`shouldCache` keeps stored responses only). */
const CANCELLED: PassthroughResponse = Object.freeze({ type: 'passthrough', value: undefined, reason: 'not-replayable' });

/** Resolves after every pending promise callback has run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The loader of one request's read, and what it learnt (see the file header). */
export class RouteLoad {
  /** Whether the handler ran in the foreground for this request (a miss or a stale-if-error reload). */
  ran = false;
  /** The loader to give to `getDetailed`. */
  readonly loader = (context: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> => this.run(context);
  private decision: boolean | undefined;
  private wake: ((go: boolean) => void) | undefined;

  constructor(
    private readonly call: HttpCacheCall,
    private readonly host: RouteLoadHost,
  ) {}

  /** Lets a background refresh this read started run (`true`) or end without running the handler (`false`). */
  release(go: boolean): void {
    if (this.decision !== undefined) return;
    this.decision = go;
    this.wake?.(go);
  }

  private async run(context: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> {
    if (!context.background) {
      this.ran = true;
      return this.foreground(context);
    }
    const go = this.decision ?? (await new Promise<boolean>((resolve) => (this.wake = resolve)));
    if (!go || context.signal.aborted) return CANCELLED;
    return this.background(context);
  }

  /** Runs the handler for this request: a miss, or a stale-if-error reload. */
  private async foreground(context: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> {
    const { call } = this;
    const adapter = this.host.adapter();
    const before = adapter.isHeadersSent(call.response) === true ? undefined : snapshotHeaders(call.response);
    let value: unknown;
    try {
      value = await lastValue(call.next.handle());
    } catch (error) {
      return this.rejectedOrThrow(error, context.stale);
    }
    const sentMeanwhile = adapter.isHeadersSent(call.response) === true;
    const headers = before === undefined || sentMeanwhile ? headersOf(context.stale) : handlerHeaders(before, snapshotHeaders(call.response));
    return this.capture(value, headers, context.stale !== undefined);
  }

  /** Re-runs the handler after a stale reply: the response is gone, so the stale entry's headers are kept. */
  private async background(context: LoaderContext<HandlerOutcome>): Promise<HandlerOutcome> {
    let value: unknown;
    try {
      value = await lastValue(this.call.next.handle());
    } catch (error) {
      if (!isClientError(error)) this.host.revalidationFailed(this.call.plan, error);
      return this.rejectedOrThrow(error, context.stale);
    }
    return this.capture(value, headersOf(context.stale), true);
  }

  /** A 4xx is an answer (returned, never stored, the old entry dropped); anything else is thrown. */
  private rejectedOrThrow(error: unknown, stale: HandlerOutcome | undefined): HandlerOutcome {
    if (!isClientError(error)) throw error;
    if (stale !== undefined) forget(this.call);
    return { type: 'rejected', error };
  }

  /** What to keep of a handler's value (see `captureResponse`); an entry being replaced by a passthrough is dropped. */
  private capture(value: unknown, headers: HandlerHeaders, replacing: boolean): HandlerOutcome {
    const outcome = captureResponse(this.call.plan, this.call.request, value, headers);
    if (outcome.type === 'passthrough') {
      this.host.notStored(this.call.plan, outcome);
      if (replacing) forget(this.call);
    }
    return outcome;
  }
}

/** Drops an entry the handler no longer produces (4xx, or now not storable); never throws. */
export function forget(call: HttpCacheCall): void {
  call.stack.delete(call.key).catch(() => undefined);
}
