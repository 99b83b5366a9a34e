/**
 * Options of `MemcachedLayer`, their defaults and their validation (errors name `MemcachedLayer.<option>`; an
 * unknown option is an error). Nothing connects here: memjs connects on the first command.
 */
import { toOptionalMilliseconds, type Duration } from '../core/duration.js';
import { checkMaxInflatedBytes, resolveCompression, type CompressionAlgorithm, type CompressionOptions, type EntryCompression } from '../core/entry-compression.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_LAYER_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { MsgpackSerializer } from '../core/msgpack.serializer.js';
import { describeValue } from '../core/option-values.js';
import type { Serializer } from '../core/serializer.js';
import { isMemcachedClient, type MemcachedClient } from './memcached-client.js';

/** Options of `MemcachedLayer`. Give `servers` (the layer opens and closes its client) or `client` (yours). */
export interface MemcachedLayerOptions {
  /**
   * The servers, `'host:port'` or `'user:password@host:port'` each (SASL), as an array or one comma-separated string.
   * Keys are spread over them by memjs (a hash of the key modulo the number of servers).
   */
  servers?: string | readonly string[];
  /** A memjs client you created (`memjs.Client.create(...)`); the layer never closes it. */
  client?: MemcachedClient;
  /** Prefix of every key this layer writes. @default 'lc:' */
  prefix?: string;
  /** Longest time a copy stays in this layer (seconds as a number, or a string with a unit). @default no cap */
  ttl?: Duration;
  /** Turns values into bytes (the envelope is the same as Redis'). @default new MsgpackSerializer() */
  serializer?: Serializer;
  /** The layer's name in metrics, events and log lines. @default 'memcached' */
  name?: string;
  /** Compresses larger values, as `RedisLayer`'s option of the same name does. @default none */
  compression?: CompressionAlgorithm | CompressionOptions;
  /** The largest inflated size of a compressed entry read (see `RedisLayer`). @default 67108864 (64 MiB) */
  maxInflatedBytes?: number;
  /**
   * How long memjs waits for a server's answer before it takes the connection as failed, in seconds (memjs's own
   * `timeout`). The stack bounds every command by its `layerTimeout` anyway. @default 0.5
   */
  timeout?: number;
}

/** The options `MemcachedLayer` knows; any other key is an error. */
const MEMCACHED_LAYER_OPTION_KEYS = new Set(['servers', 'client', 'prefix', 'ttl', 'serializer', 'name', 'compression', 'maxInflatedBytes', 'timeout']);

/** Defaults of {@link MemcachedLayerOptions}. */
export const DEFAULT_MEMCACHED_LAYER_OPTIONS = Object.freeze({ prefix: 'lc:', name: 'memcached', timeout: 0.5 });

/** Longest prefix accepted: a key is prefix + at most a 44-character hash when the whole would not fit 250 bytes. */
const MAX_PREFIX_BYTES = 200;

/** {@link MemcachedLayerOptions} checked, with their defaults. */
export interface ResolvedMemcachedLayerOptions {
  /** The servers to open a client on, or `undefined` when `client` was given. */
  readonly servers: readonly string[] | undefined;
  readonly client: MemcachedClient | undefined;
  readonly prefix: string;
  readonly ttl: number | undefined;
  readonly name: string;
  readonly serializer: Serializer;
  readonly compression: EntryCompression | undefined;
  readonly maxInflatedBytes: number;
  readonly timeout: number;
}

/** Checks `options` of `new MemcachedLayer(options)`. @throws InvalidOptionError naming the option. */
export function resolveMemcachedLayerOptions(options: MemcachedLayerOptions): ResolvedMemcachedLayerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('MemcachedLayer', "expected an options object: new MemcachedLayer({ servers: ['localhost:11211'] })");
  }
  checkOptionKeys(options, MEMCACHED_LAYER_OPTION_KEYS, { at: 'MemcachedLayer', renamed: FOREIGN_LAYER_OPTIONS });
  const { servers, client } = checkConnection(options);
  const prefix = options.prefix ?? DEFAULT_MEMCACHED_LAYER_OPTIONS.prefix;
  if (typeof prefix !== 'string' || Buffer.byteLength(prefix) > MAX_PREFIX_BYTES || hasSpaceOrControl(prefix)) {
    throw new InvalidOptionError('MemcachedLayer.prefix', `expected a string of at most ${MAX_PREFIX_BYTES} bytes without spaces or control characters, got ${describeValue(prefix)}`);
  }
  const ttl = toOptionalMilliseconds(options.ttl, 'MemcachedLayer.ttl');
  if (ttl !== undefined && ttl < 1_000) throw new InvalidOptionError('MemcachedLayer.ttl', 'must be at least 1 second (Memcached counts whole seconds; omit it for no cap)');
  const name = options.name ?? DEFAULT_MEMCACHED_LAYER_OPTIONS.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('MemcachedLayer.name', `expected a non-empty string, got ${describeValue(name)}`);
  }
  const serializer = options.serializer ?? new MsgpackSerializer();
  if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new InvalidOptionError('MemcachedLayer.serializer', 'expected an object with encode(value) and decode(bytes)');
  }
  const timeout = options.timeout ?? DEFAULT_MEMCACHED_LAYER_OPTIONS.timeout;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidOptionError('MemcachedLayer.timeout', `expected a positive number of seconds, got ${describeValue(timeout)}`);
  }
  return {
    servers,
    client,
    prefix,
    ttl,
    name,
    serializer,
    compression: resolveCompression(options.compression, 'MemcachedLayer.compression'),
    maxInflatedBytes: checkMaxInflatedBytes(options.maxInflatedBytes, 'MemcachedLayer.maxInflatedBytes'),
    timeout,
  };
}

/** `servers` or `client`, exactly one of them. */
function checkConnection(options: MemcachedLayerOptions): { servers: readonly string[] | undefined; client: MemcachedClient | undefined } {
  if (options.client !== undefined) {
    if (options.servers !== undefined) throw new InvalidOptionError('MemcachedLayer.client', 'give either servers or client, not both');
    if (!isMemcachedClient(options.client)) throw new InvalidOptionError('MemcachedLayer.client', 'expected a memjs client (memjs.Client.create(...))');
    return { servers: undefined, client: options.client };
  }
  const given = options.servers;
  const list = typeof given === 'string' ? given.split(',') : given;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionError('MemcachedLayer.servers', `expected 'host:port' strings (or a client), got ${describeValue(given)}`);
  }
  const servers = list.map((server: unknown) => (typeof server === 'string' ? server.trim() : server));
  const bad = servers.find((server) => typeof server !== 'string' || !/^([^@\s]+@)?[^\s:@,]+(:\d{1,5})?$/.test(server));
  if (bad !== undefined) throw new InvalidOptionError('MemcachedLayer.servers', `expected 'host:port' or 'user:password@host:port', got ${describeValue(bad)}`);
  return { servers: servers as string[], client: undefined };
}

/** Whether `text` holds a space or a control character, which Memcached's text protocol forbids in keys. */
function hasSpaceOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}
