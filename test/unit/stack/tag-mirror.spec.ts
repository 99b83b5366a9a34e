/**
 * `TagMirror` on its own (lib/stack/tag-mirror.ts), on the fake clock: validation of entries against "any" and "all"
 * invalidations and the versions they recorded, which tags it follows authoritatively (fetched in the current epoch
 * only), `changedSince` marks, the sweep of records past their keep time (known ones stay) and the bound on
 * known tags (past it, a new epoch).
 */
import type { CacheEntry } from '../../../lib/core/entry.js';
import type { TagState } from '../../../lib/core/tag-store.js';
import { MAX_KNOWLEDGE_AGE_MS, MAX_KNOWN_TAGS, SWEEP_EVERY, TagMirror } from '../../../lib/stack/tag-mirror.js';
import { FakeClock } from '../../support/fake-clock.js';

const KEEP_MS = 10_000;

function entry(tags: string[], tagVersions?: number[]): CacheEntry {
  return { value: 'v', createdAt: 0, freshUntil: 1, staleUntil: 1, errorUntil: 1, tags, tagVersions };
}

function state(version: number, any = version): TagState {
  return { version, any, groups: undefined };
}

function mirror() {
  const clock = new FakeClock();
  return { clock, mirror: new TagMirror(clock, KEEP_MS) };
}

