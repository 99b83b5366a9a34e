/**
 * What stands between a load and its loader (`circuitBreaker`, `loaderRateLimit`): `LoadRunner` asks here before
 * every loader RUN — inside the flight, after in-process and distributed single-flight have collapsed the callers
 * — and reports how the run ended. A load with neither option costs one check of its policy.
 *
 * Order of an admission: the circuit is checked (open: `CircuitOpenError` at once, no wait for a slot); a slot of
 * the rate-limit bucket is taken (maybe waiting); then the circuit admits the run (it may have opened meanwhile:
 * the slot is given back). `refused` is the cheap check the runner makes before it starts a flight at all, so an
 * open circuit fails a miss without a flight, a lease or a wait, and skips a background refresh.
 *
 * Scopes name the circuit or bucket a load belongs to (its `id`; its `label` in errors and events): the namespace
 * (`ReadRequest.scope`), the internal key, the whole stack (rate limits), or the name a scope function returns for
 * the key as the caller wrote it. A scope function that throws or returns no name falls back to the namespace
 * (logged): a cache failure does not fail the load.
 */
import type { Clock } from '../core/clock.js';
import type { CircuitOpenError } from '../core/errors.js';
import { NAMESPACE_SEPARATOR } from '../core/keys.js';
import type { BurstLogger } from '../core/logger.js';
import type { StackMetrics } from '../core/metrics.js';
import { CircuitBreakers, type CircuitPermit, type CircuitRef } from './circuit-breaker.js';
import { LoaderLimits, type BucketRef } from './loader-limits.js';
import type { LoaderScopeFunction } from './loader-protection.options.js';
import type { ReadRequest } from './read-request.js';
import type { StackEvents } from './stack-events.js';

/** What `LoaderProtection` works with (given by `StackCore`). */
export interface LoaderProtectionParts {
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly metrics: StackMetrics;
  readonly events: StackEvents;
}

/** What a load is admitted on: its keys, its namespace and its policy. */
export type ProtectedLoad = Pick<ReadRequest<unknown>, 'key' | 'userKey' | 'scope' | 'policy'>;

/** An admitted run: what to report when its loader settled. */
export interface LoaderTicket {
  readonly permit: CircuitPermit | undefined;
  readonly release: (() => void) | undefined;
}

export class LoaderProtection {
  private readonly breakers: CircuitBreakers;
  private readonly limits: LoaderLimits;

  constructor(private readonly parts: LoaderProtectionParts) {
    this.breakers = new CircuitBreakers(parts.clock, parts.metrics, parts.events);
    this.limits = new LoaderLimits(parts.clock, parts.metrics);
  }

  /** The error of an open circuit that refuses the request's load right now, if any (reserves nothing). */
  refused(request: ProtectedLoad): CircuitOpenError | undefined {
    if (request.policy.breaker === undefined) return undefined;
    try {
      this.breakers.check(this.circuitOf(request));
      return undefined;
    } catch (error) {
      return error as CircuitOpenError;
    }
  }

  /**
   * Admits one loader run of `request` (`undefined`: nothing to report back), waiting for a rate-limit slot when
   * needed; rejects with `CircuitOpenError` or `RateLimitError`. `immediate`: fail at once instead of waiting.
   */
  async admit(request: ProtectedLoad, immediate: boolean, signal: AbortSignal): Promise<LoaderTicket | undefined> {
    const { breaker, rateLimit } = request.policy;
    if (breaker === undefined && rateLimit === undefined) return undefined;
    const circuit = breaker === undefined ? undefined : this.circuitOf(request);
    if (circuit !== undefined) this.breakers.check(circuit);
    let release: (() => void) | undefined;
    if (rateLimit !== undefined) {
      const slot = this.limits.acquire(this.bucketOf(request), rateLimit, immediate, signal);
      release = typeof slot === 'function' ? slot : await slot;
    }
    if (circuit === undefined || breaker === undefined) return { permit: undefined, release };
    try {
      return { permit: this.breakers.admit(circuit, breaker), release };
    } catch (error) {
      release?.();
      throw error;
    }
  }

  /** Reports how an admitted run ended: `failed` when the loader threw or timed out (not when the stack closed). */
  settle(ticket: LoaderTicket | undefined, failed: boolean): void {
    if (ticket === undefined) return;
    ticket.release?.();
    if (ticket.permit !== undefined) this.breakers.record(ticket.permit, failed);
  }

  private circuitOf(request: ProtectedLoad): CircuitRef {
    const scope = (request.policy.breaker as { scope: 'namespace' | 'key' | LoaderScopeFunction }).scope;
    return this.refOf(request, scope);
  }

  private bucketOf(request: ProtectedLoad): BucketRef {
    const scope = (request.policy.rateLimit as { scope: 'global' | 'namespace' | 'key' | LoaderScopeFunction }).scope;
    return scope === 'global' ? GLOBAL : this.refOf(request, scope);
  }

  private refOf(request: ProtectedLoad, scope: 'namespace' | 'key' | LoaderScopeFunction): CircuitRef {
    if (scope === 'key') return { id: `k:${request.key}`, label: `key:${namespaceLabel(request.scope, '/')}${request.userKey}` };
    if (typeof scope === 'function') {
      let name: unknown;
      try {
        name = scope(request.userKey);
      } catch (error) {
        name = error;
      }
      if (typeof name === 'string' && name.length > 0) return { id: `f:${name}`, label: name };
      this.parts.log.warn(`The scope function of a circuit breaker or rate limit gave no name for "${request.userKey}"; using the namespace`, name);
    }
    return { id: `n:${request.scope}`, label: `namespace:${namespaceLabel(request.scope, '')}` };
  }
}

const GLOBAL: BucketRef = Object.freeze({ id: 'g', label: 'global' });

/** A namespace scope (`a␟b␟`) as written (`a/b`), followed by `end` unless it is the root. */
function namespaceLabel(scope: string, end: string): string {
  return scope === '' ? '' : scope.split(NAMESPACE_SEPARATOR).filter((name) => name !== '').join('/') + end;
}
