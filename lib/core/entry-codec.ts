/**
 * The byte format of an envelope outside the process: a fixed header the library reads itself, then the
 * value as written by the {@link Serializer}.
 *
 *   0  'L' 'C' 0x02|0x03 flags      magic + format version (3 with tags, 2 without) + flags (bit 0: extension,
 *                                    bit 1: sliding, bit 2: adaptive, bit 3: compressed value)
 *   4  f64 createdAt, freshUntil, staleUntil, errorUntil, 0, version   (little endian; bytes 36-43 are unused)
 *   52 u32 tag count
 *   56 extension, only with flag bit 0 (an entry carrying `freshness`, see `EntryFreshness`):
 *      f64 ttl, maxUntil, refreshAhead, adaptive base, max, hits, step
 *   .. per tag: u32 byte length + UTF-8 bytes + f64 version (the tag's version the entry recorded)
 *   .. serialized value; with flag bit 3, the compressed payload of entry-compression.ts instead (u8 algorithm,
 *      u32 inflated length, compressed stream): only the value is compressed, the header and tags stay readable
 *
 * The version sits at a fixed offset (bytes 45-52 counted from 1, as Lua does) so that a Redis script can
 * compare it without decoding the rest: `RedisLayer`'s "write only if newer" reads it with `struct.unpack`. The
 * deadlines (12-35) and the extension's ttl (56) sit at fixed offsets too, so that a sliding extension rewrites them
 * in place (`SETRANGE`) without decoding the value. A plain entry has flags 0 and no extension: its bytes are those
 * of earlier versions of format 2, and so does an entry written without compression (or with a value at most the
 * threshold, or one compression does not shrink). An earlier version reads an entry with an extension, or a
 * compressed one, as undecodable (a miss). Every reader inflates a compressed entry, whatever its own setting,
 * bounded by `maxInflatedBytes` (see entry-compression.ts).
 * Format 1 (without the version) is no longer read: such entries are misses, overwritten by the next write. A
 * format 2 entry with tags (an earlier version's, which recorded one global tag sequence instead of its tags'
 * versions) is undecodable too: its invalidations were recorded where this version no longer looks. Format 3 is
 * format 2 with a version after each tag: only tagged entries use it, so an earlier version reads them as
 * another format (a miss) instead of misreading their tags.
 *
 * Anything else under a key (another program's data, an older format, a truncated write, a value the
 * serializer cannot read) decodes to an "undecodable" marker (`undecodableEntry`): an entry expired since
 * 1970, so every reader takes it for a miss (which the next write overwrites), and the stack recognises it
 * (`undecodableReason`) to count it in its layer's `undecodable` metric and log it. Only a missing key
 * (`null`) decodes to `undefined`.
 */
import type { AdaptiveRamp, CacheEntry, EntryFreshness } from './entry.js';
import type { Serializer } from './serializer.js';
import { COMPRESSED_PREFIX_BYTES, DEFAULT_MAX_INFLATED_BYTES, inflatePayload, writeCompressedPrefix, type EntryCompression } from './entry-compression.js';

/** The markers of undecodable data, with their reason (weak: custom layers may make their own). */
const undecodable = new WeakMap<CacheEntry, string>();

/**
 * The marker a layer returns from `get` for data under a key that is not an entry it can decode: an entry
 * expired since 1970 (a miss to any reader) that the stack counts as its layer's `undecodable` and logs
 * with `reason`.
 */
export function undecodableEntry(reason: string): CacheEntry {
  const marker: CacheEntry = Object.freeze({ value: undefined, createdAt: 0, freshUntil: 0, staleUntil: 0, errorUntil: 0, tags: undefined, tagVersions: undefined, version: 0 });
  undecodable.set(marker, reason);
  return marker;
}

/** Why a layer could not decode `entry` when it is an {@link undecodableEntry} marker, else `undefined`. */
export function undecodableReason(entry: CacheEntry | undefined): string | undefined {
  return entry === undefined ? undefined : undecodable.get(entry);
}

