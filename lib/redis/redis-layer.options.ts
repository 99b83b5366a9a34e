/**
 * The options of `RedisLayer` and their checks (every error names `RedisLayer.<option>`; an unknown key is one).
 */
import { toOptionalMilliseconds, type Duration } from '../core/duration.js';
import { checkMaxInflatedBytes, resolveCompression, type CompressionAlgorithm, type CompressionOptions, type EntryCompression } from '../core/entry-compression.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_LAYER_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { MsgpackSerializer } from '../core/msgpack.serializer.js';
import type { Serializer } from '../core/serializer.js';
import { checkRedisClient, checkRedisPrefix, type RedisClient } from './redis-client.js';

/** Options of {@link RedisLayer}. */
export interface RedisLayerOptions {
  /**
   * The ioredis client (`new Redis(...)`, or a `Cluster`: see {@link RedisLayer} for how bulk calls are split
   * by hash slot). The layer never closes it: its lifecycle belongs to whoever created it.
   */
  client: RedisClient;
  /**
   * Prefix of every key this layer writes; the layer never reads, writes or clears keys outside it. On a Redis
   * Cluster, a prefix with a hash tag (`'{lc}:'`) pins every key of the layer to one slot. @default 'lc:'
   */
  prefix?: string;
  /** Longest time a copy stays in this layer (seconds as a number, or a string with a unit). @default no cap */
  ttl?: Duration;
  /** Turns values into bytes. @default new MsgpackSerializer() */
  serializer?: Serializer;
  /** The layer's name in metrics, events and log lines. @default 'redis' */
  name?: string;
  /**
   * Compresses values whose serialized size exceeds a threshold (1 KiB by default): `'gzip'`, `'brotli'`, `'zstd'`
   * (only on a Node whose zlib has it: 22.15+ / 23.8+) or {@link CompressionOptions}. Only the value is
   * compressed (the header stays readable by the layer's Lua scripts), and only when that makes it smaller.
   * Whatever this setting, the layer reads entries written with or without compression. @default none
   */
  compression?: CompressionAlgorithm | CompressionOptions;
  /**
   * The largest inflated size (bytes) of a compressed entry this layer reads, whatever its own `compression`: a
   * larger (or corrupt) one reads as undecodable (a miss, counted and logged), without inflating it further.
   * @default 67108864 (64 MiB)
   */
  maxInflatedBytes?: number;
}

/** The options {@link RedisLayer} knows; any other key is an error. */
const REDIS_LAYER_OPTION_KEYS = new Set(['client', 'prefix', 'ttl', 'serializer', 'name', 'compression', 'maxInflatedBytes']);

/** Defaults of {@link RedisLayerOptions}. */
export const DEFAULT_REDIS_LAYER_OPTIONS = Object.freeze({ prefix: 'lc:', name: 'redis' });

/** {@link RedisLayerOptions} checked, with their defaults. */
export interface ResolvedRedisLayerOptions {
  readonly client: RedisClient;
  readonly prefix: string;
  readonly ttl: number | undefined;
  readonly name: string;
  readonly serializer: Serializer;
  readonly compression: EntryCompression | undefined;
  readonly maxInflatedBytes: number;
}

/** Checks `options` of `new RedisLayer(options)`. @throws InvalidOptionError naming the option. */
export function resolveRedisLayerOptions(options: RedisLayerOptions): ResolvedRedisLayerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('RedisLayer', 'expected an options object: new RedisLayer({ client })');
  }
  checkOptionKeys(options, REDIS_LAYER_OPTION_KEYS, { at: 'RedisLayer', renamed: FOREIGN_LAYER_OPTIONS });
  const client = checkRedisClient('RedisLayer.client', options.client);
  const prefix = checkRedisPrefix('RedisLayer.prefix', options.prefix ?? DEFAULT_REDIS_LAYER_OPTIONS.prefix);
  const ttl = toOptionalMilliseconds(options.ttl, 'RedisLayer.ttl');
  if (ttl !== undefined && ttl < 1) {
    throw new InvalidOptionError('RedisLayer.ttl', 'must be at least 1 ms (omit it for no cap)');
  }
  const name = options.name ?? DEFAULT_REDIS_LAYER_OPTIONS.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('RedisLayer.name', `expected a non-empty string, got ${JSON.stringify(name)}`);
  }
  const serializer = options.serializer ?? new MsgpackSerializer();
  if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new InvalidOptionError('RedisLayer.serializer', 'expected an object with encode(value) and decode(bytes)');
  }
  return {
    client,
    prefix,
    ttl,
    name,
    serializer,
    compression: resolveCompression(options.compression, 'RedisLayer.compression'),
    maxInflatedBytes: checkMaxInflatedBytes(options.maxInflatedBytes, 'RedisLayer.maxInflatedBytes'),
  };
}
