import { MemoryTagStore } from '../../lib/core/memory-tag.store.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeTagStoreContract } from '../support/tag-store-contract.js';

describeTagStoreContract('MemoryTagStore', () => {
  const clock = new FakeClock(Date.now());
  return { store: new MemoryTagStore(clock), elapse: (ms) => clock.advance(ms) };
});

describe('MemoryTagStore', () => {
  it('is local and answers synchronously, with versions in µs of its clock', () => {
    const clock = new FakeClock(1_000);
    const store = new MemoryTagStore(clock);
    expect(store.shared).toBe(false);
    expect(store.invalidate(['a'], 'any', 60_000)).toEqual([1_000_000]);
    expect(store.invalidate(['a'], 'any', 60_000)).toEqual([1_000_001]);
    expect(store.fetch(['a'])).toEqual([{ version: 1_000_001, any: 1_000_001, groups: undefined }]);
  });

  it('two stores do not share anything', () => {
    const one = new MemoryTagStore();
    const two = new MemoryTagStore();
    one.invalidate(['a'], 'any', 60_000);
    expect(two.fetch(['a'])).toEqual([undefined]);
  });

  it('counts the tags it holds a record for, and forgets them keepMs later', async () => {
    const clock = new FakeClock();
    const store = new MemoryTagStore(clock);
    store.invalidate(['a', 'b'], 'any', 1_000);
    store.invalidate(['c', 'd'], 'all', 2_000);
    expect(store.size).toBe(3);
    await clock.advance(1_000);
    expect(store.size).toBe(1);
    await clock.advance(1_000);
    expect(store.size).toBe(0);
  });

  it('stays bounded under 100,000 invalidated tags once they are past keepMs', async () => {
    const clock = new FakeClock();
    const store = new MemoryTagStore(clock);
    for (let i = 0; i < 100_000; i++) store.invalidate([`user:${i}`], 'any', 60_000);
    expect(store.size).toBe(100_000);
    await clock.advance(60_000);
    store.invalidate(['late'], 'any', 60_000);
    expect(store.size).toBe(1);
  });
});
