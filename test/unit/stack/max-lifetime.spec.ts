/**
 * `maxLifetime` (docs/freshness.md, "Maximum lifetime") on the fake clock: every deadline of every entry the stack
 * builds (set, loads, refreshes, negative entries, calendar and function ttls, jitter, both stale windows, warm) is
 * capped at its write + maxLifetime (or an earlier base a writer gives); sliding and adaptive extensions stop there;
 * snapshots are capped on import; the option is checked (at least 1 s, unknown names suggested) and defaults to
 * 7 days; the warning is logged once per stack.
 */
import { jest } from '@jest/globals';
import type { CacheEntry } from '../../../lib/core/entry.js';
import { BurstLogger } from '../../../lib/core/logger.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { CacheStack } from '../../../lib/stack/cache-stack.js';
import { basePolicy, DEFAULT_CACHE_STACK_OPTIONS, resolvePolicy } from '../../../lib/stack/cache-stack.options.js';
import { EntryFactory } from '../../../lib/stack/entry-builder.js';
import { LifetimeCap } from '../../../lib/stack/max-lifetime.js';
import { FakeClock } from '../../support/fake-clock.js';
import { buildStack, buildTwoLayerStack, RecordingLogger } from '../../support/stack-builder.js';
import { invalidOptionError } from '../../support/option-error.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The deadlines of an entry relative to its createdAt (ms). */
function life(entry: CacheEntry | undefined) {
  if (entry === undefined) return undefined;
  return { fresh: entry.freshUntil - entry.createdAt, stale: entry.staleUntil - entry.createdAt, error: entry.errorUntil - entry.createdAt };
}


const lifetimeWarnings = (logger: RecordingLogger) => logger.lines.filter((line) => line.message.startsWith('maxLifetime:'));

describe('maxLifetime: the option', () => {
  it('defaults to 7 days: a 30-day entry is capped at 7 days in every layer, and expires then', async () => {
    expect(DEFAULT_CACHE_STACK_OPTIONS.maxLifetime).toBe('7d');
    const { stack, clock, l1, l2 } = buildTwoLayerStack();
    await stack.set('k', 'v', { ttl: '30d', staleIfError: '30d' });
    expect(life(l1.get('k'))).toEqual({ fresh: 7 * DAY, stale: 7 * DAY, error: 7 * DAY });
    expect(life(await l2.get('k'))).toEqual({ fresh: 7 * DAY, stale: 7 * DAY, error: 7 * DAY });
    await clock.advance(7 * DAY - 1);
    expect(await stack.get('k')).toBe('v');
    await clock.advance(1);
    expect(await stack.get('k')).toBeUndefined();
    // An entry within the lifetime is untouched.
    await stack.set('short', 'v', { ttl: '6d', staleWhileRevalidate: '12h' });
    expect(life(l1.get('short'))).toEqual({ fresh: 6 * DAY, stale: 6.5 * DAY, error: 6 * DAY });
  });

  it.each<[string, unknown]>([
    ['0', 0],
    ["'0s'", '0s'],
    ["'999ms'", '999ms'],
    ['0.5 (seconds)', 0.5],
    ['-1', -1],
    ["'7 days'", '7 days'],
    ['Infinity', Infinity],
    ['an object', { days: 7 }],
  ])('%s is an InvalidOptionError naming maxLifetime', (_label, value) => {
    const error = invalidOptionError(() => new CacheStack([new MemoryLayer()], { maxLifetime: value as never }));
    expect(error.option).toBe('maxLifetime');
  });

  it('accepts 1 s and more, as a number of seconds or a string with a unit', async () => {
    for (const [value, ms] of [[1, SECOND], ['1s', SECOND], ['1000ms', SECOND], ['12h', 12 * HOUR], [3600, HOUR], ['30d', 30 * DAY]] as const) {
      const { stack, l1 } = buildTwoLayerStack({ maxLifetime: value, ttl: '60d' });
      await stack.set('k', 'v');
      expect(life(l1.get('k'))?.fresh).toBe(ms);
    }
  });

  it('an unknown name near it is suggested; it is a stack option, not an entry option', async () => {
    const typo = invalidOptionError(() => new CacheStack([new MemoryLayer()], { maxLifetim: '1d' } as never));
    expect(typo.option).toBe('CacheStack.maxLifetim');
    expect(typo.message).toContain('did you mean "maxLifetime"?');
    const { stack } = buildStack([new MemoryLayer()]);
    await expect(stack.set('k', 1, { maxLifetime: '1d' } as never)).rejects.toMatchObject({ option: 'maxLifetime' });
  });

  it('a unitless value that looks like milliseconds is warned of at construction, like a ttl', () => {
    const { logger } = buildStack([new MemoryLayer()], { maxLifetime: 604_800_000 });
    expect(logger.lines.map((line) => line.message)).toEqual([expect.stringMatching(/^maxLifetime: 604800000 is read as seconds/)]);
    const quiet = buildStack([new MemoryLayer()], { maxLifetime: '30d' });
    expect(quiet.logger.lines).toEqual([]);
  });
});

