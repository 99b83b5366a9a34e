/**
 * The shared contract suite of `TagStore`, run against `MemoryTagStore` and `RedisTagStore`: sequences, "any" and
 * "all" invalidations, generations.
 */
import { groupKey, type TagState, type TagStore } from '../../lib/core/tag-store.js';

/** What a tag store under test brings to {@link describeTagStoreContract}. */
export interface TagStoreHarness {
  /** A fresh store: sequence 0, nothing invalidated. */
  readonly store: TagStore;
  /** A second store over the same state (another process's view), when the store is shared. */
  peer?(): TagStore;
  /** Releases what setup created; called after each test. */
  teardown?(): Promise<void>;
}

/** The semantics of `TagStore` (lib/core/tag-store.ts), run by the spec of every store. */
export function describeTagStoreContract(title: string, setup: () => TagStoreHarness | Promise<TagStoreHarness>): void {
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

    it('keeps a generation per scope: 0 until bumped, +1 per bump, seen by a peer', async () => {
      const generations = store.generations?.bind(store);
      const bump = store.bumpGeneration?.bind(store);
      if (generations === undefined || bump === undefined) throw new Error('the store does not keep generations');
      expect(await generations(['', 'users\u001f'])).toEqual([0, 0]);
      expect(await bump('users\u001f')).toBe(1);
      expect(await bump('users\u001f')).toBe(2);
      expect(await bump('')).toBe(1);
      expect(await generations(['users\u001f', '', 'other\u001f'])).toEqual([2, 1, 0]);
      expect(await generations([])).toEqual([]);
      const peer = h.peer?.();
      if (peer !== undefined) expect(await peer.generations?.(['users\u001f'])).toEqual([2]);
    });

    it('starts at sequence 0 with no tag invalidated', async () => {
      expect(await store.snapshot()).toBe(0);
      expect(await fetch(['a', 'b'])).toEqual([undefined, undefined]);
      expect(await fetch([])).toEqual([]);
    });

    it('takes a new, greater sequence for every invalidation, in either mode', async () => {
      const taken: number[] = [];
      taken.push(await store.invalidate(['a'], 'any'));
      taken.push(await store.invalidate(['a', 'b'], 'all'));
      taken.push(await store.invalidate(['b'], 'all'));
      taken.push(await store.invalidate(['a', 'c'], 'any'));
      expect(taken).toEqual([1, 2, 3, 4]);
      expect(await store.snapshot()).toBe(4);
    });

    it('snapshot is the last sequence taken and does not move by itself', async () => {
      const seq = await store.invalidate(['x'], 'any');
      expect(await store.snapshot()).toBe(seq);
      expect(await store.snapshot()).toBe(seq);
      await store.fetch(['x']);
      expect(await store.snapshot()).toBe(seq);
    });

    it('"any" records the sequence on every tag, without groups', async () => {
      await store.invalidate(['other'], 'any');
      const seq = await store.invalidate(['user:1', 'users'], 'any');
      const [user, users, never] = await fetch(['user:1', 'users', 'never']);
      expect(user).toEqual({ seq, groups: undefined });
      expect(users).toEqual({ seq, groups: undefined });
      expect(never).toBeUndefined();
      expect((await fetch(['other']))[0]?.seq).toBe(seq - 1);
    });

    it('fetch answers in the order asked, repeats included', async () => {
      const a = await store.invalidate(['a'], 'any');
      const b = await store.invalidate(['b'], 'any');
      expect((await fetch(['b', 'missing', 'a', 'b'])).map((state) => state?.seq)).toEqual([b, undefined, a, b]);
    });

    it('"all" records the sorted group on its first tag only', async () => {
      const seq = await store.invalidate(['shop', 'books', 'eu'], 'all');
      const key = groupKey(['books', 'eu', 'shop']);
      expect(key).toBe('books\u001feu\u001fshop');
      const [books, eu, shop] = await fetch(['books', 'eu', 'shop']);
      expect(books?.seq).toBe(0);
      expect(books?.groups).toEqual(new Map([[key, { tags: ['books', 'eu', 'shop'], seq }]]));
      expect(eu).toBeUndefined();
      expect(shop).toBeUndefined();
    });

    it('"all" de-duplicates its tags', async () => {
      const seq = await store.invalidate(['b', 'a', 'b'], 'all');
      const [a] = await fetch(['a']);
      expect(a?.groups).toEqual(new Map([['a\u001fb', { tags: ['a', 'b'], seq }]]));
    });

    it('"all" with a single tag is "any"', async () => {
      const seq = await store.invalidate(['solo'], 'all');
      expect(await fetch(['solo'])).toEqual([{ seq, groups: undefined }]);
      const again = await store.invalidate(['solo', 'solo'], 'all');
      expect(await fetch(['solo'])).toEqual([{ seq: again, groups: undefined }]);
    });

    it('keeps the groups of a tag when it is invalidated alone, and its own sequence across groups', async () => {
      const group1 = await store.invalidate(['a', 'b'], 'all');
      const alone = await store.invalidate(['a'], 'any');
      expect(await fetch(['a'])).toEqual([{ seq: alone, groups: new Map([['a\u001fb', { tags: ['a', 'b'], seq: group1 }]]) }]);
      const group2 = await store.invalidate(['a', 'c'], 'all');
      const group1Again = await store.invalidate(['b', 'a'], 'all');
      const [a] = await fetch(['a']);
      expect(a?.seq).toBe(alone);
      expect(a?.groups).toEqual(
        new Map([
          ['a\u001fb', { tags: ['a', 'b'], seq: group1Again }],
          ['a\u001fc', { tags: ['a', 'c'], seq: group2 }],
        ]),
      );
      expect(group1Again).toBeGreaterThan(group1);
    });

    it('an empty invalidation takes no sequence', async () => {
      await store.invalidate(['a'], 'any');
      expect(await store.invalidate([], 'any')).toBe(1);
      expect(await store.invalidate([], 'all')).toBe(1);
      expect(await store.snapshot()).toBe(1);
    });

    it('a state already fetched does not change under its holder', async () => {
      const first = await store.invalidate(['a'], 'any');
      const group = await store.invalidate(['a', 'z'], 'all');
      const [before] = await fetch(['a']);
      await store.invalidate(['a'], 'any');
      await store.invalidate(['a', 'y'], 'all');
      await store.invalidate(['a', 'z'], 'all');
      expect(before).toEqual({ seq: first, groups: new Map([['a\u001fz', { tags: ['a', 'z'], seq: group }]]) });
    });

    it('a peer over the same state sees every invalidation (shared stores)', async () => {
      if (h.peer === undefined) {
        expect(store.shared).toBe(false);
        return;
      }
      expect(store.shared).toBe(true);
      const peer = h.peer();
      const seq = await store.invalidate(['a'], 'any');
      expect(await peer.snapshot()).toBe(seq);
      expect(await fetch(['a'], peer)).toEqual([{ seq, groups: undefined }]);
      const peerSeq = await peer.invalidate(['a', 'b'], 'all');
      expect(peerSeq).toBe(seq + 1);
      expect(await store.snapshot()).toBe(peerSeq);
      expect((await fetch(['a']))[0]?.groups?.get('a\u001fb')?.seq).toBe(peerSeq);
    });
  });
}
