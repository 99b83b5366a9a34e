/**
 * The read-time freshness options of an entry (`slidingTtl`, `adaptiveTtl`, `refreshAhead`; docs/freshness.md) and
 * their checks, used by `resolvePolicy` (cache-stack.options.ts). Bad values throw `InvalidOptionError` naming the option.
 */
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_ADAPTIVE_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';

/** Options of an adaptive ttl (`adaptiveTtl`). */
export interface AdaptiveTtlOptions {
  /** The ceiling of the ttl (at least the base `ttl`). */
  max: Duration;
  /** Reads within one ttl that make a key hot. @default 10 */
  hits?: number;
  /** How much the ttl grows each time the key proves hot. @default the base `ttl` */
  step?: Duration;
}

/** `adaptiveTtl` resolved into milliseconds (`step` `undefined`: the base ttl). */
export interface AdaptivePolicy {
  readonly max: number;
  readonly hits: number;
  readonly step: number | undefined;
}

/** Default of `adaptiveTtl.hits`. */
const DEFAULT_ADAPTIVE_HITS = 10;

const ADAPTIVE_KEYS: ReadonlySet<string> = new Set(['max', 'hits', 'step']);

export function resolveAdaptive(option: AdaptiveTtlOptions | false): AdaptivePolicy | undefined {
  if (option === false) return undefined;
  if (option === null || typeof option !== 'object') {
    throw new InvalidOptionError('adaptiveTtl', 'expected { max, hits?, step? } or false');
  }
  checkOptionKeys(option, ADAPTIVE_KEYS, { at: 'adaptiveTtl', renamed: FOREIGN_ADAPTIVE_OPTIONS });
  if (option.max === undefined) throw new InvalidOptionError('adaptiveTtl.max', 'is required (the ceiling of the ttl)');
  const hits = option.hits ?? DEFAULT_ADAPTIVE_HITS;
  if (!Number.isSafeInteger(hits) || hits < 1) throw new InvalidOptionError('adaptiveTtl.hits', `expected a positive integer, got ${String(hits)}`);
  const step = option.step === undefined ? undefined : toMilliseconds(option.step, 'adaptiveTtl.step');
  if (step === 0) throw new InvalidOptionError('adaptiveTtl.step', 'must be greater than 0');
  return { max: toMilliseconds(option.max, 'adaptiveTtl.max'), hits, step };
}

export function checkFraction(value: number, option: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new InvalidOptionError(option, `expected a fraction of the ttl in [0, 1) such as 0.8, got ${String(value)}`);
  }
  return value;
}

export function checkBoolean(value: boolean, option: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, `expected true or false, got ${typeof value}`);
  return value;
}
