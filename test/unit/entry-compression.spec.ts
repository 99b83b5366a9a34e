import { randomBytes } from 'node:crypto';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import type { CacheEntry, EntryFreshness } from '../../lib/core/entry.js';
import { decodeEntry, encodeEntry, ENTRY_VERSION_OFFSET, undecodableReason } from '../../lib/core/entry-codec.js';
import {
  checkMaxInflatedBytes,
  DEFAULT_MAX_INFLATED_BYTES,
  resolveCompression,
  zstdAvailable,
  type CompressionAlgorithm,
  type EntryCompression,
} from '../../lib/core/entry-compression.js';
import { InvalidOptionError } from '../../lib/core/errors.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { everyTypeValue, makeEntry } from '../support/layer-contract.js';

const serializer = new MsgpackSerializer();
const NOW = Date.UTC(2026, 0, 1);
const HEADER = 56;
const FLAG_COMPRESSED = 8;

/** A compressible value whose msgpack encoding is well above 1 KiB. */
function bigValue(): Record<string, unknown> {
  return { ...everyTypeValue(), rows: Array.from({ length: 60 }, (_, i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com` })) };
}

function compression(algorithm: CompressionAlgorithm, extra: Record<string, unknown> = {}): EntryCompression {
  const resolved = resolveCompression({ algorithm, ...extra }, 'test.compression');
  if (resolved === undefined) throw new Error('no compression');
  return resolved;
}

/** Offset of the value payload of an entry without extension, with `tags`. */
/** Where the value starts: the header, then each tag (u32 length, bytes, f64 version). */
function payloadOffset(tags: readonly string[]): number {
  return HEADER + tags.reduce((sum, tag) => sum + 12 + Buffer.byteLength(tag), 0);
}

const ALGORITHMS: CompressionAlgorithm[] = zstdAvailable() ? ['gzip', 'brotli', 'zstd'] : ['gzip', 'brotli'];

describe('entry compression', () => {
  describe.each(ALGORITHMS)('%s', (algorithm) => {
    const freshness: EntryFreshness = { ttl: 60_000, sliding: true, maxUntil: Infinity, refreshAhead: 0.5, adaptive: undefined };
    const entry = makeEntry(bigValue(), NOW, { tags: ['user:1', 'ключ'], tagVersions: [9, 10], version: 2 ** 50 + 3 });

    it('compresses the value only: the header and tags stay as they are, flag bit 3 is set', () => {
      const plain = encodeEntry(entry, serializer);
      const packed = encodeEntry(entry, serializer, compression(algorithm));
      expect(packed.length).toBeLessThan(plain.length / 2);
      expect(packed[3]).toBe(FLAG_COMPRESSED);
      const offset = payloadOffset(entry.tags ?? []);
      expect(packed.subarray(4, offset)).toEqual(plain.subarray(4, offset)); // deadlines, version, tags
      expect(packed.readDoubleLE(ENTRY_VERSION_OFFSET)).toBe(2 ** 50 + 3);
      const serialized = plain.subarray(offset);
      expect(packed[offset]).toBe({ gzip: 1, brotli: 2, zstd: 3 }[algorithm]);
      expect(packed.readUInt32LE(offset + 1)).toBe(serialized.length);
      if (algorithm === 'gzip') expect(gunzipSync(packed.subarray(offset + 5))).toEqual(serialized);
      if (algorithm === 'brotli') expect(brotliDecompressSync(packed.subarray(offset + 5))).toEqual(serialized);
    });

    it('round-trips every type, read by a reader with or without compression of its own', () => {
      const packed = encodeEntry(entry, serializer, compression(algorithm));
      expect(decodeEntry(packed, serializer)).toStrictEqual(entry);
      expect(decodeEntry(packed, serializer, 1024 * 1024)).toStrictEqual(entry);
    });

    it('keeps the extension flags beside the compression flag', () => {
      const withFreshness = { ...entry, freshness };
      const packed = encodeEntry(withFreshness, serializer, compression(algorithm));
      expect(packed[3]).toBe(1 | 2 | FLAG_COMPRESSED);
      expect(decodeEntry(packed, serializer)).toStrictEqual(withFreshness);
    });

    it('a reader of the previous version cannot decode the compressed payload: a miss, never a wrong value', () => {
      const packed = encodeEntry(entry, serializer, compression(algorithm));
      // The previous version ignored bit 3 and handed the payload to the serializer.
      expect(() => serializer.decode(packed.subarray(payloadOffset(entry.tags ?? [])))).toThrow();
    });

    it('takes a level', () => {
      const fast = encodeEntry(entry, serializer, compression(algorithm, { level: algorithm === 'brotli' ? 0 : 1 }));
      expect(decodeEntry(fast, serializer)).toStrictEqual(entry);
    });
  });

  describe('the threshold', () => {
    const text = (length: number): CacheEntry => makeEntry('a'.repeat(length), NOW);
    // msgpack of a string of 256..65535 bytes: 3 bytes of header, then the bytes.
    const serializedLength = (length: number): number => serializer.encode('a'.repeat(length)).length;

    it('compresses a value whose serialized size exceeds it, and stores one of exactly that size as before', () => {
      const gzip = compression('gzip', { threshold: 2000 });
      expect(serializedLength(1997)).toBe(2000);
      const atThreshold = encodeEntry(text(1997), serializer, gzip);
      expect(atThreshold).toEqual(encodeEntry(text(1997), serializer)); // the bytes of an uncompressed entry
      expect(atThreshold[3]).toBe(0);
      const above = encodeEntry(text(1998), serializer, gzip);
      expect(above[3]).toBe(FLAG_COMPRESSED);
      expect(decodeEntry(above, serializer)?.value).toBe('a'.repeat(1998));
    });

    it('defaults to 1 KiB', () => {
      const gzip = compression('gzip');
      expect(gzip.threshold).toBe(1024);
      expect(encodeEntry(text(1021), serializer, gzip)[3]).toBe(0); // 1024 bytes serialized
      expect(encodeEntry(text(1022), serializer, gzip)[3]).toBe(FLAG_COMPRESSED);
    });

    it('stores a value that compression does not shrink as it is', () => {
      const noise = makeEntry(randomBytes(4096), NOW);
      const bytes = encodeEntry(noise, serializer, compression('gzip', { threshold: 0 }));
      expect(bytes).toEqual(encodeEntry(noise, serializer));
    });
  });

  describe('reading compressed data that is hostile or corrupt: undecodable, never a throw nor a big allocation', () => {
    const gzip = compression('gzip', { threshold: 0 });
    const entry = makeEntry(bigValue(), NOW);
    const packed = encodeEntry(entry, serializer, gzip);
    const offset = HEADER;
    /** A compressed entry whose payload is `stream` under algorithm `id`, declaring `declared` inflated bytes. */
    function forged(stream: Buffer, declared: number, id = 1): Buffer {
      const prefix = Buffer.alloc(5);
      prefix[0] = id;
      prefix.writeUInt32LE(declared, 1);
      return Buffer.concat([packed.subarray(0, offset), prefix, stream]);
    }
    const MiB = 1024 * 1024;
    // 32 MiB of zeros: ~32 KB of gzip.
    const bomb = gzipSync(Buffer.alloc(32 * MiB), { level: 9 });

    it('a bomb declaring its real size, above maxInflatedBytes, is refused before inflating', () => {
      expect(bomb.length).toBeLessThan(40_000);
      const decoded = decodeEntry(forged(bomb, 32 * MiB), serializer, MiB);
      expect(undecodableReason(decoded)).toMatch(/declaring 33554432 bytes inflated, above maxInflatedBytes \(1048576\)/);
    });

    it('a bomb lying about its size stops inflating at the declared size, without allocating the rest', () => {
      const lying = forged(bomb, MiB);
      const before = process.memoryUsage().arrayBuffers;
      const decoded = decodeEntry(lying, serializer, MiB);
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(grown).toBeLessThan(8 * MiB); // inflating it all would take 32 MiB
      expect(undecodableReason(decoded)).toMatch(/corrupt or inflates past its declared size/);
    });

    it('the default bound is 64 MiB', () => {
      expect(checkMaxInflatedBytes(undefined, 'x')).toBe(DEFAULT_MAX_INFLATED_BYTES);
      expect(DEFAULT_MAX_INFLATED_BYTES).toBe(64 * MiB);
      expect(undecodableReason(decodeEntry(forged(bomb, 64 * MiB + 1), serializer))).toMatch(/above maxInflatedBytes/);
    });

    const flipped = Buffer.from(packed);
    for (let i = offset + 5 + 10; i < flipped.length; i += 7) flipped[i] = (flipped[i] as number) ^ 0x5a;
    const cases: [string, Buffer, RegExp][] = [
      ['flipped bytes in the stream', flipped, /corrupt/],
      ['a stream cut short', packed.subarray(0, packed.length - 20), /corrupt/],
      ['a payload cut before its size', packed.subarray(0, offset + 3), /cut short/],
      ['a declared size smaller than the data', forged(packed.subarray(offset + 5), 100), /corrupt or inflates past/],
      ['a declared size larger than the data', forged(packed.subarray(offset + 5), packed.readUInt32LE(offset + 1) + 1), /another size/],
      ['a declared size of 0', forged(packed.subarray(offset + 5), 0), /empty value/],
      ['an unknown algorithm', forged(packed.subarray(offset + 5), 100, 9), /unknown algorithm \(id 9\)/],
      ['not a gzip stream', forged(randomBytes(200), 1000), /corrupt/],
    ];
    it.each(cases)('%s', (_, bytes, reason) => {
      expect(() => decodeEntry(bytes, serializer)).not.toThrow();
      expect(undecodableReason(decodeEntry(bytes, serializer))).toMatch(reason);
    });

    (zstdAvailable() ? it.skip : it)('a zstd entry on a Node without zstd', () => {
      expect(undecodableReason(decodeEntry(forged(randomBytes(50), 100, 3), serializer))).toMatch(/zstd-compressed entry, and this Node \(v\d+/);
    });

    it('random bytes behind a compressed header never throw', () => {
      for (let i = 0; i < 500; i++) {
        const bytes = Buffer.concat([packed.subarray(0, offset), Buffer.from([1 + (i % 3)]), randomBytes(i % 80)]);
        expect(() => decodeEntry(bytes, serializer)).not.toThrow();
      }
    });
  });

  describe('options', () => {
    it('takes a name alone with the defaults, or nothing', () => {
      expect(resolveCompression('gzip', 'o')).toMatchObject({ algorithm: 'gzip', threshold: 1024, level: 6 });
      expect(resolveCompression('brotli', 'o')).toMatchObject({ algorithm: 'brotli', threshold: 1024, level: 5 });
      expect(resolveCompression({ algorithm: 'gzip', threshold: 0, level: 9 }, 'o')).toMatchObject({ threshold: 0, level: 9 });
      expect(resolveCompression(undefined, 'o')).toBeUndefined();
      expect(resolveCompression(false, 'o')).toBeUndefined();
    });

    const invalid: [string, unknown, string, RegExp][] = [
      ['an unknown name', 'lz4', 'o', /expected 'gzip', 'brotli' or 'zstd', got "lz4"/],
      ['an unknown algorithm', { algorithm: 'deflate' }, 'o.algorithm', /got "deflate"/],
      ['no algorithm', { threshold: 10 }, 'o.algorithm', /got undefined/],
      ['an unknown key', { algorithm: 'gzip', lvl: 3 }, 'o.lvl', /unknown option/],
      ['a negative threshold', { algorithm: 'gzip', threshold: -1 }, 'o.threshold', /whole number of bytes/],
      ['a fractional threshold', { algorithm: 'gzip', threshold: 1.5 }, 'o.threshold', /whole number of bytes/],
      ['a gzip level of 10', { algorithm: 'gzip', level: 10 }, 'o.level', /from 1 to 9 for gzip, got 10/],
      ['a brotli level of 12', { algorithm: 'brotli', level: 12 }, 'o.level', /from 0 to 11 for brotli/],
      ['a string level', { algorithm: 'gzip', level: '9' }, 'o.level', /got "9"/],
      ['true', true, 'o', /got true/],
      ['an array', ['gzip'], 'o', /got an array/],
    ];
    it.each(invalid)('rejects %s, naming the option', (_, value, option, message) => {
      let caught: unknown;
      try {
        resolveCompression(value, 'o');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).option).toBe(option);
      expect((caught as InvalidOptionError).message).toMatch(message);
    });

    (zstdAvailable() ? it.skip : it)('zstd on a Node without it: an error naming the option and the Node version needed', () => {
      for (const value of ['zstd', { algorithm: 'zstd' }]) {
        expect(() => resolveCompression(value, 'RedisLayer.compression')).toThrow(InvalidOptionError);
        expect(() => resolveCompression(value, 'RedisLayer.compression')).toThrow(
          new RegExp(`"RedisLayer.compression": zstd needs Node 22.15\\+ or 23.8\\+ .*this is Node ${process.version.replace(/\./g, '\\.')}`),
        );
      }
    });

    it('checks maxInflatedBytes', () => {
      expect(checkMaxInflatedBytes(1, 'm')).toBe(1);
      for (const bad of [0, -1, 1.5, '1', Number.POSITIVE_INFINITY, 2 ** 32]) {
        expect(() => checkMaxInflatedBytes(bad, 'm')).toThrow(/Invalid option "m": expected a whole number of bytes from 1 to/);
      }
    });
  });
});
