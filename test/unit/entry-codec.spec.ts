import { randomBytes } from 'node:crypto';
import type { CacheEntry, EntryFreshness } from '../../lib/core/entry.js';
import {
  decodeEntry,
  encodeEntry,
  ENTRY_DEADLINES_OFFSET,
  ENTRY_EXTENSION_TTL_OFFSET,
  ENTRY_MAGIC,
  ENTRY_TAGGED_MAGIC,
  ENTRY_VERSION_OFFSET,
  undecodableEntry,
  undecodableReason,
} from '../../lib/core/entry-codec.js';
import { expiresAt } from '../../lib/core/entry.js';
import type { Serializer } from '../../lib/core/serializer.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
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
      tagVersions: [2 ** 40 + 3, 1, 2 ** 52, 0],
    });
    expect(roundTrip(entry)).toStrictEqual(entry);
  });

  it('writes a tagged entry as format 3 (an earlier version reads it as another format), an untagged one as format 2', () => {
    expect(encodeEntry(makeEntry(1, NOW, { tags: ['t'], tagVersions: [5] }), serializer)[2]).toBe(3);
    expect(encodeEntry(makeEntry(1, NOW), serializer)[2]).toBe(2);
  });

  it('reads a tagged entry of format 2 (one global tag sequence, before 0.2.0) as undecodable: its invalidations are elsewhere', () => {
    const bytes = encodeEntry(makeEntry(1, NOW, { tags: ['t'], tagVersions: [5] }), serializer);
    bytes[2] = 2;
    expect(undecodableReason(decodeEntry(bytes, serializer))).toMatch(/tagged entry of an earlier version/);
    const untagged = encodeEntry(makeEntry(1, NOW), serializer);
    untagged[2] = 3;
    expect(undecodableReason(decodeEntry(untagged, serializer))).toMatch(/another format/);
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

  it('starts with the magic bytes, the format version (3: tagged) and a 56-byte header, the version at a fixed offset', () => {
    const bytes = encodeEntry(makeEntry('x', NOW, { tags: ['ab'], tagVersions: [2 ** 51 + 7], version: 2 ** 52 + 1 }), serializer);
    expect([...bytes.subarray(0, 4)]).toEqual([0x4c, 0x43, 0x03, 0x00]);
    expect(bytes.toString('latin1', 0, 3)).toBe(ENTRY_TAGGED_MAGIC);
    expect(encodeEntry(makeEntry('x', NOW), serializer).toString('latin1', 0, 3)).toBe(ENTRY_MAGIC);
    expect(bytes.readDoubleLE(12)).toBe(NOW + 60_000);
    expect(bytes.readDoubleLE(ENTRY_VERSION_OFFSET)).toBe(2 ** 52 + 1);
    expect(bytes.readUInt32LE(52)).toBe(1);
    expect(bytes.readUInt32LE(56)).toBe(2);
    expect(bytes.toString('utf8', 60, 62)).toBe('ab');
    expect(bytes.readDoubleLE(62)).toBe(2 ** 51 + 7);
    expect(serializer.decode(bytes.subarray(70))).toBe('x');
  });

  it('reads an entry without a version as version 0', () => {
    const { version: _omitted, ...unversioned } = makeEntry('x', NOW);
    expect(roundTrip(unversioned)?.version).toBe(0);
  });

  it('reads the previous format (1, without a version) as undecodable: a miss', () => {
    const bytes = encodeEntry(makeEntry('x', NOW), serializer);
    bytes[2] = 0x01;
    expect(undecodableReason(decodeEntry(bytes, serializer))).toMatch(/another format version/);
  });

  it('decodes a missing key (null) to undefined, not to the undecodable marker', () => {
    expect(decodeEntry(null, serializer)).toBeUndefined();
    expect(decodeEntry(undefined, serializer)).toBeUndefined();
    expect(undecodableReason(undefined)).toBeUndefined();
  });

  it('the undecodable marker is an entry expired since 1970 (a miss to any reader), recognised with its reason', () => {
    const marker = undecodableEntry('a custom layer could not read it');
    expect(expiresAt(marker)).toBe(0);
    expect(marker.freshUntil).toBe(0);
    expect(Object.isFrozen(marker)).toBe(true);
    expect(undecodableReason(marker)).toBe('a custom layer could not read it');
    expect(undecodableReason(makeEntry('x', NOW, { freshUntil: 0, staleUntil: 0, errorUntil: 0 }))).toBeUndefined();
    expect(undecodableReason(roundTrip(makeEntry('x', NOW)))).toBeUndefined();
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

  describe('the extension block of an entry carrying freshness policies', () => {
    const freshness: EntryFreshness = { ttl: 60_000, sliding: true, maxUntil: Infinity, refreshAhead: 0.8, adaptive: { base: 60_000, max: 600_000, hits: 5, step: 30_000 } };
    const entry = makeEntry({ id: 1 }, NOW, { tags: ['t'], freshness });

    it('round-trips (sliding, adaptive, an infinite maxUntil; and without sliding nor adaptive)', () => {
      expect(roundTrip(entry)).toStrictEqual(entry);
      const plain = makeEntry('v', NOW, { freshness: { ...freshness, sliding: false, maxUntil: NOW + 1, adaptive: undefined } });
      expect(roundTrip(plain)).toStrictEqual(plain);
    });

    it('sets the flags byte and puts the ttl at the fixed offset an in-place extension rewrites', () => {
      const bytes = encodeEntry(entry, serializer);
      expect(bytes[3]).toBe(1 | 2 | 4);
      expect(bytes.readDoubleLE(ENTRY_EXTENSION_TTL_OFFSET)).toBe(60_000);
      expect(bytes.readDoubleLE(ENTRY_DEADLINES_OFFSET)).toBe(entry.freshUntil);
      expect(encodeEntry(makeEntry('v', NOW), serializer)[3]).toBe(0); // a plain entry: the earlier bytes
      // Rewriting the deadlines and the ttl in place (what RedisLayer.touch does) decodes to the extended entry.
      bytes.writeDoubleLE(entry.freshUntil + 5, ENTRY_DEADLINES_OFFSET);
      bytes.writeDoubleLE(90_000, ENTRY_EXTENSION_TTL_OFFSET);
      expect(decodeEntry(bytes, serializer)).toStrictEqual({ ...entry, freshUntil: entry.freshUntil + 5, freshness: { ...freshness, ttl: 90_000 } });
    });

    it('a truncated extension, or one with numbers that make no sense, is undecodable', () => {
      const bytes = encodeEntry(entry, serializer);
      expect(undecodableReason(decodeEntry(bytes.subarray(0, 56 + 30), serializer))).toMatch(/truncated/);
      const badTtl = Buffer.from(bytes);
      badTtl.writeDoubleLE(-1, ENTRY_EXTENSION_TTL_OFFSET);
      expect(undecodableReason(decodeEntry(badTtl, serializer))).toMatch(/invalid freshness deadline/);
      const badRamp = Buffer.from(bytes);
      badRamp.writeDoubleLE(Number.NaN, ENTRY_EXTENSION_TTL_OFFSET + 32);
      expect(undecodableReason(decodeEntry(badRamp, serializer))).toMatch(/invalid freshness deadline/);
    });
  });

  describe('anything that is not an envelope decodes to the undecodable marker, with its reason', () => {
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
    const cases: [string, Buffer, RegExp][] = [
      ['a tagless header without payload', tagless.subarray(0, 56), /serializer cannot decode/],
      ['an empty buffer', Buffer.alloc(0), /not an entry/],
      ['a plain string', Buffer.from('hello'), /not an entry/],
      ['JSON', Buffer.from('{"value":1,"freshUntil":1}'), /not an entry/],
      ['a header cut short', valid.subarray(0, 47), /truncated/],
      ['a header without tags or payload', valid.subarray(0, 56), /truncated/],
      ['a tag list cut short', valid.subarray(0, 55), /truncated/],
      ['a payload cut short', valid.subarray(0, valid.length - 2), /serializer cannot decode/],
      ['a wrong magic', withByte(0, 0x4d), /not an entry/],
      ['another format version', withByte(2, 0x04), /another format version/],
      ['a tag count larger than the buffer', withTagCount(0xffffffff), /truncated/],
      ['a tag count past the tags', withTagCount(3), /truncated/],
      ['a NaN freshUntil', withFreshUntil(Number.NaN), /invalid freshness deadline/],
      ['an infinite freshUntil', withFreshUntil(Number.POSITIVE_INFINITY), /invalid freshness deadline/],
    ];
    it.each(cases)('%s', (_, bytes, reason) => {
      expect(() => decodeEntry(bytes, serializer)).not.toThrow();
      const decoded = decodeEntry(bytes, serializer);
      expect(undecodableReason(decoded)).toMatch(reason);
      expect(decoded === undefined ? Number.NaN : expiresAt(decoded)).toBe(0);
    });

    it('a serializer that throws on decode', () => {
      const throwing: Serializer = {
        encode: (value) => serializer.encode(value),
        decode: () => {
          throw new Error('foreign');
        },
      };
      expect(undecodableReason(decodeEntry(valid, throwing))).toMatch(/serializer cannot decode/);
    });

    it('random bytes behind a valid magic never throw', () => {
      for (let i = 0; i < 2000; i++) {
        const bytes = Buffer.concat([Buffer.from([0x4c, 0x43, 0x02, 0x00]), randomBytes(i % 120)]);
        expect(() => decodeEntry(bytes, serializer)).not.toThrow();
        const decoded = decodeEntry(bytes, serializer);
        expect(decoded).toBeDefined(); // bytes are there: an entry, or the undecodable marker
      }
    });
  });
});
