/**
 * The module's `snapshot: { file }` option, for warm restarts: the in-process layers are restored from the file
 * when the module initialises (before the app serves) and written to it when the app shuts down, in
 * `beforeApplicationShutdown` — after `onModuleDestroy` hooks, before `onApplicationShutdown` closes the stack.
 * Hard part: nothing here may stop the app — a missing file is a cold start, a bad one or a failed write is logged.
 */
import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { CacheLogger } from '../core/logger.js';
import type { CacheStack } from '../stack/cache-stack.js';

/** The module's `snapshot` option. */
export interface LayerCacheSnapshotOptions {
  /** The snapshot file: read at startup (missing: a cold start), written atomically at shutdown. */
  file: string;
}

const SNAPSHOT_KEYS = new Set(['file']);

/** Checks the `snapshot` option (eagerly, in `forRoot`). */
export function checkSnapshotOption(snapshot: unknown): void {
  if (snapshot === null || typeof snapshot !== 'object' || Array.isArray(snapshot)) throw new InvalidOptionError('snapshot', 'expected { file }');
  checkOptionKeys(snapshot, SNAPSHOT_KEYS, { at: 'snapshot' });
  const { file } = snapshot as { file?: unknown };
  if (typeof file !== 'string' || file.trim().length === 0) throw new InvalidOptionError('snapshot.file', `expected a file path, got ${JSON.stringify(file) ?? String(file)}`);
}

/** Restores and writes the snapshot of one registration (a factory provider of `defineStackModule`). */
export class LayerCacheSnapshot implements OnModuleInit, BeforeApplicationShutdown {
  constructor(
    /** The stack the module built; `undefined` in test mode or under an overridden stack provider (no snapshot). */
    private readonly stack: CacheStack | undefined,
    private readonly options: LayerCacheSnapshotOptions | undefined,
    /** The registration's logger (`StackResources.logger`). */
    private readonly logger: CacheLogger,
    /** The registration's name, for log lines. */
    private readonly name: string,
  ) {}

  /** Restores the snapshot; a missing file is fine, a bad one is logged. Never throws. */
  async onModuleInit(): Promise<void> {
    const file = this.options?.file;
    if (file === undefined || this.stack === undefined) return;
    const label = `LayerCacheModule: snapshot of stack "${this.name}" (${file})`;
    try {
      const report = await this.stack.importSnapshot({ file });
      this.logger.log?.(`${label} restored: ${report.imported} imported, ${report.expired} expired, ${report.superseded} superseded, ${report.skipped} skipped`);
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code === 'ENOENT') return;
      this.logSafely(`${label} not restored: ${describe(error)}; the app starts cold`);
    }
  }

  /** Writes the snapshot before the stack closes. Never throws. */
  async beforeApplicationShutdown(): Promise<void> {
    const file = this.options?.file;
    if (file === undefined || this.stack === undefined) return;
    try {
      await this.stack.exportSnapshot({ file });
    } catch (error) {
      this.logSafely(`LayerCacheModule: snapshot of stack "${this.name}" not written to ${file}: ${describe(error)}`);
    }
  }

  private logSafely(message: string): void {
    try {
      this.logger.error(message);
    } catch {
      // a logger that throws must not stop the app either
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
