/**
 * Checks and descriptions shared by the layers' option validators (MemoryLayer, DiskLayer): a positive integer, and
 * a short, safe description of a wrong value for the `InvalidOptionError` message (long strings cut, no objects dumped;
 * a string of digits where a count is expected says to convert it: counts are not parsed from strings, durations are).
 */
import { InvalidOptionError } from './errors.js';

/** `value` when it is a positive safe integer; else an `InvalidOptionError` naming `option` (e.g. `DiskLayer.maxFiles`). */
export function positiveInteger(option: string, value: unknown, unit: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `expected a positive integer number of ${unit}, got ${describeValue(value)}`);
  }
  return value;
}

/** A short description of an option's value for an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const text = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    // A count from a ConfigService or process.env: only durations read strings (docs/configuration.md).
    return /^\s*\d+(?:\.\d+)?\s*$/.test(value) ? `the string ${text} (convert it to a number: Number(value))` : text;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
