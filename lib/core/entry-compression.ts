/**
 * Compression of an envelope's value payload (`RedisLayer({ compression })`, docs/storage.md "Compression"):
 * the options, and the bounded inflation every reader applies to a compressed entry, whatever its own setting.
 *
 * A compressed payload (flag bit 3 of the envelope, see entry-codec.ts) is:
 *   u8 algorithm (1 gzip, 2 brotli, 3 zstd), u32 LE inflated length, the compressed stream (gzip with its CRC,
 *   raw brotli, a zstd frame).
 * Hard parts: inflation is bounded twice — a declared length above `maxInflatedBytes` is refused before any
 * work, and zlib's `maxOutputLength` is set to the declared length, so a bomb that lies about its size stops
 * there (zlib allocates in 16 KiB chunks up to the limit, never the whole inflated size); an output of another
 * length is corrupt. The first byte (1..3, a msgpack fixint followed by more bytes) makes a reader of an earlier
 * version fail to decode the payload: a miss, never a wrong value.
 * Sync zlib calls: for a 17 KB JSON document, gzip takes ~0.2-0.5 ms and gunzip ~0.08 ms, brotli (quality 5)
 * ~0.15 ms / ~0.17 ms here, below a Redis round trip; async calls would add a thread-pool hop per entry.
 */
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { InvalidOptionError } from './errors.js';
import { checkOptionKeys } from './option-keys.js';

/** A compression algorithm of {@link CompressionOptions}. `zstd` needs a Node whose `node:zlib` has it (22.15+, 23.8+). */
export type CompressionAlgorithm = 'gzip' | 'brotli' | 'zstd';

/**
 * How a layer compresses values (`RedisLayer({ compression })`): an algorithm name alone takes the defaults.
 * Only the serialized value is compressed; the envelope's header and tags stay readable.
 */
export interface CompressionOptions {
  /** The algorithm. `zstd` only where the running Node's zlib has it (Node 22.15+ / 23.8+); else an error at construction. */
  algorithm: CompressionAlgorithm;
  /** Values whose serialized size exceeds this many bytes are compressed (smaller ones are stored as they are). @default 1024 */
  threshold?: number;
  /**
   * The algorithm's level: gzip 1-9 (default 6), brotli quality 0-11 (default 5: quality 11 takes ~25 ms for a
   * 17 KB document), zstd 1-22 (default 3).
   */
  level?: number;
}

/** The default bound on the inflated size of a compressed entry a layer reads (64 MiB). */
export const DEFAULT_MAX_INFLATED_BYTES = 64 * 1024 * 1024;
/** The default {@link CompressionOptions.threshold}: 1 KiB. */
export const DEFAULT_COMPRESSION_THRESHOLD = 1024;
/** The largest `maxInflatedBytes`: the largest Buffer, at most 4 GiB - 1 (the declared size is a u32). */
const MAX_INFLATED_LIMIT = Math.min(bufferConstants.MAX_LENGTH, 0xffff_ffff);
/** Bytes before the compressed stream: algorithm id and inflated length. */
export const COMPRESSED_PREFIX_BYTES = 5;

/** A validated compression setting, ready to compress payloads. */
export interface EntryCompression {
  readonly algorithm: CompressionAlgorithm;
  readonly threshold: number;
  readonly level: number;
  /** Compresses `payload` (the compressed stream only, without the 5-byte prefix). */
  readonly compress: (payload: Uint8Array) => Buffer;
}

type ZlibSync = (data: Uint8Array, options?: zlib.ZlibOptions) => Buffer;
/** `node:zlib` as seen at run time: the zstd functions exist only in newer Nodes. */
const runtimeZlib = zlib as unknown as Partial<Record<'zstdCompressSync' | 'zstdDecompressSync', ZlibSync>>;
/** `zlib.constants.ZSTD_c_compressionLevel` where Node has zstd (100, as in zstd.h). */
const ZSTD_COMPRESSION_LEVEL = (zlib.constants as unknown as Partial<Record<string, number>>).ZSTD_c_compressionLevel ?? 100;
const ALGORITHM_IDS: Readonly<Record<CompressionAlgorithm, number>> = { gzip: 1, brotli: 2, zstd: 3 };
const LEVELS: Readonly<Record<CompressionAlgorithm, { min: number; max: number; default: number }>> = {
  gzip: { min: 1, max: 9, default: 6 },
  brotli: { min: 0, max: 11, default: 5 },
  zstd: { min: 1, max: 22, default: 3 },
};
const KNOWN_KEYS = new Set(['algorithm', 'threshold', 'level']);

/** Whether the running Node's zlib has zstd. */
export function zstdAvailable(): boolean {
  return typeof runtimeZlib.zstdCompressSync === 'function' && typeof runtimeZlib.zstdDecompressSync === 'function';
}

/**
 * Checks a `compression` option (`option` names it in errors, e.g. `RedisLayer.compression`): `undefined` or
 * `false` for none, an algorithm name, or {@link CompressionOptions}.
 * @throws InvalidOptionError for anything else, an unknown key, a level out of range, or zstd on a Node without it.
 */
