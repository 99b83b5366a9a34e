/**
 * The file format of one `DiskLayer` record and the file names of keys. A record is a small header the layer
 * reads itself (the key, since file names are hashes; the physical expiry; the writer; a checksum), then the
 * envelope exactly as Redis stores it (entry-codec's `encodeEntry`):
 *
 *   0  'L' 'C' 'D' 0x01   magic + record format version
 *   4  u32 CRC-32 of every byte from offset 8 to the end (zlib.crc32)
 *   8  f64 expiresAt      the copy's physical deadline in clock ms (Infinity: none), little endian
 *   16 8 bytes writer     the id of the DiskLayer instance that wrote the envelope (see `DiskLayer`, "Tags")
 *   24 u32 key length
 *   28 key (UTF-8), then the envelope
 *
 * Hard part: a record is read whole and trusted only when its checksum matches, so a file cut short by a crash of
 * the host (the layer does not fsync) or damaged later decodes to "undecodable" (a miss), never to a wrong value.
 * File names: SHA-256 hex of the key in one of 256 sub-directories (its first two hex digits): no part of a
 * key ever reaches a path.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { CacheEntry } from '../core/entry.js';
import { decodeEntry, ENTRY_DEADLINES_OFFSET, ENTRY_EXTENSION_TTL_OFFSET, ENTRY_VERSION_OFFSET, hasEnvelopeMagic, undecodableReason } from '../core/entry-codec.js';
import type { Serializer } from '../core/serializer.js';

const MAGIC = Buffer.from([0x4c, 0x43, 0x44, 0x01]);
/** Bytes before the key. */
export const RECORD_HEADER_BYTES = 28;
const CRC_FROM = 8;
/** Bytes of a writer id. */
export const WRITER_ID_BYTES = 8;

/** What the header of a record says (without its envelope). */
export interface RecordHeader {
  readonly key: string;
  readonly expiresAt: number;
  readonly writer: Buffer;
  /** Offset of the envelope in the record. */
  readonly envelopeAt: number;
}

/** The file name of `key`: its sub-directory (two hex digits) and its name (64 hex digits). */
export function recordName(key: string): { readonly dir: string; readonly file: string } {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  return { dir: hash.slice(0, 2), file: hash };
}

/** Whether `name` (a directory entry) is a record's file name. */
export function isRecordFile(name: string): boolean {
  return name.length === 64 && /^[0-9a-f]{64}$/.test(name);
}

/** Whether `name` is a sub-directory name of the fan-out. */
export function isFanOutDir(name: string): boolean {
  return name.length === 2 && /^[0-9a-f]{2}$/.test(name);
}

/** A record holding `envelope` for `key`. */
export function encodeRecord(key: string, envelope: Buffer, expiresAt: number, writer: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + keyBytes.length + envelope.length);
  MAGIC.copy(out, 0);
  out.writeDoubleLE(expiresAt, 8);
  writer.copy(out, 16, 0, WRITER_ID_BYTES);
  out.writeUInt32LE(keyBytes.length, 24);
  keyBytes.copy(out, RECORD_HEADER_BYTES);
  envelope.copy(out, RECORD_HEADER_BYTES + keyBytes.length);
  sealRecord(out);
  return out;
}

/** Writes the checksum of `record` (after its bytes were changed in place). */
export function sealRecord(record: Buffer): void {
  record.writeUInt32LE(crc32(record.subarray(CRC_FROM)), 4);
}

/**
 * The header of a whole record, or a reason why it is not one (checked: magic, lengths and checksum). With
 * `checksum: false`, only the header's own bytes are checked (for a scan that read just the header).
 */
export function decodeRecordHeader(bytes: Buffer, checksum = true): RecordHeader | string {
  if (bytes.length < RECORD_HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC)) return 'not a DiskLayer record (no "LCD" header)';
  const keyLength = bytes.readUInt32LE(24);
  const envelopeAt = RECORD_HEADER_BYTES + keyLength;
  if (envelopeAt > bytes.length) return 'a truncated DiskLayer record (its key runs past its end)';
  if (checksum && bytes.readUInt32LE(4) !== crc32(bytes.subarray(CRC_FROM))) return 'a damaged or truncated DiskLayer record (checksum mismatch)';
  const expiresAt = bytes.readDoubleLE(8);
  if (Number.isNaN(expiresAt)) return 'a DiskLayer record with an invalid expiry';
  return { key: bytes.toString('utf8', RECORD_HEADER_BYTES, envelopeAt), expiresAt, writer: bytes.subarray(16, 16 + WRITER_ID_BYTES), envelopeAt };
}