describe('maxLifetime caps every deadline of every entry the stack builds', () => {
  it('set and setMany: fresh, stale-while-revalidate and stale-if-error windows', async () => {
    const { stack, l1, l2 } = buildTwoLayerStack({ maxLifetime: '2d' });
    await stack.set('a', 1, { ttl: '1h', staleWhileRevalidate: '10d', staleIfError: '20d' });
    await stack.setMany([
      { key: 'b', value: 2, options: { ttl: '3d' } },
      { key: 'c', value: 3, options: { ttl: '1d', staleIfError: '1d' } }, // exactly 2 days: not capped
    ]);
    expect(life(l1.get('a'))).toEqual({ fresh: HOUR, stale: 2 * DAY, error: 2 * DAY });
    expect(life(await l2.get('a'))).toEqual({ fresh: HOUR, stale: 2 * DAY, error: 2 * DAY });
    expect(life(l1.get('b'))).toEqual({ fresh: 2 * DAY, stale: 2 * DAY, error: 2 * DAY });
    expect(life(l1.get('c'))).toEqual({ fresh: DAY, stale: DAY, error: 2 * DAY });
  });

  it('loads, stale-while-revalidate refreshes and negative entries', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack({ maxLifetime: '90m', ttl: '1h', staleWhileRevalidate: '1h' });
    const loader = jest.fn(() => 'v');
    expect(await stack.get('k', loader)).toBe('v');
    expect(life(l1.get('k'))).toEqual({ fresh: HOUR, stale: 90 * MINUTE, error: HOUR });
    await clock.advance(61 * MINUTE);
    expect(await stack.getDetailed('k', loader)).toMatchObject({ status: 'stale' });
    await stack.idle();
    expect(loader).toHaveBeenCalledTimes(2);
    const refreshed = l1.get('k');
    expect(refreshed?.createdAt).toBe(clock.now());
    expect(life(refreshed)).toEqual({ fresh: HOUR, stale: 90 * MINUTE, error: HOUR });
    expect(await stack.get('missing', () => undefined, { negativeTtl: '30d' })).toBeUndefined();
    expect(life(l1.get('missing'))).toEqual({ fresh: 90 * MINUTE, stale: 90 * MINUTE, error: 90 * MINUTE });
  });

  it('calendar ttls, ttl functions and jitter', async () => {
    const { stack, l1 } = buildTwoLayerStack({ maxLifetime: '6h' }); // the clock starts at midnight UTC
    await stack.set('calendar', 1, { ttl: 'until-midnight', timeZone: 'UTC' });
    await stack.set('function', 2, { ttl: () => '30d' });
    for (let i = 0; i < 20; i++) await stack.set(`jitter${i}`, i, { ttl: '6h', ttlJitter: 0.5 });
    expect(life(l1.get('calendar'))?.fresh).toBe(6 * HOUR);
    expect(life(l1.get('function'))?.fresh).toBe(6 * HOUR);
    const jittered = Array.from({ length: 20 }, (_, i) => life(l1.get(`jitter${i}`))?.fresh ?? NaN);
    expect(Math.max(...jittered)).toBe(6 * HOUR); // about half were drawn above 6 h: capped
    expect(Math.min(...jittered)).toBeLessThan(6 * HOUR); // the others keep their jitter
  });

  it('warm() stores capped entries', async () => {
    const { stack, l1 } = buildTwoLayerStack({ maxLifetime: '1d' });
    const report = await stack.warm([{ key: 'w', loader: () => 'v', options: { ttl: '30d', staleWhileRevalidate: '1d' } }]);
    expect(report.loaded).toBe(1);
    expect(life(l1.get('w'))).toEqual({ fresh: DAY, stale: DAY, error: DAY });
  });

  it('an earlier base (when the tags were read, before the loader ran) moves the cap earlier; a later one counts as now', () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const entries = new EntryFactory(clock, new BurstLogger(logger), undefined, () => 0.5, new LifetimeCap(HOUR, logger));
    const policy = resolvePolicy({ ttl: '2h', staleIfError: '1h' }, basePolicy(60_000));
    const now = clock.now();
    const early = entries.build('k', 'k', 'v', policy, undefined, 1, now - 10 * MINUTE);
    expect(early).toMatchObject({ createdAt: now, freshUntil: now + 50 * MINUTE, staleUntil: now + 50 * MINUTE, errorUntil: now + 50 * MINUTE });
    const late = entries.build('k', 'k', 'v', policy, undefined, 1, now + 10 * MINUTE);
    expect(late).toMatchObject({ freshUntil: now + HOUR, errorUntil: now + HOUR });
    const byDefault = entries.build('k', 'k', 'v', policy, undefined, 1);
    expect(byDefault).toMatchObject({ freshUntil: now + HOUR, errorUntil: now + HOUR });
  });

  it('an entry capped only because of an earlier base is not warned of: its options fit the lifetime', () => {
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const entries = new EntryFactory(clock, new BurstLogger(logger), undefined, () => 0.5, new LifetimeCap(HOUR, logger));
    const policy = resolvePolicy({ ttl: '55m' }, basePolicy(60_000));
    const now = clock.now();
    expect(entries.build('k', 'k', 'v', policy, undefined, 1, now - 10 * MINUTE)).toMatchObject({ freshUntil: now + 50 * MINUTE });
    expect(logger.lines).toEqual([]);
    expect(entries.build('k', 'k', 'v', resolvePolicy({ ttl: '61m' }, basePolicy(60_000)), undefined, 1)).toMatchObject({ freshUntil: now + HOUR });
    expect(logger.lines.map((line) => line.message)).toEqual([expect.stringMatching(/^maxLifetime: the entry "k" .* reaching 1\.02 hours .* maxLifetime \(1 hour\)/)]);
  });
});

