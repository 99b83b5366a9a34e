/**
 * OpenTelemetry spans of a stack (docs/observability.md, "OpenTelemetry"), behind the `tracing` option: off by
 * default, and then nothing here runs and `@opentelemetry/api` (an optional peer) is never loaded. On, it is
 * loaded once when the stack is built (synchronously, from the app: lib/core/optional-peer.ts), unless the user
 * gives a tracer.
 *
 * The engine's sites each call one function of `StackTracing`, which runs their work inside an active span
 * (`Tracer.startActiveSpan`), so the spans the work makes (a loader's database calls, an instrumented Redis
 * client's commands) are its children, and it is itself a child of whatever span is active where it started:
 * - `layercache.load`: one loader run of a flight (LoadRunner.runLoad), with a distributed lease wait and the store;
 * - `layercache.refresh`: one background refresh (LoadRunner.refresh): a child of the read that started it, since
 *   the async context flows into the work that read spawns; it may end after that read's span;
 * - `layercache.<layer>.<operation>`: one command of a shared layer, tag store, lock or coordinator through its
 *   guard (LayerGuard.run): timeouts and back-off skips included, with `cache.hit` on `get`.
 * A failure sets the span's status to ERROR with the exception recorded; success leaves it UNSET, as the
 * OpenTelemetry conventions ask of instrumentation. Span names never hold keys: keys are unbounded in number and
 * may be personal data; `keys: 'hashed' | 'raw'` adds a `cache.key` attribute on load and refresh spans.
 *
 * The structural types below are the few members of the API's `Tracer` and `Span` used here, so the library's
 * declarations do not name `@opentelemetry/api` (a consumer without it still type-checks).
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { NAMESPACE_SEPARATOR } from '../core/keys.js';
import { requireOptionalPeer } from '../core/optional-peer.js';

/** Attributes of a span (OpenTelemetry `Attributes`, the value types used here). */
export type CacheSpanAttributes = Record<string, string | number | boolean>;

/** The members of an OpenTelemetry `Span` the stack uses. */
export interface CacheSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): unknown;
  end(): void;
}

/** The member of an OpenTelemetry `Tracer` the stack uses (any `trace.getTracer(...)` fits). */
export interface CacheTracer {
  startActiveSpan<F extends (span: CacheSpan) => unknown>(name: string, options: { kind?: number; attributes?: CacheSpanAttributes }, fn: F): ReturnType<F>;
}

/** Which key attribute load and refresh spans carry. */
export type TracingKeys = 'none' | 'hashed' | 'raw';

/** The `tracing` option of a stack in its object form (`true` is `{}`). */
export interface TracingOptions {
  /** The tracer to use. @default `trace.getTracer('nestjs-layercache')` of `@opentelemetry/api` (the global provider) */
  tracer?: CacheTracer;
  /** The value of the `cache.stack` attribute: tells several stacks apart. @default 'default' */
  name?: string;
  /**
   * The `cache.key` attribute of load and refresh spans: `'none'`, `'hashed'` (`sha256:` and 16 hex digits of the
   * key as the caller wrote it) or `'raw'` (the key itself: mind personal data in keys). Never in span names.
   * @default 'none'
   */
  keys?: TracingKeys;
}

/** Defaults of {@link TracingOptions}. */
export const DEFAULT_TRACING_OPTIONS = Object.freeze({ name: 'default', keys: 'none' } as const);

/** The instrumentation scope's name (`trace.getTracer(TRACER_NAME)`). */
export const TRACER_NAME = 'nestjs-layercache';

const OPTION_KEYS = new Set(['tracer', 'name', 'keys']);
const KEY_MODES = new Set<TracingKeys>(['none', 'hashed', 'raw']);
/** `SpanKind.INTERNAL` and `SpanStatusCode.ERROR` of the API (stable numeric values). */
const SPAN_KIND_INTERNAL = 0;
const STATUS_ERROR = 2;

/** What a load or refresh span describes (a `ReadRequest`'s fields). */
export interface TracedRequest {
  readonly userKey: string;
  readonly scope: string;
  readonly stale: unknown;
}

/** The spans of one stack. */
export class StackTracing {
  constructor(
    private readonly tracer: CacheTracer,
    private readonly stack: string,
    private readonly keys: TracingKeys,
  ) {}

  /** Runs a load of `request` (the loader, its lease and store) in a `layercache.load` span. */
  load<T>(request: TracedRequest, background: boolean, run: () => Promise<T>): Promise<T> {
    return this.span('layercache.load', this.requestAttributes(request, 'load', background), run, undefined);
  }

