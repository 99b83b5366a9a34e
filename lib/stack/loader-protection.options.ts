/**
 * The entry options that protect the upstream a loader calls — `circuitBreaker` and `loaderRateLimit` — and
 * their resolution into milliseconds (`BreakerPolicy`, `RateLimitPolicy`), checked eagerly: an unknown field,
 * a missing one or a value out of range throws `InvalidOptionError` naming it (`circuitBreaker.window`).
 * `false` turns a default off (a stack's or a module's breaker on one call or one decorated method).
 */
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_BREAKER_OPTIONS, FOREIGN_RATE_LIMIT_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';

/**
 * Which loads share one circuit or one rate-limit bucket: every load of the namespace (of the root stack for
 * the root), every load of one key (per namespace), or a name returned by a function of the key as the caller
 * wrote it (e.g. the tenant in `'tenant:42:orders'`): loads whose function returns the same name share it.
 */
export type LoaderScopeFunction = (key: string) => string;

/** Options of the circuit breaker (docs/protection.md, "Circuit breaker"). Durations: a number is seconds. */
export interface CircuitBreakerOptions {
  /** Loader failures (a throw or a `LoaderTimeoutError`) within `window` that open the circuit. An integer ≥ 1. */
  failureThreshold: number;
  /** How far back failures count (a rolling window). */
  window: Duration;
  /** How long the circuit stays open before one probe load is let through (half-open). */
  cooldown: Duration;
  /**
   * What one circuit covers: `'namespace'` (every load of the namespace; of a decorated method when written on
   * `@Cacheable`), `'key'` (each key on its own), or a function of the key returning a circuit name.
   * @default 'namespace' (on `@Cacheable`: one circuit per decorated method)
   */
  scope?: 'namespace' | 'key' | LoaderScopeFunction;
}

/** Options of loader rate limits (docs/protection.md, "Loader rate limits"). At least one of `concurrency`, `perSecond`. */
export interface LoaderRateLimitOptions {
  /** Most loader runs at once in one bucket. An integer ≥ 1. @default unlimited */
  concurrency?: number;
  /** Most loader starts in any rolling second in one bucket. An integer ≥ 1. @default unlimited */
  perSecond?: number;
  /** How long a load waits for room before it fails with a `RateLimitError`; `0` fails at once. @default 1 s */
  maxWait?: Duration;
  /**
   * What one bucket covers: the whole stack (`'global'`, every namespace), one namespace, one key, or a function
   * of the key (as the caller wrote it) returning a bucket name (e.g. the upstream host).
   */
  scope: 'global' | 'namespace' | 'key' | LoaderScopeFunction;
}

/** Default of `loaderRateLimit.maxWait`, in the units users write. */
export const DEFAULT_LOADER_MAX_WAIT = 1;

/** `circuitBreaker`, resolved: milliseconds. */
export interface BreakerPolicy {
  readonly failureThreshold: number;
  readonly window: number;
  readonly cooldown: number;
  readonly scope: 'namespace' | 'key' | LoaderScopeFunction;
}

/** `loaderRateLimit`, resolved: milliseconds; an absent bound is `Infinity`. */
export interface RateLimitPolicy {
  readonly concurrency: number;
  readonly perSecond: number;
  readonly maxWait: number;
  readonly scope: 'global' | 'namespace' | 'key' | LoaderScopeFunction;
}

const BREAKER_FIELDS: ReadonlySet<string> = new Set(['failureThreshold', 'window', 'cooldown', 'scope']);
const RATE_LIMIT_FIELDS: ReadonlySet<string> = new Set(['concurrency', 'perSecond', 'maxWait', 'scope']);

/** Resolves `circuitBreaker` (`false`: none). */
export function resolveBreaker(option: CircuitBreakerOptions | false): BreakerPolicy | undefined {
  if (option === false) return undefined;
  const o = checkFields(option, 'circuitBreaker', BREAKER_FIELDS, '{ failureThreshold, window, cooldown, scope? } or false');
  const window = toMilliseconds(required(o.window, 'circuitBreaker.window'), 'circuitBreaker.window');
  const cooldown = toMilliseconds(required(o.cooldown, 'circuitBreaker.cooldown'), 'circuitBreaker.cooldown');
  if (window <= 0) throw new InvalidOptionError('circuitBreaker.window', 'must be greater than 0');
  if (cooldown <= 0) throw new InvalidOptionError('circuitBreaker.cooldown', 'must be greater than 0');
  const scope = o.scope ?? 'namespace';
  if (scope !== 'namespace' && scope !== 'key' && typeof scope !== 'function') {
    throw new InvalidOptionError('circuitBreaker.scope', `expected 'namespace', 'key' or a function of the key, got ${describe(scope)}`);
  }
  return { failureThreshold: positiveInteger(required(o.failureThreshold, 'circuitBreaker.failureThreshold'), 'circuitBreaker.failureThreshold'), window, cooldown, scope };
}

/** Resolves `loaderRateLimit` (`false`: none). */
export function resolveRateLimit(option: LoaderRateLimitOptions | false): RateLimitPolicy | undefined {
  if (option === false) return undefined;
  const o = checkFields(option, 'loaderRateLimit', RATE_LIMIT_FIELDS, '{ concurrency?, perSecond?, maxWait?, scope } or false');
  if (o.concurrency === undefined && o.perSecond === undefined) {
    throw new InvalidOptionError('loaderRateLimit', 'needs concurrency, perSecond or both (nothing to limit)');
  }
  const scope = required(o.scope, 'loaderRateLimit.scope');
  if (scope !== 'global' && scope !== 'namespace' && scope !== 'key' && typeof scope !== 'function') {
    throw new InvalidOptionError('loaderRateLimit.scope', `expected 'global', 'namespace', 'key' or a function of the key, got ${describe(scope)}`);
  }
  return {
    concurrency: o.concurrency === undefined ? Number.POSITIVE_INFINITY : positiveInteger(o.concurrency, 'loaderRateLimit.concurrency'),
    perSecond: o.perSecond === undefined ? Number.POSITIVE_INFINITY : positiveInteger(o.perSecond, 'loaderRateLimit.perSecond'),
    maxWait: toMilliseconds(o.maxWait ?? DEFAULT_LOADER_MAX_WAIT, 'loaderRateLimit.maxWait'),
    scope,
  };
}

function checkFields<O extends object>(option: O, name: string, fields: ReadonlySet<string>, expected: string): O {
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new InvalidOptionError(name, `expected ${expected}, got ${describe(option)}`);
  }
  checkOptionKeys(option, fields, { at: name, renamed: name === 'circuitBreaker' ? FOREIGN_BREAKER_OPTIONS : FOREIGN_RATE_LIMIT_OPTIONS });
  return option;
}

function required<V>(value: V | undefined, option: string): V {
  if (value === undefined) throw new InvalidOptionError(option, 'is required');
  return value;
}

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `expected an integer of at least 1, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : String(value);
}
