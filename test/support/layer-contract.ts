/**
 * The shared contract suite of `CacheLayer`: run against `MemoryLayer` and `RedisLayer` (single Redis and Cluster)
 * so every layer answers get/set/delete/clear/findKeys/touch alike.
 */
import type { CacheEntry, EntryFreshness } from '../../lib/core/entry.js';
import type { CacheLayer } from '../../lib/core/layer.js';

/** What a layer under test brings to {@link describeLayerContract}. */
export interface LayerHarness {
  /** A fresh, empty layer (or one isolated from every other test, e.g. by a unique Redis prefix). */
  readonly layer: CacheLayer;
  /** The current wall-clock time in ms, for building envelopes. */
  now(): number;
  /**
   * Asserts that the copy under `key`, written at `writtenAt` (from {@link LayerHarness.now}) with `ttlMs`,
   * is there now and lives at most `ttlMs` (memory: by moving a fake clock to just before and just after the
   * deadline; Redis: PTTL within (0, ttlMs]). May move the harness's clock.
   */
  expectLifetime(key: string, ttlMs: number, writtenAt: number): Promise<void>;
  /** Releases what setup created; called after each test. */
  teardown?(): Promise<void>;
}

/**
 * What a layer declares it cannot do. `clearsByPrefix: false` (Memcached): instead of the findKeys and clear(prefix)
 * tests, the suite checks that the layer says so and has no `findKeys`; the stack's
 * clear by generation is tested with the stack.
 */
export interface LayerKind {
  readonly clearsByPrefix?: false;
}

/** Builds an envelope fresh for a minute from `now` (tags given without versions recorded version 0 each). */
export function makeEntry<T>(value: T, now: number, extra: Partial<CacheEntry<T>> = {}): CacheEntry<T> {
  return {
    value,
    createdAt: now,
    freshUntil: now + 60_000,
    staleUntil: now + 120_000,
    errorUntil: now + 180_000,
    tags: undefined,
    version: now * 1000,
    ...extra,
    tagVersions: extra.tagVersions ?? (extra.tags !== undefined && extra.tags.length > 0 ? extra.tags.map(() => 0) : undefined),
  };
}

/** A value with every type the design promises to keep across layers (docs/architecture.md, "Values"). */
export function everyTypeValue(): Record<string, unknown> {
  return {
    date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    map: new Map<unknown, unknown>([
      ['a', 1],
      [2, { nested: new Set(['x']) }],
    ]),
    set: new Set<unknown>([1, 'two', null]),
    bigint: 2n ** 70n,
    negativeBigint: -(2n ** 64n) - 1n,
    buffer: Buffer.from('buffer bytes'),
    uint8: new Uint8Array([0, 1, 254, 255]),
    objectWithUndefined: { present: 1, missing: undefined },
    arrayWithUndefined: [1, undefined, 3],
    nan: Number.NaN,
    infinity: Number.POSITIVE_INFINITY,
    negativeInfinity: Number.NEGATIVE_INFINITY,
    nil: null,
    text: 'unicode ✓ ключ 🔑',
    nested: { deeper: { list: [new Date(0), { m: new Map([[1n, [undefined]]]) }] } },
    bool: false,
    float: 3.25,
  };
}

/**
 * The contract every layer passes (docs/development.md, "Test conventions"): one suite, run by the spec of each layer.
 * `setup` runs before each test; keys are plain strings as the stack hands them over (namespaces joined
 * with U+001F).
 */
