import { groupBySlot, REDIS_SLOT_COUNT, redisSlot } from '../../lib/redis/redis-slot.js';

// Expected slots as answered by `CLUSTER KEYSLOT` of redis-server 7.0 (the integration spec
// test/integration/redis-cluster.spec.ts compares against a live server too).
const VECTORS: [string, number][] = [
  ['foo', 12182],
  ['123456789', 12739], // CRC16/XMODEM check value 0x31C3
  ['{user1000}.following', 3443],
  ['{user1000}.followers', 3443],
  ['foo{}{bar}', 8363], // empty tag: the whole key is hashed
  ['foo{{bar}}zap', 4015], // tag `{bar`
  ['foo{bar}{zap}', 5061], // first tag only: `bar`
  ['', 0],
  ['ключ', 10303],
  ['🔑{é}x', 10180],
  ['a{b', 13340], // no closing brace
  ['a}b{c}', 7365], // a `}` before the `{` does not count
  ['lc:user:1', 2081],
  ['{lc}:user:1', 4738],
  ['test:layer:x:\u001f{tags}:seq', 14486],
];

describe('redisSlot', () => {
  it.each(VECTORS)('slot of %j is %i', (key, slot) => {
    expect(redisSlot(key)).toBe(slot);
    expect(redisSlot(Buffer.from(key, 'utf8'))).toBe(slot);
  });

  it('keys sharing a hash tag share a slot', () => {
    expect(redisSlot('{user1000}.following')).toBe(redisSlot('{user1000}.followers'));
    expect(redisSlot('{lc}:a')).toBe(redisSlot('{lc}:b\u001fnamespace'));
    expect(redisSlot('{lc}:a')).toBe(redisSlot('lc'));
  });

  it('hashes a lone surrogate as U+FFFD, the bytes ioredis sends for it', () => {
    expect(redisSlot('x\ud800')).toBe(redisSlot('x\ufffd'));
    expect(redisSlot('x\ud800')).toBe(redisSlot(Buffer.from('x\ud800', 'utf8')));
  });

  it('always answers a slot in [0, 16384)', () => {
    const slots = Array.from({ length: 5000 }, (_, i) => redisSlot(`key:${i}`));
    expect(slots.filter((slot) => !Number.isInteger(slot) || slot < 0 || slot >= REDIS_SLOT_COUNT)).toEqual([]);
    expect(new Set(slots).size).toBeGreaterThan(3000); // spread over the slots, not stuck on a few
  });
});

describe('groupBySlot', () => {
  it('groups indexes by slot, in first-seen order, keeping order within a group', () => {
    const keys = ['{a}1', 'foo', '{a}2', '{b}1', '{a}3', 'foo'];
    expect(groupBySlot(keys)).toEqual([[0, 2, 4], [1, 5], [3]]);
  });

  it('accepts buffers and an empty list', () => {
    expect(groupBySlot([Buffer.from('{x}1'), Buffer.from('{x}2')])).toEqual([[0, 1]]);
    expect(groupBySlot([])).toEqual([]);
  });
});