  /** Runs a background refresh of `request` in a `layercache.refresh` span; `landed()` tells whether a peer's refresh was served instead. */
  refresh<T>(request: TracedRequest, run: () => Promise<T>, landed: () => boolean): Promise<T> {
    return this.span('layercache.refresh', this.requestAttributes(request, 'refresh', true), run, (span) => span.setAttribute('cache.refresh.landed', landed()));
  }

  /** Runs one guarded command of a shared layer (or tag store, lock, coordinator) in a `layercache.<layer>.<operation>` span. */
  command<T>(layer: string, operation: string, run: () => Promise<T>): Promise<T> {
    const attributes: CacheSpanAttributes = { 'cache.stack': this.stack, 'cache.layer': layer, 'cache.operation': operation };
    const onValue = operation === 'get' ? markHit : operation === 'getMany' ? markHits : undefined;
    return this.span(`layercache.${layer}.${operation}`, attributes, run, onValue);
  }

  private requestAttributes(request: TracedRequest, operation: string, background: boolean): CacheSpanAttributes {
    const attributes: CacheSpanAttributes = {
      'cache.stack': this.stack,
      'cache.operation': operation,
      'cache.background': background,
      'cache.stale': request.stale !== undefined,
    };
    if (request.scope !== '') attributes['cache.namespace'] = request.scope.slice(0, -1).split(NAMESPACE_SEPARATOR).join('/');
    if (this.keys === 'raw') attributes['cache.key'] = request.userKey;
    else if (this.keys === 'hashed') attributes['cache.key'] = `sha256:${createHash('sha256').update(request.userKey).digest('hex').slice(0, 16)}`;
    return attributes;
  }

  /**
   * Runs `run` inside an active span: ERROR status and the exception on failure, `onValue` on success. A tracer that
   * throws before running the work does not fail it: the work then runs without a span.
   */
  private span<T>(name: string, attributes: CacheSpanAttributes, run: () => Promise<T>, onValue: ((span: CacheSpan, value: T) => void) | undefined): Promise<T> {
    let started = false;
    try {
      return this.tracer.startActiveSpan(name, { kind: SPAN_KIND_INTERNAL, attributes }, async (span: CacheSpan) => {
        started = true;
        try {
          const value = await run();
          onValue?.(span, value);
          return value;
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
          throw error;
        } finally {
          span.end();
        }
      });
    } catch (error) {
      if (started) throw error;
      return run();
    }
  }
}

function markHit(span: CacheSpan, value: unknown): void {
  span.setAttribute('cache.hit', value !== undefined);
}

function markHits(span: CacheSpan, value: unknown): void {
  if (Array.isArray(value)) span.setAttribute('cache.hits', value.filter((entry) => entry !== undefined).length);
}

/**
 * Resolves the `tracing` option: `undefined` when off (`false` or absent), else the stack's spans, loading
 * `@opentelemetry/api` only when no tracer is given. Throws `InvalidOptionError` naming the option.
 */
export function resolveTracing(option: boolean | TracingOptions | undefined): StackTracing | undefined {
  if (option === undefined || option === false) return undefined;
  const options: TracingOptions = option === true ? {} : checkTracingOptions(option);
  return new StackTracing(options.tracer ?? globalTracer(), options.name ?? DEFAULT_TRACING_OPTIONS.name, options.keys ?? DEFAULT_TRACING_OPTIONS.keys);
}

function checkTracingOptions(option: unknown): TracingOptions {
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new InvalidOptionError('tracing', `expected true, false or { tracer, name, keys }, got ${option === null ? 'null' : typeof option}`);
  }
  checkOptionKeys(option, OPTION_KEYS, { at: 'tracing' });
  const { tracer, name, keys } = option as Record<string, unknown>;
  if (tracer !== undefined && (tracer === null || typeof (tracer as Partial<CacheTracer>).startActiveSpan !== 'function')) {
    throw new InvalidOptionError('tracing.tracer', 'expected an OpenTelemetry Tracer (an object with startActiveSpan)');
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new InvalidOptionError('tracing.name', 'expected a non-empty string');
  }
  if (keys !== undefined && !KEY_MODES.has(keys as TracingKeys)) {
    throw new InvalidOptionError('tracing.keys', `expected 'none', 'hashed' or 'raw', got ${JSON.stringify(keys)}`);
  }
  return option as TracingOptions;
}

/** The tracer of the global provider, from `@opentelemetry/api` loaded now (a no-op tracer until an SDK registers one). */
function globalTracer(): CacheTracer {
  type Api = { trace: { getTracer(name: string): CacheTracer } };
  try {
    return requireOptionalPeer<Api>('@opentelemetry/api').trace.getTracer(TRACER_NAME);
  } catch (error) {
    throw new InvalidOptionError('tracing', `needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api), or a tracer: ${(error as Error).message}`);
  }
}