export function resolveCompression(value: unknown, option: string): EntryCompression | undefined {
  if (value === undefined || value === false) return undefined;
  const given = typeof value === 'string' ? { algorithm: value } : value;
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidOptionError(option, `expected 'gzip', 'brotli', 'zstd' or { algorithm, threshold, level }, got ${describe(value)}`);
  }
  checkOptionKeys(given, KNOWN_KEYS, { at: option });
  const { algorithm, threshold = DEFAULT_COMPRESSION_THRESHOLD, level } = given as Partial<Record<string, unknown>>;
  if (algorithm !== 'gzip' && algorithm !== 'brotli' && algorithm !== 'zstd') {
    throw new InvalidOptionError(typeof value === 'string' ? option : `${option}.algorithm`, `expected 'gzip', 'brotli' or 'zstd', got ${describe(algorithm)}`);
  }
  if (algorithm === 'zstd' && !zstdAvailable()) {
    throw new InvalidOptionError(option, `zstd needs Node 22.15+ or 23.8+ (node:zlib zstdCompressSync); this is Node ${process.version}: use 'gzip' or 'brotli'`);
  }
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 0) {
    throw new InvalidOptionError(`${option}.threshold`, `expected a whole number of bytes >= 0, got ${describe(threshold)}`);
  }
  const range = LEVELS[algorithm];
  const chosen = level ?? range.default;
  if (typeof chosen !== 'number' || !Number.isInteger(chosen) || chosen < range.min || chosen > range.max) {
    throw new InvalidOptionError(`${option}.level`, `expected a whole number from ${range.min} to ${range.max} for ${algorithm}, got ${describe(level)}`);
  }
  return Object.freeze({ algorithm, threshold, level: chosen, compress: compressor(algorithm, chosen) });
}

/**
 * Checks a `maxInflatedBytes` option (`option` names it in errors): a whole number of bytes from 1 up to the
 * largest Buffer. @default {@link DEFAULT_MAX_INFLATED_BYTES}
 */
export function checkMaxInflatedBytes(value: unknown, option: string): number {
  if (value === undefined) return DEFAULT_MAX_INFLATED_BYTES;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_INFLATED_LIMIT) {
    throw new InvalidOptionError(option, `expected a whole number of bytes from 1 to ${MAX_INFLATED_LIMIT}, got ${describe(value)}`);
  }
  return value;
}

/** Writes the 5-byte prefix of a compressed payload. */
export function writeCompressedPrefix(out: Buffer, offset: number, algorithm: CompressionAlgorithm, inflatedLength: number): void {
  out[offset] = ALGORITHM_IDS[algorithm];
  out.writeUInt32LE(inflatedLength, offset + 1);
}

/**
 * Inflates a compressed payload (prefix included): the serialized value, or a reason why not (a string) when
 * the algorithm is unknown or unavailable, the declared size is above `maxInflatedBytes`, or the data is corrupt.
 * Never throws; never allocates more than the declared size, itself at most `maxInflatedBytes`.
 */
export function inflatePayload(data: Uint8Array, maxInflatedBytes: number): Buffer | string {
  if (data.length < COMPRESSED_PREFIX_BYTES) return 'a compressed entry cut short (no room for its algorithm and size)';
  const id = data[0];
  const declared = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32LE(1);
  const stream = data.subarray(COMPRESSED_PREFIX_BYTES);
  let inflate: ZlibSync | undefined;
  if (id === ALGORITHM_IDS.gzip) inflate = zlib.gunzipSync;
  else if (id === ALGORITHM_IDS.brotli) inflate = zlib.brotliDecompressSync;
  else if (id === ALGORITHM_IDS.zstd) {
    inflate = runtimeZlib.zstdDecompressSync;
    if (inflate === undefined) return `a zstd-compressed entry, and this Node (${process.version}) has no zstd (22.15+ / 23.8+ has)`;
  } else return `a compressed entry of an unknown algorithm (id ${String(id)})`;
  if (declared > maxInflatedBytes) return `a compressed entry declaring ${declared} bytes inflated, above maxInflatedBytes (${maxInflatedBytes})`;
  if (declared === 0) return 'a compressed entry declaring an empty value';
  let inflated: Buffer;
  try {
    inflated = inflate(stream, { maxOutputLength: declared });
  } catch {
    return 'a compressed entry whose data is corrupt or inflates past its declared size';
  }
  return inflated.length === declared ? inflated : 'a compressed entry that inflates to another size than it declares';
}

function compressor(algorithm: CompressionAlgorithm, level: number): (payload: Uint8Array) => Buffer {
  if (algorithm === 'gzip') return (payload) => zlib.gzipSync(payload, { level });
  if (algorithm === 'brotli') {
    return (payload) =>
      zlib.brotliCompressSync(payload, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: payload.length },
      });
  }
  const zstd = runtimeZlib.zstdCompressSync as ZlibSync; // checked by resolveCompression
  return (payload) => zstd(payload, { params: { [ZSTD_COMPRESSION_LEVEL]: level } } as zlib.ZlibOptions);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  return value === null || typeof value !== 'object' ? String(value) : Array.isArray(value) ? 'an array' : 'an object';
}