/** The key length a header announces (bytes 24-27), for a scan that reads the header first. */
export function recordKeyLength(header: Buffer): number {
  return header.length < RECORD_HEADER_BYTES ? -1 : header.readUInt32LE(24);
}

/** The record path of `key`, relative to the directory: `ab/ab12…` (SHA-256 hex). */
export function pathOf(key: string): string {
  const { dir, file } = recordName(key);
  return `${dir}/${file}`;
}

/** The header of a whole, live record of `key` whose envelope has the current format, else `undefined`. */
export function liveHeader(bytes: Buffer, key: string, now: number): RecordHeader | undefined {
  const header = decodeRecordHeader(bytes);
  if (typeof header === 'string' || header.key !== key || header.expiresAt <= now) return undefined;
  const at = header.envelopeAt;
  if (bytes.length < at + ENTRY_VERSION_OFFSET + 8 || !hasEnvelopeMagic(bytes, at)) return undefined;
  return header;
}

/** The version of the live record of `key` in `bytes`, or `undefined` when there is none to keep. */
export function heldVersion(bytes: Buffer, key: string, now: number): number | undefined {
  const header = liveHeader(bytes, key, now);
  return header === undefined ? undefined : bytes.readDoubleLE(header.envelopeAt + ENTRY_VERSION_OFFSET);
}

/**
 * When `bytes` is a live record of `key` with `entry`'s version and an earlier `freshUntil`: moves its deadlines to
 * those of `entry` in place, with its extension's ttl when it has one, and its physical expiry to `expiresAt`, then
 * re-seals it and returns true (the value is untouched). Else false, `bytes` unchanged.
 */
export function extendRecord(bytes: Buffer, key: string, entry: CacheEntry, now: number, expiresAt: number): boolean {
  const header = liveHeader(bytes, key, now);
  if (header === undefined) return false;
  const at = header.envelopeAt;
  if (bytes.readDoubleLE(at + ENTRY_VERSION_OFFSET) !== (entry.version ?? 0) || bytes.readDoubleLE(at + ENTRY_DEADLINES_OFFSET) >= entry.freshUntil) return false;
  bytes.writeDoubleLE(entry.freshUntil, at + ENTRY_DEADLINES_OFFSET);
  bytes.writeDoubleLE(entry.staleUntil, at + ENTRY_DEADLINES_OFFSET + 8);
  bytes.writeDoubleLE(entry.errorUntil, at + ENTRY_DEADLINES_OFFSET + 16);
  const ttl = entry.freshness?.ttl;
  const hasExtension = ((bytes[at + 3] as number) & 1) !== 0 && bytes.length >= at + ENTRY_EXTENSION_TTL_OFFSET + 8;
  if (hasExtension && ttl !== undefined) bytes.writeDoubleLE(ttl, at + ENTRY_EXTENSION_TTL_OFFSET);
  bytes.writeDoubleLE(expiresAt, 8);
  sealRecord(bytes);
  return true;
}

/**
 * The entry of a whole record of `key` read at `now`, with the record's expiry; `'expired'`; or why it is undecodable.
 * A tagged entry written by another instance than `writer` comes with its tag versions at 0: they may come from
 * another (in-process) tag store, so none of them is trusted (the entry is then invalid while any of its tags has
 * a kept invalidation).
 */
export function readRecord(bytes: Buffer, key: string, now: number, serializer: Serializer, writer: Buffer): { entry: CacheEntry; expiresAt: number } | 'expired' | { undecodable: string } {
  const header = decodeRecordHeader(bytes);
  if (typeof header === 'string') return { undecodable: header };
  if (header.key !== key) return { undecodable: 'a record of another key' };
  if (header.expiresAt <= now) return 'expired';
  const entry = decodeEntry(bytes.subarray(header.envelopeAt), serializer);
  const reason = undecodableReason(entry);
  if (entry === undefined || reason !== undefined) return { undecodable: reason ?? 'an empty record' };
  const tags = entry.tags;
  const trusted = tags === undefined || header.writer.equals(writer);
  return { entry: trusted ? entry : { ...entry, tagVersions: tags.map(() => 0) }, expiresAt: header.expiresAt };
}