export function describeLayerContract(title: string, setup: () => LayerHarness | Promise<LayerHarness>, kind: LayerKind = {}): void {
  const byPrefix = kind.clearsByPrefix !== false;
  // Registered only for layers that clear by prefix; the others get the test below instead.
  const itByPrefix = (name: string, test: () => Promise<void>): void => {
    if (byPrefix) it(name, test);
  };
  describe(`${title} (layer contract)`, () => {
    let h: LayerHarness;
    let layer: CacheLayer;

    beforeEach(async () => {
      h = await setup();
      layer = h.layer;
    });

    afterEach(async () => {
      await h.teardown?.();
    });

    it('returns a stored envelope with every field', async () => {
      const now = h.now();
      const entry = makeEntry({ id: 1, name: 'Ada' }, now, { tags: ['user:1', 'users', 'ключ'], tagVersions: [42, 2 ** 52 + 1, 0] });
      await layer.set('user:1', entry, 60_000);
      const got = await layer.get('user:1');
      expect(got).toStrictEqual(entry);
      expect(got?.tags).toEqual(['user:1', 'users', 'ключ']);
      expect(got?.tagVersions).toEqual([42, 2 ** 52 + 1, 0]);
      expect(got?.staleUntil).toBe(now + 120_000);
    });

    it('with ifNewer, writes over no copy or an older one and keeps a copy at least as new (fencing)', async () => {
      const now = h.now();
      const at = (value: string, version: number) => makeEntry(value, now, { version });
      await layer.set('f', at('v5', 5_000), 60_000, true);
      expect((await layer.get('f'))?.value).toBe('v5');
      await layer.set('f', at('v4', 4_000), 60_000, true);
      await layer.set('f', at('v5-again', 5_000), 60_000, true);
      expect((await layer.get('f'))?.value).toBe('v5');
      await layer.set('f', at('v6', 6_000), 60_000, true);
      expect((await layer.get('f'))?.value).toBe('v6');
      await layer.set('f', at('plain', 1), 60_000);
      expect((await layer.get('f'))?.value).toBe('plain'); // without ifNewer, a write always wins
      await layer.setMany([
        { key: 'f', entry: at('bulk-old', 0), ttlMs: 60_000, ifNewer: true },
        { key: 'g', entry: at('bulk-new', 2), ttlMs: 60_000, ifNewer: true },
      ]);
      expect((await layer.get('f'))?.value).toBe('plain');
      expect((await layer.get('g'))?.value).toBe('bulk-new');
    });

    itByPrefix('findKeys lists the keys under a prefix whose rest matches a glob, never nested namespaces, and stops after limit + 1', async () => {
      const find = layer.findKeys?.bind(layer);
      if (find === undefined) throw new Error('the layer does not list keys');
      const now = h.now();
      for (const key of ['user:1', 'user:2', 'user:10', 'users', 'a.b', 'axb', 'ns\u001fuser:3']) await layer.set(key, makeEntry(key, now), 60_000);
      const sorted = async (found: string[] | Promise<string[]>) => [...(await found)].sort();
      expect(await sorted(find('user:', undefined, 100))).toEqual(['user:1', 'user:10', 'user:2']);
      expect(await sorted(find('user:', '?', 100))).toEqual(['user:1', 'user:2']);
      expect(await sorted(find('', '*', 100))).toEqual(['a.b', 'axb', 'user:1', 'user:10', 'user:2', 'users']);
      expect(await sorted(find('a', '.b', 100))).toEqual(['a.b']);
      expect(await sorted(find('ns\u001f', '*', 100))).toEqual(['ns\u001fuser:3']);
      expect((await find('user:', undefined, 1)).length).toBe(2);
    });

    if (!byPrefix) {
      it('declares that it cannot clear by prefix, and lists no keys', () => {
        expect(layer.clearsByPrefix).toBe(false);
        expect(layer.findKeys).toBeUndefined();
      });
    }

    it('keeps a negative entry (value undefined) apart from a miss, and null as a value', async () => {
      const now = h.now();
      await layer.set('none', makeEntry(undefined, now), 60_000);
      await layer.set('null', makeEntry(null, now), 60_000);
      const none = await layer.get('none');
      expect(none).toBeDefined();
      expect(none?.value).toBeUndefined();
      expect(none?.tags).toBeUndefined();
      expect((await layer.get('null'))?.value).toBeNull();
    });

    it('answers a miss with undefined', async () => {
      expect(await layer.get('never-written')).toBeUndefined();
    });

    it('overwrites on set', async () => {
      await layer.set('k', makeEntry('first', h.now()), 60_000);
      await layer.set('k', makeEntry('second', h.now()), 60_000);
      expect((await layer.get('k'))?.value).toBe('second');
    });

    it('getMany returns entries in order, with holes for misses', async () => {
      const now = h.now();
      await layer.set('a', makeEntry('A', now), 60_000);
      await layer.set('c', makeEntry('C', now), 60_000);
      const got = await layer.getMany(['a', 'b', 'c', 'a', 'missing']);
      expect(got.map((entry) => entry?.value)).toEqual(['A', undefined, 'C', 'A', undefined]);
      expect(got).toHaveLength(5);
      expect(1 in got).toBe(true);
      expect(await layer.getMany([])).toEqual([]);
    });

    it('setMany stores every item and overwrites existing ones', async () => {
      const now = h.now();
      await layer.set('x', makeEntry('old', now), 60_000);
      await layer.setMany([
        { key: 'x', entry: makeEntry('X', now), ttlMs: 60_000 },
        { key: 'y', entry: makeEntry('Y', now, { tags: ['t'], tagVersions: [7] }), ttlMs: 60_000 },
        { key: 'z', entry: makeEntry(3, now), ttlMs: 60_000 },
      ]);
      const got = await layer.getMany(['x', 'y', 'z']);
      expect(got.map((entry) => entry?.value)).toEqual(['X', 'Y', 3]);
      expect(got[1]?.tags).toEqual(['t']);
      expect(got[1]?.tagVersions).toEqual([7]);
      await layer.setMany([]);
    });

    it('deletes several keys at once and leaves the others', async () => {
      const now = h.now();
      await layer.setMany(['a', 'b', 'c'].map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      await layer.delete(['a', 'b', 'not-there']);
      expect(await layer.get('a')).toBeUndefined();
      expect(await layer.get('b')).toBeUndefined();
      expect((await layer.get('c'))?.value).toBe('c');
      await layer.delete([]);
      expect((await layer.get('c'))?.value).toBe('c');
    });

    itByPrefix('clear(prefix) removes that namespace only, not a longer namespace nor root keys', async () => {
      const now = h.now();
      const keys = ['a\u001f1', 'a\u001f2', 'ab\u001f1', 'a', 'a1', 'root', 'b\u001fa\u001f1'];
      await layer.setMany(keys.map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      await layer.clear('a\u001f');
      const got = await layer.getMany(keys);
      expect(got.map((entry) => entry?.value)).toEqual([undefined, undefined, 'ab\u001f1', 'a', 'a1', 'root', 'b\u001fa\u001f1']);
    });

    itByPrefix('clear(prefix) treats glob characters literally', async () => {
      const now = h.now();
      // Unescaped, the patterns `n*<US>*` and `n?[a]\<US>*` would also match `nX<US>1` and `nZa<US>1`.
      const keys = ['n*\u001f1', 'nX\u001f1', 'n?[a]\\\u001f1', 'nZa\u001f1'];
      await layer.setMany(keys.map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      await layer.clear('n*\u001f');
      await layer.clear('n?[a]\\\u001f');
      const got = await layer.getMany(keys);
      expect(got.map((entry) => entry?.value)).toEqual([undefined, 'nX\u001f1', undefined, 'nZa\u001f1']);
    });

    itByPrefix('clear(undefined) removes every entry of the layer', async () => {
      const now = h.now();
      const keys = ['a\u001f1', 'root', 'ключ 🔑', '\u001ehashed'];
      await layer.setMany(keys.map((key) => ({ key, entry: makeEntry(key, now), ttlMs: 60_000 })));
      await layer.clear(undefined);
      expect(await layer.getMany(keys)).toEqual([undefined, undefined, undefined, undefined]);
      await layer.set('after', makeEntry('after', now), 60_000);
      expect((await layer.get('after'))?.value).toBe('after');
    });

    it('touch extends a copy of the same version in place, only to a later deadline, for ttlMs more; nothing else', async () => {
      const touch = layer.touch?.bind(layer);
      if (touch === undefined) throw new Error(`${layer.name} has no touch`);
      const now = h.now();
      const freshness: EntryFreshness = { ttl: 60_000, sliding: true, maxUntil: now + 600_000, refreshAhead: 0, adaptive: { base: 60_000, max: 300_000, hits: 3, step: 30_000 } };
      const written = makeEntry({ id: 1, name: 'Ada' }, now, { version: 7_000, tags: ['user:1'], tagVersions: [3], freshness });
      await layer.set('s', written, 180_000);
      const moved = (by: number, extra: Partial<CacheEntry> = {}): CacheEntry => ({
        ...written,
        freshUntil: written.freshUntil + by,
        staleUntil: written.staleUntil + by,
        errorUntil: written.errorUntil + by,
        ...extra,
      });
      const later = moved(30_000, { freshness: { ...freshness, ttl: 90_000 } });
      expect(await touch('s', later, 210_000)).toBe(true);
      expect(await layer.get('s')).toStrictEqual(later);
      // Not to the same or an earlier deadline, not another version (a write that landed meanwhile), not a missing key.
      expect(await touch('s', moved(30_000), 210_000)).toBe(false);
      expect(await touch('s', written, 180_000)).toBe(false);
      expect(await touch('s', moved(60_000, { version: 8_000 }), 240_000)).toBe(false);
      expect(await touch('s', moved(60_000, { version: 6_000 }), 240_000)).toBe(false);
      expect(await touch('missing', later, 210_000)).toBe(false);
      expect(await layer.get('missing')).toBeUndefined();
      expect(await layer.get('s')).toStrictEqual(later);
      await h.expectLifetime('s', 210_000, now);
    });

    it('touch of a plain entry (no extension block) moves its deadlines only', async () => {
      const now = h.now();
      const written = makeEntry('plain', now, { version: 5 });
      await layer.set('p', written, 180_000);
      const later = { ...written, freshUntil: written.freshUntil + 1_000, staleUntil: written.staleUntil + 1_000, errorUntil: written.errorUntil + 1_000 };
      expect(await layer.touch?.('p', later, 181_000)).toBe(true);
      expect(await layer.get('p')).toStrictEqual(later);
    });

    it('keeps a copy for the ttl it was given (set)', async () => {
      const now = h.now();
      await layer.set('short', makeEntry('v', now), 30_000);
      await h.expectLifetime('short', 30_000, now);
    });

    it('keeps each copy for its own ttl (setMany)', async () => {
      const now = h.now();
      await layer.setMany([
        { key: 'long', entry: makeEntry('l', now), ttlMs: 90_000 },
        { key: 'short', entry: makeEntry('s', now), ttlMs: 20_000 },
      ]);
      await h.expectLifetime('short', 20_000, now);
      await h.expectLifetime('long', 90_000, now);
    });

    it('returns values of every supported type unchanged, with their constructors', async () => {
      const value = everyTypeValue();
      await layer.set('types', makeEntry(value, h.now()), 60_000);
      const got = (await layer.get('types'))?.value as Record<string, unknown>;
      expect(got).toStrictEqual(everyTypeValue());
      expect(got.date).toBeInstanceOf(Date);
      expect(got.map).toBeInstanceOf(Map);
      expect(got.set).toBeInstanceOf(Set);
      expect(typeof got.bigint).toBe('bigint');
      expect(Buffer.isBuffer(got.buffer)).toBe(true);
      expect(got.uint8).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(got.uint8)).toBe(false);
      expect('missing' in (got.objectWithUndefined as object)).toBe(true);
      expect(1 in (got.arrayWithUndefined as unknown[])).toBe(true);
      expect(got.nan).toBeNaN();
      expect(got.infinity).toBe(Number.POSITIVE_INFINITY);
      expect(got.negativeInfinity).toBe(Number.NEGATIVE_INFINITY);
    });

    it('returns scalars and arrays as top-level values', async () => {
      const now = h.now();
      const values: unknown[] = [0, -1.5, '', 'text', true, [1, 'two', null], 12n, new Date(1), Number.NaN];
      await layer.setMany(values.map((value, i) => ({ key: `scalar:${i}`, entry: makeEntry(value, now), ttlMs: 60_000 })));
      const got = await layer.getMany(values.map((_, i) => `scalar:${i}`));
      expect(got.map((entry) => entry?.value)).toStrictEqual(values);
    });
  });
}
