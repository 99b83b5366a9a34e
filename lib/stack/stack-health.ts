/**
 * `CacheStack.health()`: a read-only check of a stack for readiness probes and health endpoints (the module's
 * `LayerCacheHealthIndicator` formats it for @nestjs/terminus). Each layer is pinged in parallel — its own
 * `probe()` where it has one (Redis: PING), else a read of a reserved key (a control character, so never a user's
 * key) — bounded by a timeout, and timed; the invalidation bus reports its subscription.
 * Hard parts: a health check must never fail nor hang itself (a throwing, rejecting or hanging layer is a `down`
 * layer, reported by the timeout at the latest), and it must not change the stack: the pings bypass the layers'
 * guards, so they neither count as errors nor open or close a back-off window (the guard's own probes do that).
 * Status: `down` only once the stack is closed; `degraded` while some layer is down or the bus is not subscribed
 * (the stack still answers, from its other layers and loaders); else `up`.
 */
import type { Clock } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { BusSubscriptionState } from '../core/invalidation-bus.js';
import type { CacheLayer } from '../core/layer.js';
import type { LayerGuard } from './layer-guard.js';

/** The key a layer without `probe()` is read under: U+001F keeps it apart from every user key. */
export const HEALTH_PING_KEY = '\x1fhealth';

/** Options of `CacheStack.health()`. */
export interface CacheHealthOptions {
  /** Longest wait for each layer's ping (a number is seconds, or `'200ms'`). @default the stack's `layerTimeout` */
  timeout?: Duration;
}

/** The overall status: `down` (closed), `degraded` (serving, something shared is failing), `up`. */
export type CacheHealthStatus = 'up' | 'degraded' | 'down';

/** The health of one layer. */
export interface LayerHealth {
  /** The layer's name (`memory`, `redis`, ...). */
  readonly name: string;
  /** Whether the layer is shared between processes (Redis). */
  readonly shared: boolean;
  /** `up`: the ping answered within the timeout; `down`: it failed or timed out. */
  readonly status: 'up' | 'down';
  /** How the layer was pinged: its own `probe()` (Redis: PING) or a `get` of a reserved key. */
  readonly ping: 'probe' | 'get';
  /** How long the ping took, in milliseconds (the timeout when it timed out). */
  readonly latencyMs: number;
  /** True while the stack skips the layer after failures (its back-off window; always false for local layers). */
  readonly backoff: boolean;
  /** Why the layer is down (`undefined` when it is up). */
  readonly error: string | undefined;
}

/** The invalidation bus's part of a health report. */
export interface BusHealth {
  /** Where its subscription stands (`subscribed` is healthy). */
  readonly subscription: BusSubscriptionState;
}

/** What `CacheStack.health()` resolves to. */
export interface CacheHealthReport {
  readonly status: CacheHealthStatus;
  /** One report per layer, fastest first. */
  readonly layers: readonly LayerHealth[];
  /** The invalidation bus, `undefined` when the stack has none. */
  readonly bus: BusHealth | undefined;
  /** What makes the stack degraded or down, in words (empty when up). */
  readonly problems: readonly string[];
}

/** What a health check reads of a stack. */
export interface StackHealthParts {
  readonly clock: Clock;
  readonly layers: readonly CacheLayer[];
  readonly guards: readonly (LayerGuard | undefined)[];
  /** The bus's subscription, `undefined` without a bus. */
  readonly bus: (() => BusSubscriptionState) | undefined;
  readonly closed: () => boolean;
}

const HEALTH_KEYS: ReadonlySet<string> = new Set(['timeout']);

/** Checks the options of `CacheStack.health()`; resolves the timeout in milliseconds. */
export function checkHealthOptions(options: CacheHealthOptions | undefined, fallback: number): number {
  if (options === undefined) return fallback;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError('options', 'expected { timeout? }');
  checkOptionKeys(options, HEALTH_KEYS, { at: 'options' });
  if (options.timeout === undefined) return fallback;
  const timeout = toMilliseconds(options.timeout, 'timeout');
  if (timeout <= 0) throw new InvalidOptionError('timeout', 'must be greater than 0');
  return timeout;
}

/** Pings every layer (in parallel) and reads the bus's subscription. Never rejects. */
export async function checkStackHealth(parts: StackHealthParts, timeoutMs: number): Promise<CacheHealthReport> {
  const closed = parts.closed();
  const layers = await Promise.all(parts.layers.map((layer, i) => (closed ? closedLayer(layer) : pingLayer(layer, parts.guards[i], parts.clock, timeoutMs))));
  const subscription = parts.bus?.();
  const problems: string[] = [];
  if (closed) problems.push('the stack is closed');
  for (const layer of layers) if (!closed && layer.status === 'down') problems.push(`layer "${layer.name}" is down: ${layer.error ?? 'unknown'}`);
  if (!closed && subscription !== undefined && subscription !== 'subscribed') {
    problems.push(`the invalidation bus is ${subscription}: peers' invalidations do not reach this process's L1`);
  }
  const status: CacheHealthStatus = closed ? 'down' : problems.length > 0 ? 'degraded' : 'up';
  return { status, layers, bus: subscription === undefined ? undefined : { subscription }, problems };
}

function closedLayer(layer: CacheLayer): LayerHealth {
  const ping = layer.probe === undefined ? 'get' : 'probe';
  return { name: layer.name, shared: layer.shared, status: 'down', ping, latencyMs: 0, backoff: false, error: 'the stack is closed' };
}

/** One timed ping, bounded by `timeoutMs` on the stack's clock; resolves whatever the layer does. */
function pingLayer(layer: CacheLayer, guard: LayerGuard | undefined, clock: Clock, timeoutMs: number): Promise<LayerHealth> {
  const ping = layer.probe === undefined ? 'get' : 'probe';
  const backoff = guard?.open ?? false;
  const started = clock.now();
  return new Promise<LayerHealth>((resolve) => {
    let settled = false;
    const done = (error: string | undefined, latencyMs: number): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      resolve({ name: layer.name, shared: layer.shared, status: error === undefined ? 'up' : 'down', ping, latencyMs, backoff, error });
    };
    const timer = clock.setTimeout(() => done(`no answer within ${timeoutMs} ms`, timeoutMs), timeoutMs);
    try {
      const answer = ping === 'probe' ? layer.probe?.() : layer.get(HEALTH_PING_KEY);
      Promise.resolve(answer).then(
        () => done(undefined, Math.max(0, clock.now() - started)),
        (error: unknown) => done(describe(error), Math.max(0, clock.now() - started)),
      );
    } catch (error) {
      done(describe(error), Math.max(0, clock.now() - started));
    }
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
