/**
 * Options of `DiskLayer`, their defaults and their validation (errors name `DiskLayer.<option>`; an unknown
 * option is an error). The directory is taken as given (resolved to an absolute path); nothing is created here.
 */
import { describeValue, positiveInteger } from '../core/option-values.js';
import { resolve } from 'node:path';
import { toMilliseconds, toOptionalMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_LAYER_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';
import type { Serializer } from '../core/serializer.js';
import { MsgpackSerializer } from '../core/msgpack.serializer.js';

/** Options of `DiskLayer`. */
export interface DiskLayerOptions {
  /**
   * The directory of the layer's files, created when missing. Use one directory per cache: the layer owns every
   * file under it (`clear()` removes them all). Several processes of one host may share it.
   */
  directory: string;
  /** Most records kept; the least recently used go first (see `DiskLayer`, "Bounds"). @default 50_000 */
  maxFiles?: number;
  /** Most bytes of records kept (the sum of the file sizes); the least recently used go first. @default 256 MiB */
  maxSize?: number;
  /** Longest time a copy stays in this layer (seconds as a number, or a string with a unit). @default no cap */
  ttl?: Duration;
  /** Turns values into bytes (the envelope is the same as Redis'). @default new MsgpackSerializer() */
  serializer?: Serializer;
  /** The layer's name in metrics, events and log lines. @default 'disk' */
  name?: string;
  /**
   * How often expired records are removed and the index is brought up to date with what other processes wrote
   * (a rescan of the directory), on the stack's clock. @default '1m'
   */
  sweepInterval?: Duration;
}

/** What a `DiskLayer` holds and has done, from `stats()` (this process's view). */
export interface DiskLayerStats {
  /** Record files known (expired ones not yet removed included). */
  readonly files: number;
  /** Bytes of those files. */
  readonly bytes: number;
  readonly maxFiles: number;
  readonly maxSize: number;
  /** Records removed to stay within `maxFiles` / `maxSize`. */
  readonly evictions: number;
  /** Expired records removed (on read or by the sweep). */
  readonly expired: number;
  /** Writes not kept because the record alone is larger than `maxSize`. */
  readonly oversized: number;
  /** Reads of a file that was not a whole record of its key (damaged, truncated, foreign): misses. */
  readonly undecodable: number;
  /** Sweeps run. */
  readonly sweeps: number;
}

/** Defaults of {@link DiskLayerOptions}. */
export const DEFAULT_DISK_LAYER_OPTIONS = Object.freeze({ maxFiles: 50_000, maxSize: 256 * 1024 * 1024, name: 'disk', sweepInterval: '1m' as Duration });

/** The options of a layer, checked and completed. */
export interface ResolvedDiskLayerOptions {
  readonly directory: string;
  readonly maxFiles: number;
  readonly maxSize: number;
  readonly ttl: number | undefined;
  readonly serializer: Serializer;
  readonly name: string;
  readonly sweepInterval: number;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['directory', 'maxFiles', 'maxSize', 'ttl', 'serializer', 'name', 'sweepInterval']);

/** Checks `options` and fills in the defaults. */
export function resolveDiskLayerOptions(options: DiskLayerOptions): ResolvedDiskLayerOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('DiskLayer', `expected an options object: new DiskLayer({ directory }), got ${describeValue(options)}`);
  }
  checkOptionKeys(options, KNOWN_OPTIONS, { at: 'DiskLayer', renamed: FOREIGN_LAYER_OPTIONS });
  const { directory } = options;
  if (typeof directory !== 'string' || directory.trim().length === 0 || directory.includes('\u0000')) {
    throw new InvalidOptionError('DiskLayer.directory', `expected a non-empty path, got ${describeValue(directory)}`);
  }
  const name = options.name ?? DEFAULT_DISK_LAYER_OPTIONS.name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('DiskLayer.name', `expected a non-empty string, got ${describeValue(name)}`);
  const ttl = toOptionalMilliseconds(options.ttl, 'DiskLayer.ttl');
  if (ttl !== undefined && ttl < 1) throw new InvalidOptionError('DiskLayer.ttl', 'must be at least 1 ms (omit it for no cap)');
  const sweepInterval = toMilliseconds(options.sweepInterval ?? DEFAULT_DISK_LAYER_OPTIONS.sweepInterval, 'DiskLayer.sweepInterval');
  if (!(sweepInterval >= 1000)) throw new InvalidOptionError('DiskLayer.sweepInterval', `must be at least 1 second, got ${sweepInterval} ms`);
  const serializer = options.serializer ?? new MsgpackSerializer();
  if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new InvalidOptionError('DiskLayer.serializer', 'expected an object with encode(value) and decode(bytes)');
  }
  return {
    directory: resolve(directory),
    maxFiles: positiveInteger('DiskLayer.maxFiles', options.maxFiles ?? DEFAULT_DISK_LAYER_OPTIONS.maxFiles, 'files'),
    maxSize: positiveInteger('DiskLayer.maxSize', options.maxSize ?? DEFAULT_DISK_LAYER_OPTIONS.maxSize, 'bytes'),
    ttl,
    serializer,
    name,
    sweepInterval,
  };
}