describe('maxLifetime caps read-time extensions', () => {
  it('sliding: freshUntil stops at createdAt + maxLifetime, and the stale windows do not move past it either', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ maxLifetime: '3h', slidingTtl: true, ttl: '1h', staleWhileRevalidate: '1h', staleIfError: '30m' });
    await stack.set('k', 'v');
    const createdAt = clock.now();
    expect(l1.get('k')?.freshness?.maxUntil).toBe(createdAt + 3 * HOUR); // the cap travels with the entry
    for (let i = 0; i < 4; i++) {
      await clock.advance(i < 3 ? 50 * MINUTE : 20 * MINUTE); // reads at 50, 100, 150 and 170 minutes
      expect(await stack.get('k')).toBe('v');
    }
    await stack.idle();
    // Without the cap: fresh until 3 h 50, stale until 4 h 50, error until 4 h 20.
    for (const entry of [l1.get('k'), await l2.get('k')]) {
      expect(entry).toMatchObject({ createdAt, freshUntil: createdAt + 3 * HOUR, staleUntil: createdAt + 3 * HOUR, errorUntil: createdAt + 3 * HOUR });
    }
    await clock.advance(10 * MINUTE);
    expect(await stack.get('k')).toBeUndefined(); // 3 h after the write: expired, however often it was read
  });

  it('sliding: the stale windows are capped as the extension reaches the lifetime, before freshUntil does', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack({ maxLifetime: '3h', slidingTtl: true, ttl: '1h', staleWhileRevalidate: '1h' });
    await stack.set('k', 'v');
    const createdAt = clock.now();
    await clock.advance(50 * MINUTE);
    await stack.get('k'); // fresh until 110 min, stale until 170 min: within the lifetime
    expect(l1.get('k')).toMatchObject({ freshUntil: createdAt + 110 * MINUTE, staleUntil: createdAt + 170 * MINUTE });
    await clock.advance(50 * MINUTE);
    await stack.get('k'); // fresh until 160 min; stale until 220 min without the cap
    expect(l1.get('k')).toMatchObject({ freshUntil: createdAt + 160 * MINUTE, staleUntil: createdAt + 3 * HOUR, errorUntil: createdAt + 160 * MINUTE });
  });

  it('sliding: maxTtl below maxLifetime still rules, and the stale window after it keeps its length', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack({ maxLifetime: '1d', slidingTtl: true, ttl: '1h', maxTtl: '2h', staleWhileRevalidate: '1h' });
    await stack.set('k', 'v');
    const createdAt = clock.now();
    expect(l1.get('k')?.freshness?.maxUntil).toBe(createdAt + 2 * HOUR);
    for (let i = 0; i < 2; i++) {
      await clock.advance(50 * MINUTE);
      await stack.get('k'); // the second read would reach 160 min: maxTtl stops it at 2 h
    }
    expect(life(l1.get('k'))).toEqual({ fresh: 2 * HOUR, stale: 3 * HOUR, error: 2 * HOUR });
  });

  it('sliding: an entry written without the cap (no maxUntil, long windows) stops growing at createdAt + maxLifetime', async () => {
    const { stack, clock, l1 } = buildTwoLayerStack({ maxLifetime: '2h' });
    const now = clock.now();
    const legacy: CacheEntry = {
      value: 'old',
      createdAt: now,
      freshUntil: now + HOUR,
      staleUntil: now + 4 * HOUR,
      errorUntil: now + HOUR,
      tags: undefined,
      tagVersions: undefined,
      version: 1,
      freshness: { ttl: HOUR, sliding: true, maxUntil: Infinity, refreshAhead: 0, adaptive: undefined },
    };
    l1.set('k', legacy, 4 * HOUR);
    await clock.advance(50 * MINUTE);
    expect(await stack.get('k')).toBe('old');
    // The stale window, already past the cap, is not moved (an extension never shortens a deadline either).
    expect(life(l1.get('k'))).toEqual({ fresh: 110 * MINUTE, stale: 4 * HOUR, error: 110 * MINUTE });
    await clock.advance(50 * MINUTE);
    await stack.get('k'); // would reach 160 min: capped at 2 h
    expect(life(l1.get('k'))).toEqual({ fresh: 2 * HOUR, stale: 4 * HOUR, error: 2 * HOUR });
  });

  it('adaptive: a raise never extends past the lifetime', async () => {
    const { stack, clock, l1, l2 } = buildTwoLayerStack({ maxLifetime: '1d', ttl: '1h', adaptiveTtl: { max: '30d', hits: 2, step: '10d' } });
    await stack.set('k', 'v');
    const createdAt = clock.now();
    await clock.advance(MINUTE);
    await stack.get('k');
    await stack.get('k'); // the second hit raises the level to 10 days and 1 hour
    await stack.idle();
    expect(l1.get('k')?.freshness?.ttl).toBe(10 * DAY + HOUR);
    expect(l1.get('k')?.freshUntil).toBe(createdAt + DAY);
    expect((await l2.get('k'))?.freshUntil).toBe(createdAt + DAY);
  });
});

