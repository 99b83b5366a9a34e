import { randomBytes } from 'node:crypto';
import type { CacheEntry } from '../../lib/core/entry.js';
import { decodeEntry, encodeEntry, ENTRY_MAGIC, ENTRY_VERSION_OFFSET } from '../../lib/core/entry-codec.js';
import type { Serializer } from '../../lib/core/serializer.js';
import { MsgpackSerializer } from '../../lib/layers/msgpack.serializer.js';
import { everyTypeValue, makeEntry } from '../support/layer-contract.js';

const serializer = new MsgpackSerializer();
const NOW = Date.UTC(2026, 0, 1);

function roundTrip(entry: CacheEntry): CacheEntry | undefined {
  return decodeEntry(encodeEntry(entry, serializer), serializer);
}

describe('encodeEntry / decodeEntry', () => {
  it('round-trips every field of the envelope', () => {
    const entry = makeEntry({ id: 7 }, NOW, {
      createdAt: NOW - 1.5,
      freshUntil: NOW + 1000,
      staleUntil: NOW + 2000,
      errorUntil: NOW + 3000,
      tags: ['user:7', 'users', 'ключ 🔑', ''],
      tagSeq: 2 ** 40 + 3,
    });
    expect(roundTrip(entry)).toStrictEqual(entry);
  });

  it('decodes an entry without tags as tags: undefined (an empty list too)', () => {
    expect(roundTrip(makeEntry(1, NOW))?.tags).toBeUndefined();
    expect(roundTrip(makeEntry(1, NOW, { tags: [] }))?.tags).toBeUndefined();
  });

  it('keeps infinite stale deadlines', () => {
    const entry = makeEntry('v', NOW, { staleUntil: Number.POSITIVE_INFINITY, errorUntil: Number.POSITIVE_INFINITY });
    expect(roundTrip(entry)).toStrictEqual(entry);
  });

  it('round-trips values of every supported type and a negative entry', () => {
    expect(roundTrip(makeEntry(everyTypeValue(), NOW))?.value).toStrictEqual(everyTypeValue());
    const negative = roundTrip(makeEntry(undefined, NOW));
    expect(negative).toBeDefined();
    expect(negative?.value).toBeUndefined();
    expect(roundTrip(makeEntry(null, NOW))?.value).toBeNull();
  });

  it('starts with the magic bytes, the format version and a 56-byte header, the version at a fixed offset', () => {
    const bytes = encodeEntry(makeEntry('x', NOW, { tags: ['ab'], version: 2 ** 52 + 1 }), serializer);
    expect([...bytes.subarray(0, 4)]).toEqual([0x4c, 0x43, 0x02, 0x00]);
    expect(bytes.toString('latin1', 0, 3)).toBe(ENTRY_MAGIC);
    expect(bytes.readDoubleLE(12)).toBe(NOW + 60_000);
    expect(bytes.readDoubleLE(ENTRY_VERSION_OFFSET)).toBe(2 ** 52 + 1);
    expect(bytes.readUInt32LE(52)).toBe(1);
    expect(bytes.readUInt32LE(56)).toBe(2);
    expect(bytes.toString('utf8', 60, 62)).toBe('ab');
    expect(serializer.decode(bytes.subarray(62))).toBe('x');
  });

  it('reads an entry without a version as version 0', () => {
    const { version: _omitted, ...unversioned } = makeEntry('x', NOW);
    expect(roundTrip(unversioned)?.version).toBe(0);
  });

  it('reads the previous format (1, without a version) as a miss', () => {
    const bytes = encodeEntry(makeEntry('x', NOW), serializer);
    bytes[2] = 0x01;
    expect(decodeEntry(bytes, serializer)).toBeUndefined();
  });

  it('throws when the serializer cannot encode the value', () => {
    const failing: Serializer = {
      encode: () => {
        throw new TypeError('cannot encode');
      },
      decode: () => undefined,
    };
    expect(() => encodeEntry(makeEntry(1, NOW), failing)).toThrow('cannot encode');
  });

  describe('anything that is not an envelope decodes to undefined', () => {
    const valid = encodeEntry(makeEntry({ a: [1, 2, 3] }, NOW, { tags: ['t1', 't2'] }), serializer);
    const withTagCount = (count: number): Buffer => {
      const copy = Buffer.from(valid);
      copy.writeUInt32LE(count, 52);
      return copy;
    };
    const withByte = (index: number, value: number): Buffer => {
      const copy = Buffer.from(valid);
      copy[index] = value;
      return copy;
    };
    const withFreshUntil = (value: number): Buffer => {
      const copy = Buffer.from(valid);
      copy.writeDoubleLE(value, 12);
      return copy;
    };
    const tagless = encodeEntry(makeEntry('v', NOW), serializer);
    const cases: [string, Buffer | null | undefined][] = [
      ['a tagless header without payload', tagless.subarray(0, 56)],
      ['null', null],
      ['undefined', undefined],
      ['an empty buffer', Buffer.alloc(0)],
      ['a plain string', Buffer.from('hello')],
      ['JSON', Buffer.from('{"value":1,"freshUntil":1}')],
      ['a header cut short', valid.subarray(0, 47)],
      ['a header without tags or payload', valid.subarray(0, 56)],
      ['a tag list cut short', valid.subarray(0, 55)],
      ['a payload cut short', valid.subarray(0, valid.length - 2)],
      ['a wrong magic', withByte(0, 0x4d)],
      ['another format version', withByte(2, 0x03)],
      ['a tag count larger than the buffer', withTagCount(0xffffffff)],
      ['a tag count past the tags', withTagCount(3)],
      ['a NaN freshUntil', withFreshUntil(Number.NaN)],
      ['an infinite freshUntil', withFreshUntil(Number.POSITIVE_INFINITY)],
    ];
    it.each(cases)('%s', (_, bytes) => {
      expect(() => decodeEntry(bytes, serializer)).not.toThrow();
      expect(decodeEntry(bytes, serializer)).toBeUndefined();
    });

    it('a serializer that throws on decode', () => {
      const throwing: Serializer = {
        encode: (value) => serializer.encode(value),
        decode: () => {
          throw new Error('foreign');
        },
      };
      expect(decodeEntry(valid, throwing)).toBeUndefined();
    });

    it('random bytes behind a valid magic never throw', () => {
      for (let i = 0; i < 2000; i++) {
        const bytes = Buffer.concat([Buffer.from([0x4c, 0x43, 0x02, 0x00]), randomBytes(i % 120)]);
        expect(() => decodeEntry(bytes, serializer)).not.toThrow();
      }
    });
  });
});
