// The default size estimate of MemoryLayer: exact figures for the simple shapes, never a throw on odd values,
// shared references and cycles counted once, and a bounded walk whatever the value's shape.
import { estimateSize, MAX_NODES } from '../../lib/layers/estimate-size.js';

describe('estimateSize', () => {
  it('counts strings at 2 bytes a character, buffers and typed arrays at their byte length', () => {
    expect(estimateSize('')).toBe(16);
    expect(estimateSize('abc')).toBe(22);
    expect(estimateSize(Buffer.alloc(1000))).toBe(1016);
    expect(estimateSize(new Float64Array(10))).toBe(96);
    expect(estimateSize(new ArrayBuffer(64))).toBe(80);
    expect(estimateSize(new DataView(new ArrayBuffer(32)))).toBe(48);
    expect(estimateSize(42)).toBe(8);
    expect(estimateSize(true)).toBe(4);
    expect(estimateSize(2n ** 200n)).toBe(16);
    expect(estimateSize(undefined)).toBe(8);
    expect(estimateSize(null)).toBe(8);
  });

  it('sums the parts of objects, arrays, maps and sets', () => {
    // overhead 16 + one slot per child, then the children (and object keys at 2 bytes a character)
    expect(estimateSize({ ab: 'xyz' })).toBe(16 + 8 + 4 + 22);
    expect(estimateSize([1, 'a'])).toBe(16 + 16 + 8 + 18);
    expect(estimateSize(new Map([['k', 1]]))).toBe(16 + 8 + 18 + 8);
    expect(estimateSize(new Set([1, 2]))).toBe(16 + 16 + 16);
    expect(estimateSize({ at: new Date(0) })).toBe(16 + 8 + 4 + 24);
  });

  it('never throws on odd values', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    const map = new Map<unknown, unknown>();
    map.set(map, map);
    const throwing = Object.defineProperty({ a: 'x'.repeat(100) }, 'b', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    const odd: unknown[] = [
      cyclic,
      map,
      throwing,
      trap,
      Object.create(null),
      [Symbol('s'), () => 1, 10n ** 1000n],
      new WeakMap(),
      /re/g,
      Object.assign([1, 2], { extra: 'x' }),
      new Array(1000),
    ];
    for (const value of odd) {
      const size = estimateSize(value);
      expect(Number.isFinite(size)).toBe(true);
      expect(size).toBeGreaterThan(0);
    }
    // What was counted before a getter threw is kept: the 100-character string before it.
    expect(estimateSize(throwing)).toBeGreaterThanOrEqual(200);
    // A cycle ends at the second visit, counted as a reference.
    expect(estimateSize(cyclic)).toBe(16 + 16 + (8 + 24) + (8 + 8));
  });

  it('counts a shared object once', () => {
    const shared = { body: 'x'.repeat(10_000) };
    const one = estimateSize(shared);
    expect(estimateSize([shared, shared])).toBe(16 + 16 + one + 8);
  });

  it('stays cheap on a wide structure that refers to itself (no walk of every path)', () => {
    // Depth-bounded walks visit 30^depth paths here; each object is counted once instead.
    const wide: unknown[] = [];
    for (let i = 0; i < 30; i++) wide.push(wide);
    expect(estimateSize(wide)).toBe(16 + 30 * 8 + 30 * 8);
    expect(estimateSize({ a: wide, b: wide })).toBe(16 + 16 + 2 * 2 + 496 + 8);
  });

  it('visits at most MAX_NODES values and extrapolates the rest', () => {
    let reads = 0;
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) {
      Object.defineProperty(wide, `k${i}`, {
        enumerable: true,
        get() {
          reads++;
          return 'v';
        },
      });
    }
    const size = estimateSize(wide);
    expect(reads).toBeLessThanOrEqual(MAX_NODES);
    // Every property has the same shape (k0..k99999 vary in length, so the extrapolation is approximate).
    const exact = 16 + 100_000 * (8 + 18) + [...Array(100_000).keys()].reduce((sum, i) => sum + 2 * `k${i}`.length, 0);
    expect(size / exact).toBeGreaterThan(0.8);
    expect(size / exact).toBeLessThan(1.2);
  });

  it('extrapolates a long array of numbers to its full size', () => {
    const numbers = Array.from({ length: 1_000_000 }, (_, i) => i);
    expect(estimateSize(numbers)).toBe(16 + 8_000_000 + 8_000_000);
  });

  it('measures a large array of records from a sample, within 0.1% of the full walk', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `row-${i % 10}`, ok: true }));
    const perRow = 16 + 3 * 8 + (4 + 8) + (8 + 2 * 'row-0'.length + 16) + (4 + 4);
    const exact = 16 + 20_000 * 8 + 20_000 * perRow;
    const size = estimateSize(rows);
    expect(Number.isInteger(size)).toBe(true);
    expect(Math.abs(size - exact) / exact).toBeLessThan(0.001);
  });
});