describe('maxLifetime caps entries restored from a snapshot', () => {
  it('deadlines past createdAt + maxLifetime are capped on import; an entry older than it is dropped as expired', async () => {
    const clock = new FakeClock();
    const source = buildStack([new MemoryLayer()], { clock, maxLifetime: '30d' });
    await source.stack.set('old', 1, { ttl: '20d' });
    await clock.advance(8 * DAY);
    await source.stack.set('young', 2, { ttl: '20d', staleIfError: '5d', slidingTtl: true });
    const youngAt = clock.now();
    const bytes = (await source.stack.exportSnapshot()) as Buffer;
    const layer = new MemoryLayer();
    const target = buildStack([layer], { clock, maxLifetime: '7d' });
    expect(await target.stack.importSnapshot(bytes)).toEqual({ imported: 1, expired: 1, superseded: 0, skipped: 0 });
    expect(layer.get('old')).toBeUndefined();
    expect(layer.get('young')).toMatchObject({ createdAt: youngAt, freshUntil: youngAt + 7 * DAY, staleUntil: youngAt + 7 * DAY, errorUntil: youngAt + 7 * DAY, freshness: { maxUntil: youngAt + 7 * DAY } });
    await clock.advance(7 * DAY);
    expect(await target.stack.get('young')).toBeUndefined();
  });

  it('an entry within the lifetime is imported as it was exported', async () => {
    const clock = new FakeClock();
    const sourceLayer = new MemoryLayer();
    const source = buildStack([sourceLayer], { clock, maxLifetime: '7d' });
    await source.stack.set('k', 1, { ttl: '1d', slidingTtl: true });
    const layer = new MemoryLayer();
    const target = buildStack([layer], { clock, maxLifetime: '7d' });
    await target.stack.importSnapshot((await source.stack.exportSnapshot()) as Buffer);
    expect(layer.get('k')).toEqual(sourceLayer.get('k'));
    expect(life(layer.get('k'))).toEqual({ fresh: DAY, stale: DAY, error: DAY });
  });
});

