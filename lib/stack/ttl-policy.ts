/**
 * Write-time freshness beyond a fixed ttl: calendar ttls (`'until-midnight'`, `'next-hour'` in `timeZone`), ttl
 * functions of the value and key, and `ttlJitter`. Resolved once per options object (with `resolvePolicy`) into a
 * {@link WriteTtlPolicy} the entry builder calls; a policy with none of them has none (`undefined`), so a fixed
 * ttl costs the write path one property read.
 *
 * Hard parts: inheritance (a call's `ttl: 'until-midnight'` uses the stack's `timeZone`; a call's `timeZone` alone
 * re-targets the stack's calendar ttl; `ttlJitter: 0` turns the stack's jitter off), and the calendar cache: the
 * boundary is computed once per unit (hour, day) and reused by every write before it (calendar-boundary.ts).
 */
import { checkTimeZone, isCalendarTtl, nextBoundary, processTimeZone, type CalendarTtl } from '../core/calendar-boundary.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';

/**
 * A ttl computed at each write from the value and the key (as the caller wrote it, without namespace). Throwing
 * or returning something that is not a duration means "not cached" (logged once), never an error to the caller.
 */
export type TtlFunction<T = unknown> = (value: T, key: string) => Duration;

/** The write-time rules of a policy (see the file header); `undefined` on a policy without any. */
export interface WriteTtlPolicy {
  /** The calendar ttl or ttl function in force, or `undefined` for the policy's fixed `ttl`. */
  readonly rule: CalendarTtl | TtlFunction | undefined;
  /** The `timeZone` option as resolved (canonical), or `undefined` for the process's zone. */
  readonly timeZone: string | undefined;
  /** Milliseconds of freshness of a write at `now`, for `rule`; `undefined` for the fixed ttl. @throws for a bad function result */
  readonly freshFor: ((now: number, value: unknown, key: string) => number) | undefined;
  /** The `ttlJitter` option as resolved: a fraction of the ttl, or ms; `undefined` without jitter. */
  readonly jitter: Jitter | undefined;
}

/** A resolved `ttlJitter`: up to ± `fraction` of each ttl, or up to ± `ms`. */
export type Jitter = { readonly fraction: number; readonly ms?: undefined } | { readonly ms: number; readonly fraction?: undefined };

/** The options this file resolves, as users write them. */
export interface WriteTtlOptions {
  readonly ttl?: Duration | CalendarTtl | TtlFunction<never>;
  readonly timeZone?: string;
  readonly ttlJitter?: number | Duration;
}

/** Whether `ttl` is a fixed duration (resolved by `toMilliseconds`) rather than a calendar ttl or a function. */
export function isFixedTtl(ttl: WriteTtlOptions['ttl']): ttl is Duration {
  return typeof ttl !== 'function' && !isCalendarTtl(ttl);
}

/**
 * The milliseconds of a fixed `ttl`.
 * @throws InvalidOptionError naming `ttl`, listing every form a ttl takes.
 */
export function fixedTtlMs(ttl: Duration): number {
  try {
    return toMilliseconds(ttl, 'ttl');
  } catch (error) {
    if (typeof ttl !== 'string' || !(error instanceof InvalidOptionError)) throw error;
    throw new InvalidOptionError('ttl', `expected seconds as a number, a duration such as '30s', 'until-midnight', 'next-hour' or a function of (value, key); got ${JSON.stringify(ttl)}`);
  }
}

/** Resolves the write-time rules of `options` over the base policy's (`undefined`: none). */
export function resolveWriteTtl(options: WriteTtlOptions, base: WriteTtlPolicy | undefined): WriteTtlPolicy | undefined {
  const { ttl, timeZone: zoneOption, ttlJitter } = options;
  if (ttl === undefined && zoneOption === undefined && ttlJitter === undefined) return base;
  let rule = base?.rule;
  if (ttl !== undefined) rule = isFixedTtl(ttl) ? undefined : (ttl as CalendarTtl | TtlFunction);
  const timeZone = zoneOption === undefined ? base?.timeZone : checkTimeZone(zoneOption, 'timeZone');
  const jitter = ttlJitter === undefined ? base?.jitter : checkJitter(ttlJitter);
  if (rule === undefined && timeZone === undefined && jitter === undefined) return undefined;
  return { rule, timeZone, jitter, freshFor: freshForOf(rule, timeZone) };
}

/**
 * Resolves a `ttlJitter` option: a number is a fraction in [0, 1), a string a duration with its unit; `0` is none.
 * @throws InvalidOptionError naming `option`.
 */
export function checkJitter(value: number | Duration, option = 'ttlJitter'): Jitter | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(option, `expected a fraction of the ttl in [0, 1) or a duration string such as '5s', got ${String(value)}`);
    }
    if (value >= 1) {
      throw new InvalidOptionError(option, `a number is a fraction of the ttl in [0, 1) (0.1 = ±10%), got ${value}; for ±${value} seconds write '${value}s'`);
    }
    return value === 0 ? undefined : { fraction: value };
  }
  if (typeof value !== 'string') {
    throw new InvalidOptionError(option, `expected a fraction of the ttl in [0, 1) or a duration string such as '5s', got ${typeof value}`);
  }
  const ms = toMilliseconds(value, option);
  return ms === 0 ? undefined : { ms };
}

/**
 * `ttl` moved uniformly within ± the jitter (`random` in [0, 1)), rounded to the ms and never below 0. A ttl of 0
 * ("not fresh at all") stays 0.
 */
export function jitterTtl(ttl: number, jitter: Jitter, random: number): number {
  if (ttl <= 0) return ttl;
  const spread = jitter.fraction === undefined ? jitter.ms : ttl * jitter.fraction;
  const jittered = Math.round(ttl + spread * (2 * random - 1));
  return jittered > 0 ? jittered : 0;
}

function freshForOf(rule: CalendarTtl | TtlFunction | undefined, timeZone: string | undefined): WriteTtlPolicy['freshFor'] {
  if (rule === undefined) return undefined;
  if (typeof rule === 'function') {
    return (_now, value, key) => {
      const result: unknown = rule(value, key);
      let ms: number | undefined;
      if ((typeof result === 'number' || typeof result === 'string') && isFixedTtl(result as Duration)) {
        try {
          ms = toMilliseconds(result as Duration, 'ttl');
        } catch {
          ms = undefined;
        }
      }
      if (ms === undefined) {
        throw new InvalidOptionError(
          'ttl',
          `the ttl function returned ${describeResult(result)} for key ${JSON.stringify(key)}; expected a duration (seconds, or a string such as '30s')`,
        );
      }
      return ms;
    };
  }
  const zone = timeZone ?? processTimeZone();
  const unit = rule === 'until-midnight' ? 'day' : 'hour';
  // The boundary is the same for every write between `from` and it: computed once per hour or day.
  let from = 0;
  let until = 0;
  return (now) => {
    if (now < from || now >= until) {
      from = now;
      until = nextBoundary(now, zone, unit);
    }
    return until - now;
  };
}

function describeResult(result: unknown): string {
  return typeof result === 'string' ? JSON.stringify(result) : typeof result === 'number' ? String(result) : typeof result;
}
