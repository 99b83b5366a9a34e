/**
 * Snapshots of a stack's in-process layers (`CacheStack.exportSnapshot` / `importSnapshot`), for warm restarts.
 * Export walks every non-shared layer that can list its entries (`SnapshotSource`: `MemoryLayer`) and writes each
 * live entry as a record of snapshot.format.ts, its envelope encoded by entry-codec.ts (deadlines are absolute
 * wall-clock ms, so what is left of each window survives as it is). Import drops what expired meanwhile (by the
 * stack's clock), what an invalidation superseded (tagged entries are checked against the tag store, one round
 * trip) and what a newer write superseded (a copy held with the same or a newer version wins); a key under an
 * old namespace generation is imported but never read. Hard parts: the file variant writes a temp file and renames
 * it (never a half-written snapshot); the whole structure is parsed before anything is stored (all or nothing),
 * while one undecodable record is skipped and counted. Each imported entry's deadlines are first capped at its
 * `createdAt` + the stack's `maxLifetime` (max-lifetime.ts).
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { Clock } from '../core/clock.js';
import { decodeEntry, encodeEntry, undecodableReason } from '../core/entry-codec.js';
import { expiresAt, physicalTtl, type CacheEntry } from '../core/entry.js';
import { InvalidOptionError, SnapshotError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { CacheLayer, SyncCacheLayer } from '../core/layer.js';
import { MsgpackSerializer } from '../core/msgpack.serializer.js';
import type { Serializer } from '../core/serializer.js';
import { capDeadlines } from './max-lifetime.js';
import { parseSnapshot, snapshotHeader, snapshotRecord } from './snapshot.format.js';
import type { StackTags } from './stack-tags.js';

/** Options of {@link CacheStack.exportSnapshot}. */
export interface ExportSnapshotOptions {
  /** Write the snapshot to this file (atomically: a temp file beside it, then a rename) instead of returning it. */
  readonly file?: string;
  /** Encodes the values; `importSnapshot` must be given the same one. @default new MsgpackSerializer() */
  readonly serializer?: Serializer;
}

/** What {@link CacheStack.importSnapshot} reads: the bytes of a snapshot, or `{ file }`. */
export type SnapshotSource = Uint8Array | { readonly file: string; readonly serializer?: Serializer };

/** Options of {@link CacheStack.importSnapshot} given beside bytes. */
export interface ImportSnapshotOptions {
  /** The serializer the snapshot was written with. @default new MsgpackSerializer() */
  readonly serializer?: Serializer;
}

/** What {@link CacheStack.importSnapshot} did with the snapshot's records. */
export interface SnapshotImportReport {
  /** Entries stored in the in-process layer(s). */
  readonly imported: number;
  /** Entries past their last deadline by the stack's clock: dropped. */
  readonly expired: number;
  /** Entries an invalidation of their tags, or a copy held with the same or a newer version, superseded: dropped. */
  readonly superseded: number;
  /** Records whose envelope did not decode (another serializer, damaged bytes): dropped. */
  readonly skipped: number;
}

/** An in-process layer that can list its live entries (`MemoryLayer`). */
interface ListingLayer extends SyncCacheLayer {
  entries(): Iterable<[string, CacheEntry]>;
}

const EXPORT_KEYS = new Set(['file', 'serializer']);
const IMPORT_KEYS = new Set(['serializer']);
const defaultSerializer = new MsgpackSerializer();

/** What the snapshots of a stack use. */
export interface SnapshotParts {
  readonly clock: Clock;
  readonly layers: readonly CacheLayer[];
  readonly tags: StackTags;
  /** The stack's `maxLifetime` (ms): restored deadlines past `createdAt` + this are capped (max-lifetime.ts). */
  readonly maxLifetime: number;
}

export class Snapshots {
  private readonly local: readonly ListingLayer[];

  constructor(private readonly parts: SnapshotParts) {
    this.local = parts.layers.filter(isListing);
  }