describe('maxLifetime: the warning', () => {
  it('is logged once per stack, naming maxLifetime and the first capped key; uncapped and sliding entries warn nothing', async () => {
    const { stack, logger } = buildTwoLayerStack({ maxLifetime: '1d' });
    await stack.set('fits', 1, { ttl: '12h', staleWhileRevalidate: '12h' });
    await stack.set('slides', 1, { ttl: '1h', slidingTtl: true }); // only its extension limit is capped
    expect(lifetimeWarnings(logger)).toEqual([]);
    await stack.set('report:2026', 1, { ttl: '1h', staleIfError: '3d' });
    await stack.get('other', () => 2, { ttl: '30d' });
    await stack.namespace('tenant').set('third', 3, { ttl: '30d' });
    const warnings = lifetimeWarnings(logger);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe('warn');
    expect(warnings[0]?.message).toMatch(/^maxLifetime: the entry "report:2026" .* reaching 3\.04 days .* maxLifetime \(1 day\)/);
  });

  it('each stack warns once of its own', async () => {
    const a = buildStack([new MemoryLayer()], { maxLifetime: '1h' });
    const b = buildStack([new MemoryLayer()], { maxLifetime: '1h' });
    await a.stack.set('x', 1, { ttl: '2h' });
    await a.stack.set('y', 1, { ttl: '2h' });
    await b.stack.set('z', 1, { ttl: '2h' });
    expect(lifetimeWarnings(a.logger).map((line) => line.message)).toEqual([expect.stringContaining('"x"')]);
    expect(lifetimeWarnings(b.logger).map((line) => line.message)).toEqual([expect.stringContaining('"z"')]);
  });
});