describe('TagMirror', () => {
  it('an "any" invalidation invalidates the entries that recorded an older version of the tag, and only those', () => {
    const { mirror: m } = mirror();
    m.record(['t'], 'any', [100]);
    expect(m.isValid(entry(['t'], [99]))).toBe(false);
    expect(m.isValid(entry(['t']))).toBe(false); // no versions recorded: 0
    expect(m.isValid(entry(['t'], [100]))).toBe(true); // loaded after it (read its version)
    expect(m.isValid(entry(['t'], [150]))).toBe(true);
    expect(m.isValid(entry(['other'], [0]))).toBe(true);
    // The version of each tag is compared with the one recorded for that tag, by position.
    expect(m.isValid(entry(['other', 't'], [500, 99]))).toBe(false);
    expect(m.isValid(entry(['t', 'other'], [100, 0]))).toBe(true);
    // States only grow: an older or repeated invalidation changes nothing.
    m.record(['t'], 'any', [50]);
    expect(m.isValid(entry(['t'], [99]))).toBe(false);
    expect(m.isValid(entry(['t'], [100]))).toBe(true);
    m.record(['t'], 'any', [200]);
    expect(m.isValid(entry(['t'], [100]))).toBe(false);
  });

  it('an "all" invalidation invalidates only entries carrying every tag of the group, judged by the first sorted tag\'s version', () => {
    const { mirror: m } = mirror();
    m.record(['b', 'a'], 'all', [200]); // recorded on "a"
    expect(m.isValid(entry(['a'], [0]))).toBe(true);
    expect(m.isValid(entry(['b'], [0]))).toBe(true);
    expect(m.isValid(entry(['a', 'c'], [0, 0]))).toBe(true);
    expect(m.isValid(entry(['a', 'b'], [0, 0]))).toBe(false);
    expect(m.isValid(entry(['c', 'b', 'a'], [0, 0, 0]))).toBe(false);
    expect(m.isValid(entry(['b', 'a'], [0, 199]))).toBe(false); // a's recorded version decides
    expect(m.isValid(entry(['b', 'a'], [0, 200]))).toBe(true);
    expect(m.isValid(entry(['b', 'a'], [999, 100]))).toBe(false); // b's version does not count for the group
    // The group does not touch "any": an entry with only "a" stays valid, a newer "any" of "b" does.
    m.record(['b'], 'any', [300]);
    expect(m.isValid(entry(['b'], [0]))).toBe(false);
    expect(m.isValid(entry(['a'], [0]))).toBe(true);
  });

  it('validates against states merged from the store: "any" and groups', () => {
    const { mirror: m } = mirror();
    const groups = new Map([['a\u001fb', { tags: ['a', 'b'], version: 70 }]]);
    m.merge(['a', 'x', 'y'], [{ version: 70, any: 40, groups }, undefined, state(5)], undefined);
    expect(m.isValid(entry(['a'], [39]))).toBe(false);
    expect(m.isValid(entry(['a'], [40]))).toBe(true);
    expect(m.isValid(entry(['a', 'b'], [40, 0]))).toBe(false);
    expect(m.isValid(entry(['a', 'b'], [70, 0]))).toBe(true);
    expect(m.isValid(entry(['x'], [0]))).toBe(true);
    expect(m.isValid(entry(['y'], [4]))).toBe(false);
    expect(m.versions(['a', 'x', 'y', 'z'])).toEqual([70, 0, 5, 0]);
    expect(m.latest(['a'])).toBe(70);
    expect(m.latest(['x', 'y'])).toBe(5);
  });

  it('knows the versions of tags merged in the current epoch only (not recorded ones, not fetched before a forget)', () => {
    const { mirror: m } = mirror();
    expect(m.knownVersions(['a'])).toBeUndefined();
    m.record(['a'], 'any', [10]); // learned from an invalidation: not followed
    expect(m.knownVersions(['a'])).toBeUndefined();
    m.merge(['b'], [state(7)], undefined); // fetched without the bus: not followed either
    expect(m.knownVersions(['b'])).toBeUndefined();
    expect(m.unknown(['a', 'b'])).toEqual(['a', 'b']);

    const epoch = m.knowledgeEpoch;
    m.merge(['a', 'c'], [state(10), undefined], epoch);
    expect(m.knownVersions(['a', 'c'])).toEqual([10, 0]); // "c" has no record: known at 0
    expect(m.knownVersions(['a', 'b'])).toBeUndefined(); // one unknown tag: nothing
    expect(m.unknown(['a', 'b', 'c'])).toEqual(['b']);
    // A known tag follows the invalidations learned later (the bus's).
    m.record(['a'], 'any', [20]);
    m.record(['c'], 'any', [30]);
    expect(m.knownVersions(['a', 'c'])).toEqual([20, 30]);
    m.record(['b', 'c'], 'all', [40]); // the group's version raises b's (its first sorted tag)
    expect(m.versions(['b'])).toEqual([40]);

    m.forgetKnowledge();
    expect(m.knowledgeEpoch).not.toBe(epoch);
    expect(m.knownVersions(['a'])).toBeUndefined();
    expect(m.unknown(['a', 'c'])).toEqual(['a', 'c']);
    expect(m.versions(['a', 'c'])).toEqual([20, 30]); // what it learned stays (validation), only the knowledge goes
    expect(m.isValid(entry(['a'], [19]))).toBe(false);
    // A fetch that started before the forget does not make its tags known.
    m.merge(['a'], [state(20)], epoch);
    expect(m.knownVersions(['a'])).toBeUndefined();
    m.merge(['a'], [state(20)], m.knowledgeEpoch);
    expect(m.knownVersions(['a'])).toEqual([20]);
  });

  it('changedSince tells whether an invalidation of one of the tags was learned after a mark', () => {
    const { mirror: m } = mirror();
    const start = m.changes;
    expect(m.changedSince(['t'], start)).toBe(false);
    m.record(['other'], 'any', [5]);
    expect(m.changedSince(['t'], start)).toBe(false);
    expect(m.changedSince(['other', 't'], start)).toBe(true);
    const mark = m.changes;
    m.record(['t'], 'any', [10]);
    expect(m.changedSince(['t'], mark)).toBe(true);
    expect(m.changedSince(['other'], mark)).toBe(false);

    // Learning nothing new is not a change: a repeated record, a merge of what is known, knowledge alone.
    const after = m.changes;
    m.record(['t'], 'any', [10]);
    m.record(['t'], 'any', [3]);
    m.merge(['t', 'fresh'], [state(10), undefined], m.knowledgeEpoch);
    expect(m.changedSince(['t', 'fresh'], after)).toBe(false);
    // A newer state from the store is; so is a new group.
    m.merge(['t'], [state(11)], undefined);
    expect(m.changedSince(['t'], after)).toBe(true);
    const later = m.changes;
    m.record(['t', 'u'], 'all', [12]);
    expect(m.changedSince(['t'], later)).toBe(true);
    const last = m.changes;
    m.merge(['t'], [{ version: 12, any: 11, groups: new Map([['t\u001fu', { tags: ['t', 'u'], version: 12 }]]) }], undefined);
    expect(m.changedSince(['t'], last)).toBe(false); // the same group again
  });

  it('the sweep drops records past their keep time; recent records and known tags stay', async () => {
    const { clock, mirror: m } = mirror();
    m.record(['old'], 'any', [100]);
    m.merge(['known'], [state(100)], m.knowledgeEpoch);
    m.merge(['known-empty'], [undefined], m.knowledgeEpoch);
    await clock.advance(KEEP_MS - 1);
    m.record(['recent'], 'any', [200]); // kept until KEEP_MS - 1 + KEEP_MS
    await clock.advance(1);
    // Followed tags are read again within MAX_KNOWLEDGE_AGE_MS: the store's state is merged again.
    m.merge(['known'], [state(100)], m.knowledgeEpoch);
    m.merge(['known-empty'], [undefined], m.knowledgeEpoch);
    // Nothing is dropped before a sweep runs.
    expect(m.isValid(entry(['old'], [0]))).toBe(false);
    for (let i = 1; i <= SWEEP_EVERY; i++) m.record(['filler'], 'any', [i]);
    expect(m.isValid(entry(['old'], [0]))).toBe(true); // forgotten: no live entry can predate it
    expect(m.versions(['old'])).toEqual([0]);
    expect(m.isValid(entry(['recent'], [0]))).toBe(false);
    expect(m.knownVersions(['known', 'known-empty'])).toEqual([100, 0]); // past its keep time, but followed
    expect(m.isValid(entry(['known'], [0]))).toBe(false);

    // Once no longer followed, they go at the next sweep (and "recent" once past its keep time).
    m.forgetKnowledge();
    await clock.advance(KEEP_MS);
    for (let i = 1; i <= SWEEP_EVERY; i++) m.record(['filler'], 'any', [SWEEP_EVERY + i]);
    expect(m.versions(['known', 'known-empty', 'recent'])).toEqual([0, 0, 0]);
    expect(m.isValid(entry(['known'], [0]))).toBe(true);
    expect(m.isValid(entry(['recent'], [0]))).toBe(true);
  });

  it(`a followed tag is read again MAX_KNOWLEDGE_AGE_MS (${MAX_KNOWLEDGE_AGE_MS} ms) after it was last read: a lost bus message hides an invalidation that long at most`, async () => {
    const { clock, mirror: m } = mirror();
    m.merge(['t'], [state(5)], m.knowledgeEpoch);
    await clock.advance(MAX_KNOWLEDGE_AGE_MS - 1);
    expect(m.knownVersions(['t'])).toEqual([5]);
    expect(m.unknown(['t'])).toEqual([]);
    await clock.advance(1);
    expect(m.knownVersions(['t'])).toBeUndefined();
    expect(m.unknown(['t'])).toEqual(['t']);
    m.merge(['t'], [state(9)], m.knowledgeEpoch);
    expect(m.knownVersions(['t'])).toEqual([9]);
  });

  it(`following more than MAX_KNOWN_TAGS (${MAX_KNOWN_TAGS}) tags starts a new epoch: the earlier ones are fetched again`, () => {
    const { mirror: m } = mirror();
    const epoch = m.knowledgeEpoch;
    const tags = Array.from({ length: MAX_KNOWN_TAGS }, (_, i) => `t${i}`);
    m.merge(tags, tags.map(() => undefined), epoch);
    expect(m.knowledgeEpoch).toBe(epoch);
    expect(m.knownVersions(['t0', `t${MAX_KNOWN_TAGS - 1}`])).toEqual([0, 0]);
    expect(m.unknown(tags)).toEqual([]);
    m.merge(['one-more'], [state(9)], epoch);
    expect(m.knowledgeEpoch).not.toBe(epoch);
    expect(m.knownVersions(['one-more'])).toEqual([9]);
    expect(m.knownVersions(['t0'])).toBeUndefined();
    expect(m.unknown(['t0', 'one-more'])).toEqual(['t0']);
    // Re-reading a tag already known in this epoch does not count twice.
    m.merge(['one-more'], [state(9)], m.knowledgeEpoch);
    expect(m.knownVersions(['one-more'])).toEqual([9]);
  });
});