const NOT_AN_ENTRY = undecodableEntry('not an entry of this library (no "LC" header)');
const OTHER_FORMAT = undecodableEntry('an entry of another format version (this version reads formats 2 and 3)');
const OLD_TAGS = undecodableEntry('a tagged entry of an earlier version (format 2: one tag sequence, not its tags\' versions)');
const TRUNCATED = undecodableEntry('a truncated entry (its tags run past its end)');
const BAD_VALUE = undecodableEntry('an entry whose value the serializer cannot decode (truncated, or written by another serializer)');
const BAD_DEADLINES = undecodableEntry('an entry with an invalid freshness deadline');
const MAGIC_0 = 0x4c; // 'L'
const MAGIC_1 = 0x43; // 'C'
const FORMAT_VERSION = 2;
/** The format of an entry with tags (each followed by its recorded version). */
const TAGGED_FORMAT_VERSION = 3;
const HEADER_BYTES = 56;
const FLAG_EXTENSION = 1;
const FLAG_SLIDING = 2;
const FLAG_ADAPTIVE = 4;
const FLAG_COMPRESSED = 8;
/** The largest value payload that is compressed (its inflated size is written as a u32). */
const MAX_COMPRESSIBLE_BYTES = 0xffff_ffff;
/** Undecodable markers of compressed entries that did not inflate, kept per reason (at most 64 reasons). */
const inflateFailures = new Map<string, CacheEntry>();
/** Bytes of the extension block (7 f64). */
const EXTENSION_BYTES = 56;
/** Byte offset of the three f64 deadlines freshUntil, staleUntil, errorUntil (see the layout above). */
export const ENTRY_DEADLINES_OFFSET = 12;
/** Byte offset of the extension's f64 ttl, present when the flags byte (offset 3) has bit 0 set. */
export const ENTRY_EXTENSION_TTL_OFFSET = HEADER_BYTES;
/** Byte offset of the f64 write version (see the layout above). */
export const ENTRY_VERSION_OFFSET = 44;
/** The first three bytes of an encoded envelope of the current format without tags. */
export const ENTRY_MAGIC = 'LC\u0002';
/** The first three bytes of an encoded envelope of the current format with tags (each followed by its version). */
export const ENTRY_TAGGED_MAGIC = 'LC\u0003';

/** Whether `bytes` hold, from `at`, the magic of an envelope of the current format (tagged or not). */
export function hasEnvelopeMagic(bytes: Buffer, at = 0): boolean {
  return bytes.length >= at + 3 && bytes[at] === MAGIC_0 && bytes[at + 1] === MAGIC_1 && (bytes[at + 2] === FORMAT_VERSION || bytes[at + 2] === TAGGED_FORMAT_VERSION);
}

/**
 * Encodes an envelope. With `compression`, a serialized value larger than its threshold is compressed (flag bit
 * 3) unless that does not make it smaller. Throws only when the serializer cannot represent the value.
 */
export function encodeEntry(entry: CacheEntry, serializer: Serializer, compression?: EntryCompression): Buffer {
  const serialized = serializer.encode(entry.value);
  let payload: Uint8Array = serialized;
  let compressed = false;
  if (compression !== undefined && serialized.length > compression.threshold && serialized.length <= MAX_COMPRESSIBLE_BYTES) {
    const stream = compression.compress(serialized);
    if (stream.length + COMPRESSED_PREFIX_BYTES < serialized.length) {
      payload = Buffer.allocUnsafe(COMPRESSED_PREFIX_BYTES + stream.length);
      writeCompressedPrefix(payload as Buffer, 0, compression.algorithm, serialized.length);
      payload.set(stream, COMPRESSED_PREFIX_BYTES);
      compressed = true;
    }
  }
  const tags = entry.tags;
  let tagBytes = 0;
  let encodedTags: Buffer[] | undefined;
  if (tags !== undefined && tags.length > 0) {
    encodedTags = tags.map((tag) => Buffer.from(tag, 'utf8'));
    for (const t of encodedTags) tagBytes += 12 + t.length;
  }
  const freshness = entry.freshness;
  const extension = freshness === undefined ? 0 : EXTENSION_BYTES;
  const out = Buffer.allocUnsafe(HEADER_BYTES + extension + tagBytes + payload.length);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = encodedTags === undefined ? FORMAT_VERSION : TAGGED_FORMAT_VERSION;
  out[3] = 0;
  out.writeDoubleLE(entry.createdAt, 4);
  out.writeDoubleLE(entry.freshUntil, 12);
  out.writeDoubleLE(entry.staleUntil, 20);
  out.writeDoubleLE(entry.errorUntil, 28);
  out.writeDoubleLE(0, 36);
  out.writeDoubleLE(entry.version ?? 0, ENTRY_VERSION_OFFSET);
  out.writeUInt32LE(encodedTags?.length ?? 0, 52);
  let offset = HEADER_BYTES;
  if (freshness !== undefined) {
    const adaptive = freshness.adaptive;
    out[3] = FLAG_EXTENSION | (freshness.sliding ? FLAG_SLIDING : 0) | (adaptive === undefined ? 0 : FLAG_ADAPTIVE);
    out.writeDoubleLE(freshness.ttl, offset);
    out.writeDoubleLE(freshness.maxUntil, offset + 8);
    out.writeDoubleLE(freshness.refreshAhead, offset + 16);
    out.writeDoubleLE(adaptive?.base ?? 0, offset + 24);
    out.writeDoubleLE(adaptive?.max ?? 0, offset + 32);
    out.writeDoubleLE(adaptive?.hits ?? 0, offset + 40);
    out.writeDoubleLE(adaptive?.step ?? 0, offset + 48);
    offset += EXTENSION_BYTES;
  }
  if (compressed) out[3] = (out[3] as number) | FLAG_COMPRESSED;
  if (encodedTags !== undefined) {
    const versions = entry.tagVersions;
    for (let i = 0; i < encodedTags.length; i++) {
      const t = encodedTags[i] as Buffer;
      out.writeUInt32LE(t.length, offset);
      t.copy(out, offset + 4);
      out.writeDoubleLE(versions?.[i] ?? 0, offset + 4 + t.length);
      offset += 12 + t.length;
    }
  }
  out.set(payload, offset);
  return out;
}