  /** The snapshot bytes, or `undefined` once written to `options.file`. */
  async export(options: ExportSnapshotOptions = {}): Promise<Buffer | undefined> {
    checkOptions(options);
    const serializer = options.serializer ?? defaultSerializer;
    const now = this.parts.clock.now();
    const seen = new Set<string>();
    const records: Buffer[] = [];
    for (const layer of this.local) {
      for (const [key, entry] of layer.entries()) {
        if (seen.has(key) || expiresAt(entry) <= now || undecodableReason(entry) !== undefined) continue;
        let envelope: Buffer;
        try {
          envelope = encodeEntry(entry, serializer);
        } catch {
          continue; // a value the serializer cannot represent stays out of the snapshot
        }
        seen.add(key);
        records.push(snapshotRecord(key, envelope));
      }
    }
    const header = snapshotHeader(records.length);
    if (options.file === undefined) return Buffer.concat([header, ...records]);
    await writeAtomically(options.file, [header, ...records]);
    return undefined;
  }

  async import(source: SnapshotSource, options: ImportSnapshotOptions = {}): Promise<SnapshotImportReport> {
    let bytes: Uint8Array;
    if (options !== null && typeof options === 'object') checkOptionKeys(options, IMPORT_KEYS, { at: 'importSnapshot' });
    let serializer = options.serializer ?? defaultSerializer;
    if (source instanceof Uint8Array) bytes = source;
    else if (source !== null && typeof source === 'object' && typeof source.file === 'string') {
      checkOptionKeys(source, EXPORT_KEYS, { at: 'importSnapshot' });
      serializer = source.serializer ?? serializer;
      try {
        bytes = await readFile(source.file);
      } catch (error) {
        throw new SnapshotError(`cannot read ${JSON.stringify(source.file)}`, { cause: error });
      }
    } else throw new InvalidOptionError('source', 'expected the bytes of a snapshot or { file }');
    const records = parseSnapshot(bytes);
    const now = this.parts.clock.now();
    let expired = 0;
    let skipped = 0;
    const live: { key: string; entry: CacheEntry }[] = [];
    for (const { key, envelope } of records) {
      const decoded = decodeEntry(envelope, serializer);
      const entry = decoded === undefined ? undefined : capDeadlines(decoded, decoded.createdAt + this.parts.maxLifetime);
      if (entry === undefined || undecodableReason(entry) !== undefined) skipped++;
      else if (expiresAt(entry) <= now) expired++;
      else live.push({ key, entry });
    }
    const valid = await this.parts.tags.validateShared(live.map((item) => item.entry));
    let imported = 0;
    let superseded = 0;
    for (let i = 0; i < live.length; i++) {
      const { key, entry } = live[i] as { key: string; entry: CacheEntry };
      if (valid[i] !== true) {
        superseded++;
        continue;
      }
      let stored = false;
      for (const layer of this.local) {
        const held = layer.get(key);
        if (held !== undefined && (held.version ?? 0) >= (entry.version ?? 0)) continue;
        const ttl = physicalTtl(entry, now, layer.ttl);
        if (ttl <= 0) continue;
        layer.set(key, entry, ttl, true);
        stored = true;
      }
      if (stored) imported++;
      else superseded++;
    }
    return { imported, expired, superseded, skipped };
  }
}

function isListing(layer: CacheLayer): layer is ListingLayer {
  return !layer.shared && (layer as { synchronous?: boolean }).synchronous === true && typeof (layer as { entries?: unknown }).entries === 'function';
}

function checkOptions(options: ExportSnapshotOptions): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected { file?, serializer? }');
  checkOptionKeys(options, EXPORT_KEYS, { at: 'exportSnapshot' });
  if (options.file !== undefined && (typeof options.file !== 'string' || options.file.length === 0)) throw new InvalidOptionError('file', 'expected a file path');
}

/** Writes `chunks` to a temp file beside `file`, flushed, then renames it over `file`. */
async function writeAtomically(file: string, chunks: readonly Buffer[]): Promise<void> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await open(temp, 'w');
  try {
    for (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
    await handle.close();
    await rename(temp, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
