import type { CacheEntry } from './entry.js';
import type { Serializer } from './serializer.js';

/**
 * The byte format of an envelope outside the process: a fixed header the library reads itself, then the
 * value as written by the {@link Serializer}.
 *
 *   0  'L' 'C' 0x02 0x00           magic + format version + reserved
 *   4  f64 createdAt, freshUntil, staleUntil, errorUntil, tagSeq, version   (little endian)
 *   52 u32 tag count, then per tag: u32 byte length + UTF-8 bytes
 *   .. serialized value
 *
 * The version sits at a fixed offset (bytes 45-52 counted from 1, as Lua does) so that a Redis script can
 * compare it without decoding the rest: `RedisLayer`'s "write only if newer" reads it with `struct.unpack`.
 * Format 1 (without the version) is no longer read: such entries are misses, overwritten by the next write.
 *
 * Anything else under a key (another program's data, an older format, a truncated write) decodes to
 * `undefined`: a miss, which the next write overwrites.
 */
const MAGIC_0 = 0x4c; // 'L'
const MAGIC_1 = 0x43; // 'C'
const FORMAT_VERSION = 2;
const HEADER_BYTES = 56;
/** Byte offset of the f64 write version (see the layout above). */
export const ENTRY_VERSION_OFFSET = 44;
/** The first three bytes of every encoded envelope of the current format. */
export const ENTRY_MAGIC = 'LC\u0002';

/** Encodes an envelope. Throws only when the serializer cannot represent the value. */
export function encodeEntry(entry: CacheEntry, serializer: Serializer): Buffer {
  const payload = serializer.encode(entry.value);
  const tags = entry.tags;
  let tagBytes = 0;
  let encodedTags: Buffer[] | undefined;
  if (tags !== undefined && tags.length > 0) {
    encodedTags = tags.map((tag) => Buffer.from(tag, 'utf8'));
    for (const t of encodedTags) tagBytes += 4 + t.length;
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + tagBytes + payload.length);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = FORMAT_VERSION;
  out[3] = 0;
  out.writeDoubleLE(entry.createdAt, 4);
  out.writeDoubleLE(entry.freshUntil, 12);
  out.writeDoubleLE(entry.staleUntil, 20);
  out.writeDoubleLE(entry.errorUntil, 28);
  out.writeDoubleLE(entry.tagSeq, 36);
  out.writeDoubleLE(entry.version ?? 0, ENTRY_VERSION_OFFSET);
  out.writeUInt32LE(encodedTags?.length ?? 0, 52);
  let offset = HEADER_BYTES;
  if (encodedTags !== undefined) {
    for (const t of encodedTags) {
      out.writeUInt32LE(t.length, offset);
      t.copy(out, offset + 4);
      offset += 4 + t.length;
    }
  }
  out.set(payload, offset);
  return out;
}

/** Decodes an envelope, or `undefined` for anything that is not one (never throws). */
export function decodeEntry(bytes: Buffer | null | undefined, serializer: Serializer): CacheEntry | undefined {
  if (bytes == null || bytes.length < HEADER_BYTES) return undefined;
  if (bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1 || bytes[2] !== FORMAT_VERSION) return undefined;
  try {
    const tagCount = bytes.readUInt32LE(52);
    let offset = HEADER_BYTES;
    let tags: string[] | undefined;
    if (tagCount > 0) {
      if (tagCount > bytes.length) return undefined;
      tags = new Array<string>(tagCount);
      for (let i = 0; i < tagCount; i++) {
        const length = bytes.readUInt32LE(offset);
        const end = offset + 4 + length;
        if (end > bytes.length) return undefined;
        tags[i] = bytes.toString('utf8', offset + 4, end);
        offset = end;
      }
    }
    const entry: CacheEntry = {
      value: serializer.decode(bytes.subarray(offset)),
      createdAt: bytes.readDoubleLE(4),
      freshUntil: bytes.readDoubleLE(12),
      staleUntil: bytes.readDoubleLE(20),
      errorUntil: bytes.readDoubleLE(28),
      tags,
      tagSeq: bytes.readDoubleLE(36),
      version: bytes.readDoubleLE(ENTRY_VERSION_OFFSET),
    };
    return Number.isFinite(entry.freshUntil) ? entry : undefined;
  } catch {
    return undefined;
  }
}
