import { InvalidOptionError } from '../../lib/core/errors.js';
import { consoleLogger } from '../../lib/core/logger.js';
import { getHeapStatistics } from 'node:v8';
import { estimateSize } from '../../lib/layers/estimate-size.js';
import {
  DEFAULT_MEMORY_LAYER_OPTIONS,
  defaultMemoryMaxBytes,
  ENTRY_OVERHEAD_BYTES,
  MemoryLayer,
  type MemoryLayerOptions,
} from '../../lib/layers/memory.layer.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';

describeLayerContract('MemoryLayer', () => {
  const clock = new FakeClock();
  const layer = new MemoryLayer();
  layer.attach({ clock, logger: consoleLogger });
  return {
    layer,
    now: () => clock.now(),
    async expectLifetime(key, ttlMs, writtenAt) {
      expect(layer.get(key)).toBeDefined();
      await clock.advance(writtenAt + ttlMs - 1 - clock.now());
      expect(layer.get(key)).toBeDefined();
      await clock.advance(2);
      expect(layer.get(key)).toBeUndefined();
    },
  };
});

describe('MemoryLayer', () => {
  function attached(options: MemoryLayerOptions = {}, warnings?: string[]): { layer: MemoryLayer; clock: FakeClock } {
    const clock = new FakeClock();
    const layer = new MemoryLayer(options);
    const logger = warnings === undefined ? consoleLogger : { warn: (line: string) => void warnings.push(line), error: (line: string) => void warnings.push(line) };
    layer.attach({ clock, logger });
    return { layer, clock };
  }

  it('declares itself local and synchronous, with the default name', () => {
    const { layer } = attached();
    expect(layer.shared).toBe(false);
    expect(layer.synchronous).toBe(true);
    expect(layer.name).toBe(DEFAULT_MEMORY_LAYER_OPTIONS.name);
    expect(layer.ttl).toBeUndefined();
    expect(new MemoryLayer({ name: 'l1', ttl: '1.5s' })).toMatchObject({ name: 'l1', ttl: 1500 });
  });

  it('touch replaces the copy in place: same byte accounting, same recency bound, the new object returned', () => {
    const { layer, clock } = attached();
    const now = clock.now();
    const written = makeEntry({ list: [1, 2, 3], text: 'x'.repeat(500) }, now, { version: 3 });
    layer.set('k', written, 180_000);
    const bytes = layer.stats().bytes;
    const later = { ...written, freshUntil: written.freshUntil + 1_000, staleUntil: written.staleUntil + 1_000, errorUntil: written.errorUntil + 1_000 };
    expect(layer.touch('k', later, 181_000)).toBe(true);
    expect(layer.get('k')).toBe(later);
    expect(layer.stats()).toMatchObject({ bytes, entries: 1 });
    expect(layer.touch('k', { ...later, version: 4, freshUntil: later.freshUntil + 1 }, 181_000)).toBe(false);
    expect(layer.get('k')).toBe(later);
  });

  it('returns the stored object itself (no copy)', () => {
    const { layer, clock } = attached();
    const value = { list: [1, 2] };
    layer.set('k', makeEntry(value, clock.now()), 1000);
    expect(layer.get('k')?.value).toBe(value);
  });

  it('evicts the least recently used entry beyond maxSize', () => {
    const { layer, clock } = attached({ maxSize: 2 });
    const now = clock.now();
    layer.set('a', makeEntry('A', now), 60_000);
    layer.set('b', makeEntry('B', now), 60_000);
    expect(layer.get('a')?.value).toBe('A'); // a is now more recent than b
    layer.set('c', makeEntry('C', now), 60_000);
    expect(layer.size).toBe(2);
    expect(layer.get('b')).toBeUndefined();
    expect(layer.get('a')?.value).toBe('A');
    expect(layer.get('c')?.value).toBe('C');
  });

  it('evicts by maxBytes with the default estimate of key + envelope + value', () => {
    // 'a'.repeat(40) is estimated at 2 * 40 + 16 = 96 bytes; with the envelope and the 1-character key,
    // ENTRY_OVERHEAD_BYTES + 2 + 96 = 290 bytes: two fit in 600, a third evicts the least recently used.
    const { layer, clock } = attached({ maxBytes: 600, maxEntryBytes: 600 });
    const now = clock.now();
    const entryBytes = ENTRY_OVERHEAD_BYTES + 2 + 96;
    layer.set('a', makeEntry('a'.repeat(40), now), 60_000);
    expect(layer.bytes).toBe(entryBytes);
    layer.set('b', makeEntry('b'.repeat(40), now), 60_000);
    expect(layer.bytes).toBe(2 * entryBytes);
    layer.set('c', makeEntry('c'.repeat(40), now), 60_000);
    expect(layer.get('a')).toBeUndefined();
    expect(layer.getMany(['b', 'c']).map((entry) => entry?.value)).toEqual(['b'.repeat(40), 'c'.repeat(40)]);
    expect(layer.stats()).toMatchObject({ entries: 2, bytes: 2 * entryBytes, evictions: 1, oversized: 0 });
  });

  describe('bounded in bytes', () => {
    /** 100 value bytes under a 1-character key: ENTRY_OVERHEAD_BYTES + 2 + 100. */
    const UNIT = ENTRY_OVERHEAD_BYTES + 2 + 100;
    const hundred = (): number => 100;

    it('evicts the least recently used entries, in order, to stay under maxBytes', () => {
      const { layer, clock } = attached({ maxBytes: 3 * UNIT, maxEntryBytes: 3 * UNIT, sizeOf: hundred });
      const now = clock.now();
      for (const key of ['a', 'b', 'c']) layer.set(key, makeEntry(key, now), 60_000);
      expect(layer.stats()).toMatchObject({ entries: 3, bytes: 3 * UNIT, evictions: 0 });
      expect(layer.get('a')?.value).toBe('a'); // order of use, oldest first: b, c, a
      layer.set('d', makeEntry('d', now), 60_000);
      expect(layer.getMany(['a', 'b', 'c', 'd']).map((entry) => entry?.value)).toEqual(['a', undefined, 'c', 'd']);
      layer.set('e', makeEntry('e', now), 60_000); // now a, c, d were used in that order: a goes
      expect(layer.getMany(['a', 'c', 'd', 'e']).map((entry) => entry?.value)).toEqual([undefined, 'c', 'd', 'e']);
      expect(layer.stats()).toMatchObject({ entries: 3, bytes: 3 * UNIT, evictions: 2, oversized: 0 });
    });

    it('makes room for one large entry by evicting as many small ones as needed', () => {
      const sizes: Record<string, number> = { a: 100, b: 100, c: 100, big: 2 * UNIT - ENTRY_OVERHEAD_BYTES - 6 };
      const { layer, clock } = attached({ maxBytes: 3 * UNIT, maxEntryBytes: 3 * UNIT, sizeOf: (_value, key) => sizes[key] as number });
      const now = clock.now();
      for (const key of ['a', 'b', 'c']) layer.set(key, makeEntry(key, now), 60_000);
      layer.set('big', makeEntry('big', now), 60_000); // 2 * UNIT bytes: a and b go, c stays
      expect(layer.getMany(['a', 'b', 'c', 'big']).map((entry) => entry?.value)).toEqual([undefined, undefined, 'c', 'big']);
      expect(layer.stats()).toMatchObject({ entries: 2, bytes: 3 * UNIT, evictions: 2 });
    });

    it('keeps the byte count exact through replace, delete, clear and close', () => {
      const { layer, clock } = attached({ maxBytes: 10 * UNIT, sizeOf: (value) => (value as string).length });
      const now = clock.now();
      layer.set('a', makeEntry('x'.repeat(100), now), 60_000);
      layer.set('b', makeEntry('x'.repeat(50), now), 60_000);
      expect(layer.bytes).toBe(UNIT + UNIT - 50);
      layer.set('a', makeEntry('x'.repeat(10), now), 60_000); // replaced: the old size is released
      expect(layer.bytes).toBe(UNIT - 90 + UNIT - 50);
      layer.delete(['b']);
      expect(layer.bytes).toBe(UNIT - 90);
      layer.set('p:1', makeEntry('', now), 60_000);
      layer.clear('p:');
      expect(layer.bytes).toBe(UNIT - 90);
      layer.clear(undefined);
      expect(layer.stats()).toMatchObject({ entries: 0, bytes: 0, evictions: 0 });
    });

    it('counts the key and the tags of each entry', () => {
      const { layer, clock } = attached({ sizeOf: () => 0 });
      layer.set('0123456789', makeEntry(1, clock.now(), { tags: ['ab', 'c'] }), 60_000);
      expect(layer.bytes).toBe(ENTRY_OVERHEAD_BYTES + 20 + (4 + 24) + (2 + 24));
    });

    it('refuses an entry over maxEntryBytes: not kept, the older copy of its key dropped, counted, logged once', () => {
      const warnings: string[] = [];
      const { layer, clock } = attached({ maxBytes: 10 * UNIT, maxEntryBytes: UNIT, sizeOf: (value) => (value as string).length }, warnings);
      const now = clock.now();
      layer.set('k', makeEntry('x'.repeat(100), now), 60_000); // exactly maxEntryBytes: kept
      layer.set('o', makeEntry('x'.repeat(10), now), 60_000);
      expect(layer.get('k')).toBeDefined();
      layer.set('k', makeEntry('x'.repeat(101), now), 60_000); // one byte over: refused, the old copy goes too
      expect(layer.get('k')).toBeUndefined();
      expect(layer.get('o')).toBeDefined();
      layer.setMany([{ key: 'm', entry: makeEntry('x'.repeat(5000), now), ttlMs: 60_000 }]);
      expect(layer.get('m')).toBeUndefined();
      expect(layer.stats()).toMatchObject({ entries: 1, bytes: UNIT - 90, evictions: 0, oversized: 2 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/"memory".*about 295 bytes.*"k".*maxEntryBytes \(294\)/);
    });

    it('refuses an entry larger than the whole budget without evicting anything', () => {
      const { layer, clock } = attached({ maxBytes: 2 * UNIT, maxEntryBytes: 2 * UNIT, sizeOf: (value) => (value as string).length }, []);
      const now = clock.now();
      layer.set('a', makeEntry('x'.repeat(100), now), 60_000);
      layer.set('b', makeEntry('x'.repeat(100), now), 60_000);
      layer.set('c', makeEntry('x'.repeat(2 * UNIT), now), 60_000);
      expect(layer.getMany(['a', 'b', 'c']).map((entry) => entry !== undefined)).toEqual([true, true, false]);
      expect(layer.stats()).toMatchObject({ entries: 2, evictions: 0, oversized: 1 });
    });

    it('leaves a newer held copy alone when an older, oversized entry comes with ifNewer', () => {
      const { layer, clock } = attached({ maxBytes: 10 * UNIT, maxEntryBytes: UNIT, sizeOf: (value) => (value as string).length }, []);
      const now = clock.now();
      layer.set('k', makeEntry('new', now, { version: 2 }), 60_000);
      layer.set('k', makeEntry('x'.repeat(500), now, { version: 1 }), 60_000, true);
      expect(layer.get('k')?.value).toBe('new');
      expect(layer.stats().oversized).toBe(0);
      layer.set('k', makeEntry('x'.repeat(500), now, { version: 3 }), 60_000, true); // newer but too large: the old copy goes
      expect(layer.get('k')).toBeUndefined();
      expect(layer.stats().oversized).toBe(1);
    });

    it('counts entries evicted by maxSize as evictions too', () => {
      const { layer, clock } = attached({ maxSize: 1 });
      layer.set('a', makeEntry('A', clock.now()), 60_000);
      layer.set('b', makeEntry('B', clock.now()), 60_000);
      expect(layer.stats()).toMatchObject({ entries: 1, evictions: 1 });
    });

    it('falls back to the built-in estimate when sizeOf throws or returns a non-size, logging once', () => {
      const warnings: string[] = [];
      const answers: unknown[] = [Number.NaN, -1, 'big', Number.POSITIVE_INFINITY];
      const { layer, clock } = attached(
        {
          sizeOf: () => {
            if (answers.length === 0) throw new Error('boom');
            return answers.shift() as number;
          },
        },
        warnings,
      );
      for (let i = 0; i < 5; i++) layer.set(`k${i}`, makeEntry('abc', clock.now()), 60_000);
      expect(layer.stats()).toMatchObject({ entries: 5, bytes: 5 * (ENTRY_OVERHEAD_BYTES + 4 + estimateSize('abc')) });
      expect(warnings).toEqual([expect.stringMatching(/sizeOf returned NaN; the built-in estimate is used instead/)]);
    });

    it('defaults to 64 MiB or 1/8 of the heap limit, whichever is smaller, and maxEntryBytes to 1/8 of that', () => {
      const expected = Math.min(64 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 8));
      expect(defaultMemoryMaxBytes()).toBe(expected);
      expect(DEFAULT_MEMORY_LAYER_OPTIONS.maxBytes).toBe(expected);
      expect(new MemoryLayer().stats()).toEqual({
        entries: 0,
        bytes: 0,
        maxBytes: expected,
        maxEntryBytes: Math.floor(expected / 8),
        evictions: 0,
        oversized: 0,
      });
      expect(new MemoryLayer({ maxBytes: 1000 })).toMatchObject({ maxBytes: 1000, maxEntryBytes: 125 });
    });

    it('bounds the default layer: 1 MB strings under distinct keys never take it past its budget', () => {
      const { layer, clock } = attached();
      for (let i = 0; i < 400; i++) layer.set(`?u=${i}`, makeEntry(String(i).padEnd(1_000_000, 'x'), clock.now()), 60_000);
      const { bytes, entries, maxBytes, evictions } = layer.stats();
      // Each entry is estimated at about 2 MB (2 bytes a character): the budget holds maxBytes / 2 MB of them.
      const perEntry = ENTRY_OVERHEAD_BYTES + 2_000_016 + 2 * '?u=399'.length;
      expect(bytes).toBeLessThanOrEqual(maxBytes);
      expect(entries).toBe(Math.floor(maxBytes / perEntry));
      expect(evictions).toBe(400 - entries);
      expect(layer.get('?u=399')).toBeDefined();
      expect(layer.get('?u=0')).toBeUndefined();
    });
  });

  it('exposes its ttl cap in ms and keeps a copy for the ttl it is given (the stack applies the cap)', async () => {
    const { layer, clock } = attached({ ttl: 10 });
    expect(layer.ttl).toBe(10_000);
    layer.set('k', makeEntry('v', clock.now()), 20_000);
    await clock.advance(15_000);
    expect(layer.get('k')).toBeDefined();
  });

  it('clears everything and empties on close', () => {
    const { layer, clock } = attached();
    layer.set('a', makeEntry('A', clock.now()), 1000);
    layer.close();
    expect(layer.size).toBe(0);
  });

  describe('rejects invalid options, naming the option', () => {
    const cases: [string, MemoryLayerOptions][] = [
      ['MemoryLayer.maxSize', { maxSize: 0 }],
      ['MemoryLayer.maxSize', { maxSize: 1.5 }],
      ['MemoryLayer.maxSize', { maxSize: Number.NaN }],
      ['MemoryLayer.maxBytes', { maxBytes: 0 }],
      ['MemoryLayer.maxBytes', { maxBytes: -5 }],
      ['MemoryLayer.maxBytes', { maxBytes: Number.NaN }],
      ['MemoryLayer.maxBytes', { maxBytes: 1.5 }],
      ['MemoryLayer.maxBytes', { maxBytes: Number.POSITIVE_INFINITY }],
      ['MemoryLayer.maxBytes', { maxBytes: '64mb' as unknown as number }],
      ['MemoryLayer.maxBytes', { maxBytes: null as unknown as number }],
      ['MemoryLayer.maxEntryBytes', { maxEntryBytes: 0 }],
      ['MemoryLayer.maxEntryBytes', { maxEntryBytes: Number.NaN }],
      ['MemoryLayer.maxEntryBytes', { maxBytes: 100, maxEntryBytes: 101 }],
      ['MemoryLayer.maxEntryBytes', { maxEntryBytes: '1kb' as unknown as number }],
      ['MemoryLayer.maxEntries', { maxEntries: 10 } as unknown as MemoryLayerOptions],
      ['MemoryLayer.name', { name: '' }],
      ['MemoryLayer', null as unknown as MemoryLayerOptions],
      ['MemoryLayer.sizeOf', { maxBytes: 10, sizeOf: 'length' as unknown as () => number }],
      ['MemoryLayer.ttl', { ttl: 0 }],
      ['MemoryLayer.ttl', { ttl: -1 }],
      ['MemoryLayer.ttl', { ttl: '5 weeks' as unknown as number }],
    ];
    it.each(cases)('%s in %p', (option, options) => {
      let error: unknown;
      try {
        new MemoryLayer(options);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: 'INVALID_OPTION', option });
      expect((error as Error).message).toContain(option);
    });
  });
});
