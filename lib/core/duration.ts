/**
 * Durations as users write them (`60` seconds, `'250ms'`, `'5m'`) and their one parser to milliseconds.
 * Hard part: a bare number means seconds everywhere, and a bad value is an `InvalidOptionError` naming the option.
 */
import { InvalidOptionError } from './errors.js';

/**
 * A duration: a number is **seconds** (`60`), a string carries its unit (`'250ms'`, `'30s'`, `'5m'`,
 * `'1h'`, `'1d'`). `0` means "no time" (for a ttl: do not keep the entry fresh at all).
 */
export type Duration = number | `${number}${DurationUnit}`;

/** The units a duration string may carry. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Readonly<Record<DurationUnit, number>> = Object.freeze({
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
});

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

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
    if (match !== null) return Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  }
  throw new InvalidOptionError(
    option,
    `expected seconds as a number or a string such as '250ms', '30s', '5m', '1h', '1d'; got ${JSON.stringify(value)}`,
  );
}

/** Like {@link toMilliseconds}, but `undefined` stays `undefined`. */
export function toOptionalMilliseconds(value: Duration | string | undefined, option: string): number | undefined {
  return value === undefined ? undefined : toMilliseconds(value, option);
}
