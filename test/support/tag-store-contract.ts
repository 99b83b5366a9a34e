/**
 * The shared contract suite of `TagStore`, run against `MemoryTagStore` and `RedisTagStore`: per-tag versions, "any"
 * and "all" invalidations, records kept `keepMs` and then gone, generations.
 */
import { groupKey, type TagState, type TagStore } from '../../lib/core/tag-store.js';

/** What a tag store under test brings to {@link describeTagStoreContract}. */
export interface TagStoreHarness {
  /** A fresh store: nothing invalidated. */
  readonly store: TagStore;
  /** A second store over the same state (another process's view), when the store is shared. */
  peer?(): TagStore;
  /** Lets `ms` pass for the store (a fake clock, or real time for a real server). */
  elapse(ms: number): Promise<void>;
  /** Releases what setup created; called after each test. */
  teardown?(): Promise<void>;
}

/** How long the suite keeps records (short: one test lets them expire). */
const KEEP = 60_000;

/** The semantics of `TagStore` (lib/core/tag-store.ts), run by the spec of every store. */
export function describeTagStoreContract(title: string, setup: () => TagStoreHarness | Promise<TagStoreHarness>, shortKeepMs = 300): void {
  describe(`${title} (tag store contract)`, () => {
    let h: TagStoreHarness;
    let store: TagStore;

    beforeEach(async () => {
      h = await setup();
      store = h.store;
    });

    afterEach(async () => {
      await h.teardown?.();
    });

    const fetch = async (tags: string[], from: TagStore = store): Promise<(TagState | undefined)[]> => await from.fetch(tags);
    const invalidate = async (tags: string[], mode: 'any' | 'all', from: TagStore = store): Promise<number[]> => await from.invalidate(tags, mode, KEEP);

    it('keeps a generation per scope: 0 until bumped, +1 per bump, seen by a peer', async () => {
      const generations = store.generations?.bind(store);
      const bump = store.bumpGeneration?.bind(store);
      if (generations === undefined || bump === undefined) throw new Error('the store does not keep generations');
      expect(await generations(['', 'users\u001f'])).toEqual([0, 0]);
      expect(await bump('users\u001f', KEEP)).toBe(1);
      expect(await bump('users\u001f', KEEP)).toBe(2);
      expect(await bump('', KEEP)).toBe(1);
      expect(await generations(['users\u001f', '', 'other\u001f'])).toEqual([2, 1, 0]);
      expect(await generations([])).toEqual([]);
      const peer = h.peer?.();
      if (peer !== undefined) expect(await peer.generations?.(['users\u001f'])).toEqual([2]);
    });

    it('has no record for a tag never invalidated', async () => {
      expect(await fetch(['a', 'b'])).toEqual([undefined, undefined]);
      expect(await fetch([])).toEqual([]);
    });

    it('gives every invalidation of a tag a greater version, in either mode, near the clock in µs', async () => {
      const before = Date.now() * 1000;
      const taken: number[] = [];
      for (let i = 0; i < 5; i++) taken.push(...(await invalidate(['a'], i % 2 === 0 ? 'any' : 'all')));
      taken.push(...(await invalidate(['a', 'b'], 'all')));
      for (let i = 1; i < taken.length; i++) expect(taken[i]).toBeGreaterThan(taken[i - 1] as number);
      // Versions are µs of the store's clock (the Redis server's, on this host: the same clock).
      expect(taken[0]).toBeGreaterThan(before - 5_000_000);
      expect(taken[0]).toBeLessThan(Date.now() * 1000 + 5_000_000);
    });

    it('"any" records a version per tag, returned in the order of the tags, without groups', async () => {
      const [other] = await invalidate(['other'], 'any');
      const versions = await invalidate(['user:1', 'users'], 'any');
      expect(versions).toHaveLength(2);
      const [user, users, never] = await fetch(['user:1', 'users', 'never']);
      expect(user).toEqual({ version: versions[0], any: versions[0], groups: undefined });
      expect(users).toEqual({ version: versions[1], any: versions[1], groups: undefined });
      expect(never).toBeUndefined();
      expect((await fetch(['other']))[0]).toEqual({ version: other, any: other, groups: undefined });
    });

    it('fetch answers in the order asked, repeats included', async () => {
      const [a] = await invalidate(['a'], 'any');
      const [b] = await invalidate(['b'], 'any');
      expect((await fetch(['b', 'missing', 'a', 'b'])).map((state) => state?.any)).toEqual([b, undefined, a, b]);
    });

    it('"all" records the sorted group on its first tag only, and moves that tag\'s version', async () => {
      const versions = await invalidate(['shop', 'books', 'eu'], 'all');
      expect(versions).toHaveLength(1);
      const version = versions[0] as number;
      const key = groupKey(['books', 'eu', 'shop']);
      expect(key).toBe('books\u001feu\u001fshop');
      const [books, eu, shop] = await fetch(['books', 'eu', 'shop']);
      expect(books).toEqual({ version, any: 0, groups: new Map([[key, { tags: ['books', 'eu', 'shop'], version }]]) });
      expect(eu).toBeUndefined();
      expect(shop).toBeUndefined();
    });

    it('"all" de-duplicates its tags; with a single tag it is "any"', async () => {
      const [group] = await invalidate(['b', 'a', 'b'], 'all');
      expect((await fetch(['a']))[0]?.groups).toEqual(new Map([['a\u001fb', { tags: ['a', 'b'], version: group }]]));
      const [solo] = await invalidate(['solo'], 'all');
      expect(await fetch(['solo'])).toEqual([{ version: solo, any: solo, groups: undefined }]);
      const [again] = await invalidate(['solo', 'solo'], 'all');
      expect(await fetch(['solo'])).toEqual([{ version: again, any: again, groups: undefined }]);
    });

    it('keeps the groups of a tag when it is invalidated alone, and its own "any" across groups', async () => {
      const [group1] = await invalidate(['a', 'b'], 'all');
      const [alone] = await invalidate(['a'], 'any');
      expect(await fetch(['a'])).toEqual([{ version: alone, any: alone, groups: new Map([['a\u001fb', { tags: ['a', 'b'], version: group1 }]]) }]);
      const [group2] = await invalidate(['a', 'c'], 'all');
      const [group1Again] = await invalidate(['b', 'a'], 'all');
      const [a] = await fetch(['a']);
      expect(a?.any).toBe(alone);
      expect(a?.version).toBe(group1Again);
      expect(a?.groups).toEqual(
        new Map([
          ['a\u001fb', { tags: ['a', 'b'], version: group1Again }],
          ['a\u001fc', { tags: ['a', 'c'], version: group2 }],
        ]),
      );
      expect(group1Again).toBeGreaterThan(group1 as number);
    });

    it('an empty invalidation writes nothing', async () => {
      expect(await invalidate([], 'any')).toEqual([]);
      expect(await invalidate([], 'all')).toEqual([]);
    });

    it('a state already fetched does not change under its holder', async () => {
      const [first] = await invalidate(['a'], 'any');
      const [group] = await invalidate(['a', 'z'], 'all');
      const [before] = await fetch(['a']);
      await invalidate(['a'], 'any');
      await invalidate(['a', 'y'], 'all');
      await invalidate(['a', 'z'], 'all');
      expect(before).toEqual({ version: group, any: first, groups: new Map([['a\u001fz', { tags: ['a', 'z'], version: group }]]) });
    });

    it('forgets a record keepMs after its last invalidation; a later one still gets a greater version', async () => {
      const [first] = await store.invalidate(['gone'], 'any', shortKeepMs);
      await store.invalidate(['stays'], 'any', 100 * shortKeepMs);
      await h.elapse(shortKeepMs / 2);
      const [second] = await store.invalidate(['gone'], 'any', shortKeepMs); // renews the record
      await h.elapse(shortKeepMs * 0.75);
      expect((await fetch(['gone']))[0]?.any).toBe(second);
      await h.elapse(shortKeepMs * 0.5 + 50);
      expect(await fetch(['gone', 'stays'])).toEqual([undefined, expect.objectContaining({ any: expect.any(Number) })]);
      const [third] = await store.invalidate(['gone'], 'any', shortKeepMs);
      expect(third).toBeGreaterThan(second as number);
      expect(second).toBeGreaterThan(first as number);
    });

    it('drops the groups of a tag older than keepMs when it records a new one', async () => {
      await store.invalidate(['a', 'old'], 'all', KEEP); // the record itself is kept long
      await h.elapse(shortKeepMs + 50);
      const [recent] = await store.invalidate(['a', 'new'], 'all', shortKeepMs); // groups older than this keep go
      expect([...((await fetch(['a']))[0]?.groups?.keys() ?? [])]).toEqual(['a\u001fnew']);
      expect(recent).toBeGreaterThan(0);
    });

    it('a peer over the same state sees every invalidation (shared stores)', async () => {
      if (h.peer === undefined) {
        expect(store.shared).toBe(false);
        return;
      }
      expect(store.shared).toBe(true);
      const peer = h.peer();
      const [version] = await invalidate(['a'], 'any');
      expect(await fetch(['a'], peer)).toEqual([{ version, any: version, groups: undefined }]);
      const [peerVersion] = await invalidate(['a', 'b'], 'all', peer);
      expect(peerVersion).toBeGreaterThan(version as number);
      expect((await fetch(['a']))[0]?.groups?.get('a\u001fb')?.version).toBe(peerVersion);
    });
  });
}
