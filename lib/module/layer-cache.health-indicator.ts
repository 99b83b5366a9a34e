/**
 * `LayerCacheHealthIndicator`: a registration's stack as a @nestjs/terminus health indicator,
 * `health.check([() => cache.isHealthy('cache')])`, built on `CacheStack.health()` (lib/stack/stack-health.ts).
 * Provided by every registration: the default stack's under the class itself, a named one's under
 * `getCacheHealthIndicatorToken(name)` / `@InjectCacheHealthIndicator(name)`.
 * Hard parts: @nestjs/terminus is an optional peer, so nothing here imports it, not even its types: a result is
 * Terminus's plain shape, `{ [key]: { status, ...details } }`, which its `HealthCheckService` reads by value (11 and
 * 12 alike: `down` fails the check with 503, without the deprecated `HealthCheckError`). And degraded is not down: a
 * stack whose Redis is down still serves (from L1 and the loaders), so by default it reports `up` with
 * `state: 'degraded'` and the details; `whenDegraded` makes it Terminus 12's `degraded` or a failing `down`.
 */
import { Inject } from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { Duration } from '../core/duration.js';
import { DEFAULT_STACK_NAME } from '../common/layer-cache.tokens.js';
import type { CacheHealthReport, CacheHealthStatus, CacheStack, LayerHealth } from '../stack/cache-stack.js';

/** What a degraded stack reports to Terminus (`LayerCacheHealthCheckOptions.whenDegraded`). */
export type LayerCacheDegradedStatus = 'up' | 'degraded' | 'down';

/** Options of {@link LayerCacheHealthIndicator.isHealthy}. */
export interface LayerCacheHealthCheckOptions {
  /**
   * The status a degraded stack (a layer down, the bus not subscribed) reports: `'up'` (readiness passes; the details
   * say `state: 'degraded'`), `'degraded'` (Terminus 12 and later: the check's overall status becomes `degraded`, still
   * HTTP 200; Terminus 11 ignores an indicator with this status), or `'down'` (the check fails with HTTP 503: a
   * readiness probe that takes the instance out of rotation while its Redis is down). A closed stack is always `down`.
   * @default 'up'
   */
  whenDegraded?: LayerCacheDegradedStatus;
  /** Longest wait for each layer's ping (a number is seconds, or `'200ms'`). @default the stack's `layerTimeout` */
  timeout?: Duration;
}

/** The details of one layer in a {@link LayerCacheHealthDetails}. */
export type LayerCacheLayerHealthDetails = Omit<LayerHealth, 'error'> & { readonly error?: string };

/** What {@link LayerCacheHealthIndicator.isHealthy} reports under its key (Terminus's `HealthIndicatorResult` shape). */
export interface LayerCacheHealthDetails {
  /** Terminus's status of the indicator. */
  readonly status: LayerCacheDegradedStatus;
  /** The stack's own verdict (`CacheStack.health()`): `up`, `degraded` or `down`. */
  readonly state: CacheHealthStatus;
  /** The registration's name. */
  readonly stack: string;
  /** Each layer, fastest first: its ping's status and latency (ms), whether it is in its back-off window. */
  readonly layers: readonly LayerCacheLayerHealthDetails[];
  /** The invalidation bus's subscription, when the stack has a bus. */
  readonly bus?: { readonly subscription: string };
  /** What makes the stack degraded or down, in words (absent when up). */
  readonly problems?: readonly string[];
}

/** The DI token of a registration's health indicator: the class for the default stack, a string for a named one. */
export function getCacheHealthIndicatorToken(name: string = DEFAULT_STACK_NAME): string | typeof LayerCacheHealthIndicator {
  return name === DEFAULT_STACK_NAME ? LayerCacheHealthIndicator : `nestjs-layercache:health:${name}`;
}

/**
 * Injects the health indicator of a stack: the default one, or the one registered with `forRoot({ name })`.
 * @example
 * constructor(@InjectCacheHealthIndicator('sessions') private readonly sessions: LayerCacheHealthIndicator) {}
 */
export function InjectCacheHealthIndicator(name: string = DEFAULT_STACK_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheHealthIndicatorToken(name));
}

const OPTION_KEYS = new Set(['whenDegraded', 'timeout']);
const DEGRADED_STATUSES: readonly string[] = ['up', 'degraded', 'down'];

/**
 * A health indicator for @nestjs/terminus over one registration's stack (see this file's header).
 * @example
 * \@Get('ready') \@HealthCheck()
 * ready() { return this.health.check([() => this.cache.isHealthy('cache', { whenDegraded: 'down' })]); }
 */
export class LayerCacheHealthIndicator {
  constructor(
    private readonly stack: CacheStack,
    /** The registration's name (`'default'` for the stack registered without one). */
    readonly stackName: string = DEFAULT_STACK_NAME,
  ) {}

  /**
   * Checks the stack (`CacheStack.health()`: every layer pinged, the bus's subscription) and reports it under `key`
   * as Terminus does: `{ [key]: { status, state, stack, layers, bus?, problems? } }`. Degraded is `up` unless
   * `whenDegraded` says otherwise; closed is `down`. Never rejects but for bad options (`InvalidOptionError`).
   */
  async isHealthy<const Key extends string>(key: Key, options: LayerCacheHealthCheckOptions = {}): Promise<Record<Key, LayerCacheHealthDetails>> {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidOptionError('key', `expected a non-empty string, got ${String(key)}`);
    const whenDegraded = checkOptions(options);
    let report: CacheHealthReport;
    try {
      report = await this.stack.health(options.timeout === undefined ? undefined : { timeout: options.timeout });
    } catch (error) {
      if (error instanceof InvalidOptionError) throw error;
      report = { status: 'down', layers: [], bus: undefined, problems: [`health check failed: ${error instanceof Error ? error.message : String(error)}`] };
    }
    const status = report.status === 'up' ? 'up' : report.status === 'down' ? 'down' : whenDegraded;
    const details: LayerCacheHealthDetails = {
      status,
      state: report.status,
      stack: this.stackName,
      layers: report.layers.map(({ error, ...layer }) => (error === undefined ? layer : { ...layer, error })),
      ...(report.bus !== undefined && { bus: { subscription: report.bus.subscription } }),
      ...(report.problems.length > 0 && { problems: report.problems }),
    };
    return { [key]: details } as Record<Key, LayerCacheHealthDetails>;
  }
}

function checkOptions(options: LayerCacheHealthCheckOptions): LayerCacheDegradedStatus {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError('options', 'expected { whenDegraded?, timeout? }');
  checkOptionKeys(options, OPTION_KEYS, { at: 'options' });
  const whenDegraded = options.whenDegraded ?? 'up';
  if (!DEGRADED_STATUSES.includes(whenDegraded)) {
    throw new InvalidOptionError('whenDegraded', `expected 'up', 'degraded' or 'down', got ${JSON.stringify(whenDegraded) ?? String(whenDegraded)}`);
  }
  return whenDegraded;
}
