/**
 * Calendar boundaries in an IANA time zone: the instant a local day or local hour ends after a given instant,
 * for the calendar ttls `'until-midnight'` and `'next-hour'`.
 *
 * The rule, for both units: the boundary after `now` is the first instant at which the local wall clock reads the
 * start of the unit after the one `now` is in, or later. So a day lasts 23 or 25 hours across a clock change; a
 * midnight (or top of the hour) skipped by a clock change forward ends the unit at the first instant of the new
 * one (America/Santiago and Asia/Beirut move their clocks at midnight: the new day starts at 01:00); an hour
 * repeated by a clock change backward is not a new hour (the unit ends when the clock reaches the next hour,
 * up to 2 real hours later); offsets of :30 and :45 (Asia/Kolkata, Asia/Kathmandu) and Australia/Lord_Howe's
 * 30-minute shift follow from reading the wall clock. A boundary is always strictly after `now`.
 *
 * Hard part: the wall clock is read with `Intl.DateTimeFormat` (ICU's time-zone data, which Node ships), and
 * the offset is found by iteration: the instant whose wall clock reads the target is `target - offset`, where
 * the offset is the one in force at that instant. Two tries settle it unless the target falls in a gap (a clock
 * change forward skipped it); then the boundary is the change itself, found by bisection between the two
 * offsets' answers. Offsets change at whole seconds, so the wall clock is read at second precision.
 *
 * Why no library (Luxon, date-fns-tz, Temporal polyfill): the one question asked here is answered with ~100
 * lines over `Intl`, which already holds the zone data; a dependency would add weight to every install of a
 * cache library for it, and Luxon answers "start of the next day" with the same Intl reads underneath.
 */
import { InvalidOptionError } from './errors.js';

/**
 * A ttl that ends freshness at a calendar boundary in the entry's `timeZone`: the next local midnight
 * (`'until-midnight'`) or the next local top of the hour (`'next-hour'`).
 */
export type CalendarTtl = 'until-midnight' | 'next-hour';

/** Whether `value` is a {@link CalendarTtl}. */
export function isCalendarTtl(value: unknown): value is CalendarTtl {
  return value === 'until-midnight' || value === 'next-hour';
}

/** A calendar unit whose end a calendar ttl waits for. */
export type CalendarUnit = 'day' | 'hour';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** One formatter per zone (they are costly to build, cheap to reuse). */
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The canonical name of `zone` (an IANA name such as `'Europe/Paris'`, as `Intl` accepts it).
 * @throws InvalidOptionError naming `option` when `Intl` does not know the zone.
 */
export function checkTimeZone(zone: unknown, option: string): string {
  if (typeof zone !== 'string' || zone.trim() === '') {
    throw new InvalidOptionError(option, `expected an IANA time zone name such as 'Europe/Paris', got ${typeof zone === 'string' ? '""' : typeof zone}`);
  }
  try {
    return formatterOf(zone).resolvedOptions().timeZone;
  } catch {
    throw new InvalidOptionError(option, `unknown time zone ${JSON.stringify(zone)}; expected an IANA name such as 'Europe/Paris' or 'UTC'`);
  }
}

/** The process's time zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`, e.g. from `TZ`). */
export function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The first instant (ms) after `now` at which the local `unit` in `zone` has ended (see the file header). */
export function nextBoundary(now: number, zone: string, unit: CalendarUnit): number {
  const format = formatterOf(zone);
  const size = unit === 'day' ? DAY_MS : HOUR_MS;
  const offset1 = offsetAt(format, now);
  const target = Math.floor((now + offset1) / size) * size + size; // the next unit's start, in wall-clock ms
  const t1 = target - offset1;
  const offset2 = offsetAt(format, t1);
  if (offset2 === offset1) return t1;
  const t2 = target - offset2;
  if (offsetAt(format, t2) === offset2 && t2 > now) return t2;
  // The target is in a gap: the boundary is the clock change between the two answers (wall >= target from it on).
  let before = Math.min(t1, t2);
  let after = Math.max(t1, t2);
  if (before <= now) before = now;
  while (after - before > 1) {
    const mid = before + Math.floor((after - before) / 2);
    if (mid + offsetAt(format, mid) >= target) after = mid;
    else before = mid;
  }
  return after;
}

/** The wall clock's offset from UTC at `instant` (ms, a whole number of seconds). */
function offsetAt(format: Intl.DateTimeFormat, instant: number): number {
  const second = Math.floor(instant / 1000) * 1000;
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let sec = 0;
  for (const part of format.formatToParts(second)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value) % 24; // some ICU versions say 24 for midnight
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        sec = Number(part.value);
        break;
      default:
        break;
    }
  }
  return Date.UTC(year, month - 1, day, hour, minute, sec) - second;
}

function formatterOf(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  return format;
}
