/**
 * What one `DiskLayer` instance knows of its directory: one row per record file (key, bytes, expiry), in order of
 * last access by this process (a Map re-inserted on access: the first row is the least recently used), and the
 * scan that builds and refreshes it from the directory.
 * Hard part: other processes write the same directory, so the index is a view, never the truth: a scan adds the
 * files it does not know (reading only their headers: bounded work, 28 bytes + the key per file, 64 files at a
 * time) and forgets the ones that are gone; every read goes to the file itself.
 */
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecordHeader, isFanOutDir, isRecordFile, RECORD_HEADER_BYTES, recordKeyLength } from './disk-record.js';

/** One record file as this process knows it. */
export interface IndexRow {
  /** The sub-directory and the file name (`ab/ab12...`), relative to the layer's directory. */
  readonly path: string;
  readonly key: string;
  readonly bytes: number;
  readonly expiresAt: number;
  /** The envelope's version and `freshUntil` when this process wrote or read it (NaN when only scanned). */
  readonly version: number;
  readonly freshUntil: number;
}

/** Temp files of writers that died are removed by a scan once they are this old (by their mtime). */
const STALE_TEMP_MS = 60_000;
/** The prefix of a temp file name (a dot: never a record name). */
export const TEMP_PREFIX = '.tmp-';

export class DiskIndex {
  private readonly rows = new Map<string, IndexRow>();
  /** Scans running, and the paths put or removed meanwhile (newer than what a scan found: it leaves them alone). */
  private scans = 0;
  private readonly changed = new Set<string>();
  /** Sum of the rows' bytes. */
  bytes = 0;

  get size(): number {
    return this.rows.size;
  }

  peek(path: string): IndexRow | undefined {
    return this.rows.get(path);
  }

  /** `remove` / `put` of the scan itself (not changes made meanwhile). */
  private forget(path: string): void {
    const row = this.rows.get(path);
    if (row === undefined) return;
    this.rows.delete(path);
    this.bytes -= row.bytes;
  }

  private insert(row: IndexRow): void {
    this.rows.set(row.path, row);
    this.bytes += row.bytes;
  }

  /** Records a row as the most recently used. */
  put(row: IndexRow): void {
    this.remove(row.path);
    if (this.scans > 0) this.changed.add(row.path);
    this.rows.set(row.path, row);
    this.bytes += row.bytes;
  }

  /** Marks a row as the most recently used. */
  used(path: string): void {
    const row = this.rows.get(path);
    if (row === undefined) return;
    this.rows.delete(path);
    this.rows.set(path, row);
  }

  remove(path: string): void {
    if (this.scans > 0) this.changed.add(path);
    const row = this.rows.get(path);
    if (row === undefined) return;
    this.rows.delete(path);
    this.bytes -= row.bytes;
  }

  /** The keys of live rows under `prefix` whose rest `matches`, stopping after `limit + 1` (see `CacheLayer.findKeys`). */
  find(prefix: string, matches: (rest: string) => boolean, limit: number, now: number): string[] {
    const found: string[] = [];
    for (const row of this.rows.values()) {
      if (row.expiresAt > now && row.key.startsWith(prefix) && matches(row.key.slice(prefix.length))) {
        found.push(row.key);
        if (found.length > limit) break;
      }
    }
    return found;
  }

  /** Rows from the least recently used on (a snapshot: the caller may change the index meanwhile). */
  oldestFirst(): IndexRow[] {
    return [...this.rows.values()];
  }

  /**
   * Forgets the rows expired at `now`, then the least recently used ones until at most `maxFiles` rows of at most
   * `maxSize` bytes are left; returns their paths (the caller removes the files).
   */
  trim(now: number, maxFiles: number, maxSize: number): { expired: string[]; evicted: string[] } {
    const expired: string[] = [];
    const evicted: string[] = [];
    for (const row of this.rows.values()) if (row.expiresAt <= now) expired.push(row.path);
    for (const path of expired) this.remove(path);
    for (const row of [...this.rows.values()]) {
      if (this.rows.size <= maxFiles && this.bytes <= maxSize) break;
      this.remove(row.path);
      evicted.push(row.path);
    }
    return { expired, evicted };
  }

