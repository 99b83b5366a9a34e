import { InvalidOptionError } from '../../lib/core/errors.js';
import { consoleLogger } from '../../lib/core/logger.js';
import { DEFAULT_MEMORY_LAYER_OPTIONS, MemoryLayer, type MemoryLayerOptions } from '../../lib/layers/memory.layer.js';
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
  function attached(options: MemoryLayerOptions = {}): { layer: MemoryLayer; clock: FakeClock } {
    const clock = new FakeClock();
    const layer = new MemoryLayer(options);
    layer.attach({ clock, logger: consoleLogger });
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

  it('evicts by maxBytes as measured by sizeOf', () => {
    const sizes: [unknown, string][] = [];
    const { layer, clock } = attached({
      maxBytes: 10,
      sizeOf: (value, key) => {
        sizes.push([value, key]);
        return (value as string).length;
      },
    });
    const now = clock.now();
    layer.set('a', makeEntry('1234', now), 60_000);
    layer.set('b', makeEntry('5678', now), 60_000);
    expect(layer.size).toBe(2);
    layer.set('c', makeEntry('9012', now), 60_000); // 12 bytes > 10: the oldest goes
    expect(layer.get('a')).toBeUndefined();
    expect(layer.getMany(['b', 'c']).map((entry) => entry?.value)).toEqual(['5678', '9012']);
    expect(sizes).toContainEqual(['1234', 'a']);
    layer.set('huge', makeEntry('x'.repeat(11), now), 60_000); // larger than the whole layer: not kept
    expect(layer.get('huge')).toBeUndefined();
    expect(layer.get('c')?.value).toBe('9012');
  });

  it('evicts by maxBytes with the default structural estimate', () => {
    // A 40-character string is estimated at 2 * 40 + 8 = 88 bytes: two do not fit in 150.
    const { layer, clock } = attached({ maxBytes: 150 });
    const now = clock.now();
    layer.set('a', makeEntry('a'.repeat(40), now), 60_000);
    expect(layer.get('a')).toBeDefined();
    layer.set('b', makeEntry('b'.repeat(40), now), 60_000);
    expect(layer.get('a')).toBeUndefined();
    expect(layer.get('b')).toBeDefined();
    // Small values fit many times over.
    for (let i = 0; i < 5; i++) layer.set(`n${i}`, makeEntry(i, now), 60_000);
    expect(layer.getMany(['n0', 'n4']).every((entry) => entry !== undefined)).toBe(true);
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