/**
 * Decodes an envelope: `undefined` for no data (`null`, a missing key), an {@link undecodableEntry} marker for
 * anything that is not an envelope of this format. A compressed value is inflated to at most `maxInflatedBytes`
 * (a larger, corrupt or unknown one is undecodable). Never throws.
 */
export function decodeEntry(
  bytes: Buffer | null | undefined,
  serializer: Serializer,
  maxInflatedBytes: number = DEFAULT_MAX_INFLATED_BYTES,
): CacheEntry | undefined {
  if (bytes == null) return undefined;
  if (bytes.length < 3 || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return NOT_AN_ENTRY;
  const format = bytes[2];
  if (format !== FORMAT_VERSION && format !== TAGGED_FORMAT_VERSION) return OTHER_FORMAT;
  if (bytes.length < HEADER_BYTES) return TRUNCATED;
  let value: unknown;
  try {
    const tagCount = bytes.readUInt32LE(52);
    let offset = HEADER_BYTES;
    const flags = bytes[3] as number;
    let freshness: EntryFreshness | undefined;
    if ((flags & FLAG_EXTENSION) !== 0) {
      if (bytes.length < HEADER_BYTES + EXTENSION_BYTES) return TRUNCATED;
      freshness = decodeExtension(bytes, flags);
      if (freshness === undefined) return BAD_DEADLINES;
      offset += EXTENSION_BYTES;
    }
    let tags: string[] | undefined;
    let tagVersions: number[] | undefined;
    if ((tagCount > 0) !== (format === TAGGED_FORMAT_VERSION)) return tagCount > 0 ? OLD_TAGS : OTHER_FORMAT;
    if (tagCount > 0) {
      if (tagCount > bytes.length) return TRUNCATED;
      tags = new Array<string>(tagCount);
      tagVersions = new Array<number>(tagCount);
      for (let i = 0; i < tagCount; i++) {
        const length = bytes.readUInt32LE(offset);
        const end = offset + 4 + length;
        if (end + 8 > bytes.length) return TRUNCATED;
        tags[i] = bytes.toString('utf8', offset + 4, end);
        tagVersions[i] = bytes.readDoubleLE(end);
        offset = end + 8;
      }
    }
    let payload: Uint8Array = bytes.subarray(offset);
    if ((flags & FLAG_COMPRESSED) !== 0) {
      const inflated = inflatePayload(payload, maxInflatedBytes);
      if (typeof inflated === 'string') return inflateFailure(inflated);
      payload = inflated;
    }
    try {
      value = serializer.decode(payload);
    } catch {
      return BAD_VALUE;
    }
    const entry: CacheEntry = {
      value,
      createdAt: bytes.readDoubleLE(4),
      freshUntil: bytes.readDoubleLE(12),
      staleUntil: bytes.readDoubleLE(20),
      errorUntil: bytes.readDoubleLE(28),
      tags,
      tagVersions,
      version: bytes.readDoubleLE(ENTRY_VERSION_OFFSET),
      ...(freshness !== undefined && { freshness }),
    };
    return Number.isFinite(entry.freshUntil) ? entry : BAD_DEADLINES;
  } catch {
    return TRUNCATED;
  }
}

/** The marker of a compressed entry that could not be inflated for `reason` (one marker per reason). */
function inflateFailure(reason: string): CacheEntry {
  let marker = inflateFailures.get(reason);
  if (marker === undefined) {
    marker = undecodableEntry(reason);
    if (inflateFailures.size < 64) inflateFailures.set(reason, marker);
  }
  return marker;
}

/** The extension block of `bytes` (flag bit 0 set), or `undefined` when its numbers make no sense. */
function decodeExtension(bytes: Buffer, flags: number): EntryFreshness | undefined {
  const at = HEADER_BYTES;
  const ttl = bytes.readDoubleLE(at);
  const maxUntil = bytes.readDoubleLE(at + 8);
  const refreshAhead = bytes.readDoubleLE(at + 16);
  if (!(ttl >= 0) || !Number.isFinite(ttl) || Number.isNaN(maxUntil) || !(refreshAhead >= 0 && refreshAhead < 1)) return undefined;
  let adaptive: AdaptiveRamp | undefined;
  if ((flags & FLAG_ADAPTIVE) !== 0) {
    adaptive = {
      base: bytes.readDoubleLE(at + 24),
      max: bytes.readDoubleLE(at + 32),
      hits: bytes.readDoubleLE(at + 40),
      step: bytes.readDoubleLE(at + 48),
    };
    if (![adaptive.base, adaptive.max, adaptive.hits, adaptive.step].every((n) => Number.isFinite(n) && n >= 0)) return undefined;
  }
  return { ttl, sliding: (flags & FLAG_SLIDING) !== 0, maxUntil, refreshAhead, adaptive };
}
