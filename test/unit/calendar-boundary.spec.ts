import { checkTimeZone, nextBoundary, processTimeZone, type CalendarUnit } from '../../lib/core/calendar-boundary.js';
import { InvalidOptionError } from '../../lib/core/errors.js';

const at = (iso: string) => Date.parse(iso);

/** [zone, unit, now (UTC), expected boundary (UTC), what it shows] */
const TABLE: [string, CalendarUnit, string, string, string][] = [
  ['UTC', 'day', '2026-01-01T10:15:00.000Z', '2026-01-02T00:00:00.000Z', 'a plain day'],
  ['UTC', 'hour', '2026-01-01T10:15:00.000Z', '2026-01-01T11:00:00.000Z', 'a plain hour'],
  ['UTC', 'day', '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z', 'exactly at midnight: the next one'],
  ['UTC', 'hour', '2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z', 'exactly at the top of the hour: the next one'],
  ['UTC', 'day', '2026-01-01T23:59:59.999Z', '2026-01-02T00:00:00.000Z', 'one ms before midnight'],
  ['Asia/Kolkata', 'day', '2026-03-10T12:00:00.000Z', '2026-03-10T18:30:00.000Z', '+05:30: local midnight is :30 UTC'],
  ['Asia/Kolkata', 'hour', '2026-03-10T12:00:00.000Z', '2026-03-10T12:30:00.000Z', '+05:30: local 17:30 -> 18:00'],
  ['Asia/Kathmandu', 'hour', '2026-03-10T12:00:00.000Z', '2026-03-10T12:15:00.000Z', '+05:45: local 17:45 -> 18:00'],
  ['Asia/Kathmandu', 'hour', '2026-03-10T12:15:00.000Z', '2026-03-10T13:15:00.000Z', '+05:45: exactly at local 18:00'],
  ['Asia/Kathmandu', 'day', '2026-03-10T12:00:00.000Z', '2026-03-10T18:15:00.000Z', '+05:45: local midnight'],
  ['Europe/Berlin', 'day', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 'a 23-hour day (clocks forward 02:00 -> 03:00)'],
  ['Europe/Berlin', 'hour', '2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', 'local 02:00 does not exist: the first instant of 03:00'],
  ['Europe/Berlin', 'day', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 'a 25-hour day (clocks back 03:00 -> 02:00)'],
  ['Europe/Berlin', 'hour', '2026-10-25T00:30:00.000Z', '2026-10-25T02:00:00.000Z', 'the repeated 02:00 hour is not a new hour'],
  ['America/Santiago', 'day', '2026-09-05T15:00:00.000Z', '2026-09-06T04:00:00.000Z', 'midnight skipped (00:00 -> 01:00): the first instant of the new day'],
  ['America/Santiago', 'day', '2026-04-04T03:00:00.000Z', '2026-04-05T04:00:00.000Z', 'a 25-hour day ending at the repeated 23:00 hour'],
  ['Asia/Beirut', 'day', '2026-03-28T12:00:00.000Z', '2026-03-28T22:00:00.000Z', 'midnight skipped in Beirut'],
  ['Australia/Lord_Howe', 'hour', '2026-10-03T15:15:00.000Z', '2026-10-03T15:30:00.000Z', '30-minute shift forward: 02:00 -> 02:30 at once'],
  ['Australia/Lord_Howe', 'hour', '2026-10-03T15:30:00.000Z', '2026-10-03T16:00:00.000Z', 'after the shift: 02:30 -> 03:00, half an hour'],
  ['Australia/Lord_Howe', 'hour', '2026-04-04T14:45:00.000Z', '2026-04-04T15:30:00.000Z', '30-minute shift back: 01:45 -> (01:30) -> 02:00'],
  ['Australia/Lord_Howe', 'day', '2026-06-01T00:00:00.000Z', '2026-06-01T13:30:00.000Z', '+10:30: local midnight'],
];

describe('nextBoundary (calendar ttls)', () => {
  it.each(TABLE)('%s %s after %s is %s: %s', (zone, unit, now, expected) => {
    expect(new Date(nextBoundary(at(now), zone, unit)).toISOString()).toBe(expected);
  });

  it('is strictly after now and stable within one unit (every write of the hour shares the boundary)', () => {
    const start = at('2026-03-29T00:00:00.000Z');
    for (let now = start; now < start + 3 * 3_600_000; now += 60_000) {
      const boundary = nextBoundary(now, 'Europe/Berlin', 'hour');
      expect(boundary).toBeGreaterThan(now);
      expect(nextBoundary(boundary - 1, 'Europe/Berlin', 'hour')).toBe(boundary);
    }
  });
});

describe('checkTimeZone', () => {
  it('accepts IANA names (canonicalised) and rejects others naming the option', () => {
    expect(checkTimeZone('Europe/Paris', 'timeZone')).toBe('Europe/Paris');
    expect(checkTimeZone('asia/tokyo', 'timeZone')).toBe('Asia/Tokyo');
    for (const bad of ['Mars/Olympus', '', 42, undefined]) {
      expect(() => checkTimeZone(bad, 'timeZone')).toThrow(InvalidOptionError);
      expect(() => checkTimeZone(bad, 'timeZone')).toThrow(/Invalid option "timeZone"/);
    }
  });

  it('the default is the process zone', () => {
    expect(processTimeZone()).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});
