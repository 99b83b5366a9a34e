/**
 * Options of `MemoryLayer`, their defaults and their validation. The byte budget's default depends on the
 * process: 64 MiB, or an eighth of V8's heap limit when that is smaller (a small container), read once
 * when this module is loaded.
 */
import { describeValue, positiveInteger } from '../core/option-values.js';
import { getHeapStatistics } from 'node:v8';
import { toOptionalMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_LAYER_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';

/** Options of `MemoryLayer`. */
export interface MemoryLayerOptions {
  /** Longest time a copy stays in this layer, whatever the entry's own ttl. @default no cap */
  ttl?: Duration;
  /** Most entries kept; the least recently used goes first. @default 10_000 */
  maxSize?: number;
  /**
   * Most bytes kept, as estimated per entry (key + envelope + value, see `sizeOf`); the least recently used
   * entries go first. @default 64 MiB, or 1/8 of the V8 heap limit when that is smaller (`DEFAULT_MEMORY_LAYER_OPTIONS.maxBytes`)
   */
  maxBytes?: number;
  /**
   * The largest entry kept (same estimate): a larger one is not stored in this layer (it still goes to the
   * slower layers) and is counted in `stats().oversized`. At most `maxBytes`. @default maxBytes / 8
   */
  maxEntryBytes?: number;
  /**
   * The size of a value in bytes; the layer adds the key and the envelope. A throw or a result that is not a
   * finite number >= 0 falls back to the default. @default a structural estimate (`estimateSize`)
   */
  sizeOf?: (value: unknown, key: string) => number;
  /** The layer's name in metrics and events. @default 'memory' */
  name?: string;
}

/** The byte budget an entry may take at most by default, as a fraction of `maxBytes`. */
export const DEFAULT_ENTRY_BYTES_DIVISOR = 8;

/** The default `maxBytes` ceiling: 64 MiB. */
export const DEFAULT_MAX_BYTES_CEILING = 64 * 1024 * 1024;

/**
 * The default `maxBytes` of this process: 64 MiB, or an eighth of V8's heap limit
 * (`v8.getHeapStatistics().heap_size_limit`, which follows `--max-old-space-size`) when that is smaller.
 */
export function defaultMemoryMaxBytes(): number {
  let limit = Number.POSITIVE_INFINITY;
  try {
    limit = getHeapStatistics().heap_size_limit;
  } catch {
    // A runtime without V8 statistics: the fixed ceiling.
  }
  const share = Math.floor(limit / 8);
  return Number.isSafeInteger(share) && share > 0 && share < DEFAULT_MAX_BYTES_CEILING ? share : DEFAULT_MAX_BYTES_CEILING;
}

/** Defaults of {@link MemoryLayerOptions} (`maxEntryBytes` is `maxBytes / 8`). */
export const DEFAULT_MEMORY_LAYER_OPTIONS = Object.freeze({ maxSize: 10_000, maxBytes: defaultMemoryMaxBytes(), name: 'memory' });

/** The options of a layer, checked and completed. */
export interface ResolvedMemoryLayerOptions {
  readonly name: string;
  readonly ttl: number | undefined;
  readonly maxSize: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly sizeOf: ((value: unknown, key: string) => number) | undefined;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['ttl', 'maxSize', 'maxBytes', 'maxEntryBytes', 'sizeOf', 'name']);

/** Checks `options` (errors name `MemoryLayer.<option>`) and fills in the defaults. */
export function resolveMemoryLayerOptions(options: MemoryLayerOptions): ResolvedMemoryLayerOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('MemoryLayer', `expected an options object, got ${describeValue(options)}`);
  }
  checkOptionKeys(options, KNOWN_OPTIONS, { at: 'MemoryLayer', renamed: FOREIGN_LAYER_OPTIONS });
  const name = options.name === undefined ? DEFAULT_MEMORY_LAYER_OPTIONS.name : options.name;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('MemoryLayer.name', `expected a non-empty string, got ${describeValue(name)}`);
  const ttl = toOptionalMilliseconds(options.ttl, 'MemoryLayer.ttl');
  if (ttl === 0) throw new InvalidOptionError('MemoryLayer.ttl', 'must be greater than 0');
  const maxSize = positiveInteger('MemoryLayer.maxSize', options.maxSize === undefined ? DEFAULT_MEMORY_LAYER_OPTIONS.maxSize : options.maxSize, 'entries');
  const maxBytes = positiveInteger('MemoryLayer.maxBytes', options.maxBytes === undefined ? DEFAULT_MEMORY_LAYER_OPTIONS.maxBytes : options.maxBytes, 'bytes');
  const entryDefault = Math.max(1, Math.floor(maxBytes / DEFAULT_ENTRY_BYTES_DIVISOR));
  const maxEntryBytes = positiveInteger('MemoryLayer.maxEntryBytes', options.maxEntryBytes === undefined ? entryDefault : options.maxEntryBytes, 'bytes');
  if (maxEntryBytes > maxBytes) {
    throw new InvalidOptionError('MemoryLayer.maxEntryBytes', `must not exceed maxBytes (${maxBytes}), got ${maxEntryBytes}`);
  }
  const { sizeOf } = options;
  if (sizeOf !== undefined && typeof sizeOf !== 'function') {
    throw new InvalidOptionError('MemoryLayer.sizeOf', `expected a function (value, key) => bytes, got ${describeValue(sizeOf)}`);
  }
  return { name, ttl, maxSize, maxBytes, maxEntryBytes, sizeOf };
}