  /**
   * Brings the index up to date with `root`: adds the record files it did not know (ordered among themselves by
   * mtime, oldest first, after the known ones), forgets the rows whose file is gone, removes temp files of dead
   * writers and files that are not records. Files are read only as far as their headers.
   */
  async scan(root: string, now: number): Promise<void> {
    this.scans++;
    try {
      await this.scanOnce(root, now);
    } finally {
      if (--this.scans === 0) this.changed.clear();
    }
  }

  private async scanOnce(root: string, now: number): Promise<void> {
    const seen = new Set<string>();
    const found: { row: IndexRow; mtime: number }[] = [];
    for (const dir of (await readdirQuiet(root)).filter(isFanOutDir)) {
      await inBatches(await readdirQuiet(join(root, dir)), async (name) => {
        const path = `${dir}/${name}`;
        if (name.startsWith(TEMP_PREFIX)) return removeStaleTemp(join(root, path), now);
        if (!isRecordFile(name)) return;
        seen.add(path);
        if (this.rows.has(path)) return;
        const read = await readHeader(join(root, path));
        if (read === 'garbage') await unlink(join(root, path)).catch(() => undefined);
        if (read === 'gone' || read === 'garbage') return;
        found.push({ row: { path, key: read.key, bytes: read.bytes, expiresAt: read.expiresAt, version: Number.NaN, freshUntil: Number.NaN }, mtime: read.mtime });
      });
    }
    // A row put or removed by a read, write or delete while the scan ran is newer than what the scan saw.
    const changed = this.changed;
    for (const path of [...this.rows.keys()]) if (!seen.has(path) && !changed.has(path)) this.forget(path);
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { row } of found) if (!changed.has(row.path) && !this.rows.has(row.path)) this.insert(row);
  }
}

/** Files opened at once by a scan or a bulk call (well under the usual limit of 1,024 open files). */
export const BULK_PARALLEL = 64;

/** `fn` of every item, at most {@link BULK_PARALLEL} at a time; results in order. */
export async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += BULK_PARALLEL) out.push(...(await Promise.all(items.slice(i, i + BULK_PARALLEL).map(fn))));
  return out;
}

async function readdirQuiet(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The header fields of the record file at `file`, `'gone'` when it vanished, `'garbage'` when it is no record. */
async function readHeader(file: string): Promise<{ key: string; expiresAt: number; bytes: number; mtime: number } | 'gone' | 'garbage'> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return 'gone';
  }
  try {
    const stat = await handle.stat();
    const head = Buffer.alloc(RECORD_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, RECORD_HEADER_BYTES, 0);
    const keyLength = recordKeyLength(head.subarray(0, bytesRead));
    if (keyLength < 0 || RECORD_HEADER_BYTES + keyLength > stat.size) return 'garbage';
    const whole = Buffer.alloc(RECORD_HEADER_BYTES + keyLength);
    head.copy(whole);
    await handle.read(whole, RECORD_HEADER_BYTES, keyLength, RECORD_HEADER_BYTES);
    const header = decodeRecordHeader(whole, false);
    if (typeof header === 'string') return 'garbage';
    return { key: header.key, expiresAt: header.expiresAt, bytes: stat.size, mtime: stat.mtimeMs };
  } catch {
    return 'gone';
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function removeStaleTemp(file: string, now: number): Promise<void> {
  try {
    const handle = await open(file, 'r');
    const stat = await handle.stat().finally(() => handle.close());
    if (stat.mtimeMs < now - STALE_TEMP_MS) await unlink(file);
  } catch {
    // Renamed or removed meanwhile: nothing to do.
  }
}
