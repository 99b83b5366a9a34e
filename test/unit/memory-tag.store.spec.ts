import { MemoryTagStore } from '../../lib/core/memory-tag.store.js';
import { describeTagStoreContract } from '../support/tag-store-contract.js';

describeTagStoreContract('MemoryTagStore', () => ({ store: new MemoryTagStore() }));

describe('MemoryTagStore', () => {
  it('is local and answers synchronously', () => {
    const store = new MemoryTagStore();
    expect(store.shared).toBe(false);
    expect(store.invalidate(['a'], 'any')).toBe(1);
    expect(store.snapshot()).toBe(1);
    expect(store.fetch(['a'])).toEqual([{ seq: 1, groups: undefined }]);
  });

  it('two stores do not share anything', () => {
    const one = new MemoryTagStore();
    const two = new MemoryTagStore();
    one.invalidate(['a'], 'any');
    expect(two.snapshot()).toBe(0);
    expect(two.fetch(['a'])).toEqual([undefined]);
  });

  it('counts the tags it holds a record for', () => {
    const store = new MemoryTagStore();
    store.invalidate(['a', 'b'], 'any');
    store.invalidate(['c', 'd'], 'all');
    expect(store.size).toBe(3);
  });
});
