/**
 * The file operations of `DiskLayer` on its directory: whole-file reads, atomic writes (a temp file in the
 * record's own sub-directory, then `rename` over the record: a reader in any process sees the old or the new
 * file whole) and unlinks, with the operations of this process on one file run in the order they were asked.
 * Hard part: the per-file queue, so that a delete never overtakes a write that started before it.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from './disk-index.js';

export class DiskFiles {
  /** The last operation queued per record path. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private temps = 0;

  constructor(
    private readonly directory: string,
    /** Makes this instance's temp file names unique among the processes of the host. */
    private readonly tempTag: string,
  ) {}

  /** The bytes of the file at `path` (relative to the directory), `undefined` when there is none. */
  async read(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.directory, path));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Writes `bytes` to a temp file beside `path`, then renames it over `path` (creating the sub-directory once). */
  async write(path: string, bytes: Buffer): Promise<void> {
    const dir = join(this.directory, path.slice(0, path.indexOf('/')));
    const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${this.tempTag}-${this.temps++}`);
    try {
      await writeFile(temp, bytes, { flag: 'wx' });
    } catch (error) {
      if (!isMissing(error)) throw error;
      await mkdir(dir, { recursive: true });
      await writeFile(temp, bytes, { flag: 'wx' });
    }
    try {
      await rename(temp, join(this.directory, path));
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /** Removes the file at `path`; a missing file is fine. */
  async unlink(path: string): Promise<void> {
    try {
      await unlink(join(this.directory, path));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Runs `operation` after the operations of this process already queued on `path`. */
  serial<T>(path: string, operation: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(path) ?? Promise.resolve()).then(operation);
    const tail = run.then(noop, noop);
    this.chains.set(path, tail);
    void tail.then(() => {
      if (this.chains.get(path) === tail) this.chains.delete(path);
    });
    return run;
  }

  /** Resolves once the operations of this process queued on `path` so far have settled. */
  async idle(path: string): Promise<void> {
    await this.chains.get(path);
  }

  /** Resolves once every operation queued so far has settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

function noop(): void {}
