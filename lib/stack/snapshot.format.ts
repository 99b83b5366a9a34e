/**
 * The byte format of a snapshot of the in-process layers (`CacheStack.exportSnapshot`):
 *
 *   0  'L' 'C' 'S' 'N'      magic
 *   4  u8 format version (1), 3 bytes reserved (0)
 *   8  u32 record count     (little endian)
 *   12 per record: u32 key byte length + UTF-8 key, u32 envelope byte length + envelope (entry-codec.ts `encodeEntry`)
 *
 * The file ends right after the last record. Hard part: the structure is checked whole before anything is
 * imported (`parseSnapshot`), so a truncated or corrupt snapshot is a `SnapshotError` and imports nothing; an
 * envelope that does not decode (another serializer, a damaged value) is one bad record, skipped and counted.
 */
import { SnapshotError } from '../core/errors.js';

/** The first four bytes of a snapshot. */
export const SNAPSHOT_MAGIC = 'LCSN';
/** The snapshot format this version writes and reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;
const HEADER_BYTES = 12;

/** One record: a physical key and its encoded envelope. */
export interface SnapshotRecord {
  readonly key: string;
  readonly envelope: Buffer;
}

/** The snapshot header for `count` records. */
export function snapshotHeader(count: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(SNAPSHOT_MAGIC, 0, 'latin1');
  header[4] = SNAPSHOT_FORMAT_VERSION;
  header.writeUInt32LE(count, 8);
  return header;
}

/** The bytes of one record. */
export function snapshotRecord(key: string, envelope: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(8 + keyBytes.length + envelope.length);
  out.writeUInt32LE(keyBytes.length, 0);
  keyBytes.copy(out, 4);
  out.writeUInt32LE(envelope.length, 4 + keyBytes.length);
  envelope.copy(out, 8 + keyBytes.length);
  return out;
}

/** The records of `bytes`; throws `SnapshotError` when its structure is not a whole snapshot of this format. */
export function parseSnapshot(bytes: Uint8Array): SnapshotRecord[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 4) !== SNAPSHOT_MAGIC) {
    throw new SnapshotError(`not a snapshot of this library (no "${SNAPSHOT_MAGIC}" header)`);
  }
  if (buf[4] !== SNAPSHOT_FORMAT_VERSION) throw new SnapshotError(`snapshot format ${String(buf[4])} is not read by this version (it reads ${SNAPSHOT_FORMAT_VERSION})`);
  const count = buf.readUInt32LE(8);
  const records: SnapshotRecord[] = [];
  let offset = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const keyEnd = offset + 4 + (offset + 4 <= buf.length ? buf.readUInt32LE(offset) : 0);
    if (offset + 4 > buf.length || keyEnd + 4 > buf.length) throw truncated(i, count);
    const envelopeEnd = keyEnd + 4 + buf.readUInt32LE(keyEnd);
    if (envelopeEnd > buf.length) throw truncated(i, count);
    records.push({ key: buf.toString('utf8', offset + 4, keyEnd), envelope: buf.subarray(keyEnd + 4, envelopeEnd) });
    offset = envelopeEnd;
  }
  if (offset !== buf.length) throw new SnapshotError(`${buf.length - offset} unexpected bytes after the last of ${count} records`);
  return records;
}

function truncated(index: number, count: number): SnapshotError {
  return new SnapshotError(`truncated: record ${index + 1} of ${count} runs past the end; nothing was imported`);
}
