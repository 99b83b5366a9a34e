/**
 * Durations as users write them (`60` seconds, `'250ms'`, `'5m'`, `'300'`) and their one parser to milliseconds.
 * Hard parts: a bare number means seconds everywhere, and so does a string without a unit (`'300'`, what a
 * `ConfigService` returns for `CACHE_TTL=300`); a bad value is an `InvalidOptionError` naming the option; and a
 * bare number that looks like milliseconds (`ttl: 60_000`, the unit of @nestjs/cache-manager) is worth a warning
 * (`likelyMillisecondsWarning`), since it is a valid, if long, number of seconds.
 */
import { InvalidOptionError } from './errors.js';

/**
 * A duration: a number is **seconds** (`60`), a string carries its unit (`'250ms'`, `'30s'`, `'5m'`,
 * `'1h'`, `'1d'`) or none (`'60'`: seconds, as a number). `0` means "no time" (for a ttl: do not keep the entry
 * fresh at all).
 */
export type Duration = number | `${number}` | `${number}${DurationUnit}`;

/** The units a duration string may carry. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Readonly<Record<DurationUnit, number>> = Object.freeze({
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
});

/** A duration string: a non-negative decimal and an optional unit (none: seconds); surrounding spaces are trimmed. */
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;

/**
 * Parses a {@link Duration} into milliseconds; the one parser of the library.
 * @param option the option's name, used in the error message.
 * @throws InvalidOptionError naming `option` when the value is not a finite, non-negative duration.
 */
export function toMilliseconds(value: Duration | string, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(option, `expected a non-negative number of seconds, got ${String(value)}`);
    }
    return value * 1000;
  }
  if (typeof value === 'string') {
    const match = DURATION_RE.exec(value.trim());
    if (match !== null) return Number(match[1]) * UNIT_MS[(match[2] ?? 's') as DurationUnit];
  }
  throw new InvalidOptionError(
    option,
    `expected seconds as a number (or a string of digits) or a string such as '250ms', '30s', '5m', '1h', '1d'; got ${JSON.stringify(value) ?? String(value)}`,
  );
}

/** Like {@link toMilliseconds}, but `undefined` stays `undefined`. */
export function toOptionalMilliseconds(value: Duration | string | undefined, option: string): number | undefined {
  return value === undefined ? undefined : toMilliseconds(value, option);
}

/** Seconds above which a duration written without a unit is suspected of being milliseconds: 7 days. */
export const LIKELY_MILLISECONDS_ABOVE = 7 * 86_400;

/**
 * A warning for a duration written without a unit (a number, or a string of digits) that looks like milliseconds:
 * over 7 days, or a whole number of thousands from 10,000 up (`60000`, `300000`: the millisecond counts of
 * @nestjs/cache-manager and layercache). `undefined` for anything else (a unit, a plausible number of seconds,
 * a value that is not a duration at all: its check reports that).
 * @example likelyMillisecondsWarning(60000, 'ttl') // "ttl: 60000 is read as seconds (16.7 hours); write '60s' or 60 if you meant 60000 milliseconds, or give a unit ('16.7h') to silence this"
 */
export function likelyMillisecondsWarning(value: unknown, option: string): string | undefined {
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else if (typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(value)) seconds = Number(value);
  else return undefined;
  if (!Number.isFinite(seconds)) return undefined;
  const msShaped = seconds >= 10_000 && seconds % 1000 === 0;
  if (seconds <= LIKELY_MILLISECONDS_ABOVE && !msShaped) return undefined;
  const meant = seconds / 1000;
  const written = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return (
    `${option}: ${written} is read as seconds (${humanDuration(seconds)}); ` +
    `write '${meant}s' or ${meant} if you meant ${seconds} milliseconds, or give a unit ('${unitForm(seconds)}') to keep it and silence this warning`
  );
}

/** Warnings noted by objects built from options (a layer's `ttl`), until the stack they join logs them. */
const noted = new WeakMap<object, string[]>();

/**
 * Notes on `owner` (a layer, in its constructor) the {@link likelyMillisecondsWarning} of `value`, if any: the
 * stack that takes the layer logs it through its logger (`takeLikelyMillisecondsWarnings`), once.
 */
export function noteLikelyMilliseconds(owner: object, value: unknown, option: string): void {
  const warning = likelyMillisecondsWarning(value, option);
  if (warning === undefined) return;
  const list = noted.get(owner);
  if (list === undefined) noted.set(owner, [warning]);
  else list.push(warning);
}

/** The warnings noted on `owner`, forgotten as they are returned (a second stack given the same layer does not repeat them). */
export function takeLikelyMillisecondsWarnings(owner: object): readonly string[] {
  const list = noted.get(owner);
  if (list === undefined) return [];
  noted.delete(owner);
  return list;
}

/** `seconds` in the largest unit that keeps it readable: `16.7 hours`, `3.5 days`. */
function humanDuration(seconds: number): string {
  const [amount, unit] = seconds >= 86_400 ? [seconds / 86_400, 'day'] : seconds >= 3600 ? [seconds / 3600, 'hour'] : [seconds / 60, 'minute'];
  const rounded = Math.round(amount * 10) / 10;
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}

/** `seconds` as a duration string with a unit, exact: `'30d'`, `'1000m'`, `'60000s'`. */
function unitForm(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
