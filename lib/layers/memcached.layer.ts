/**
 * `MemcachedLayer`, a shared layer (L2) on Memcached through memjs (an optional peer): entries as the same binary
 * envelopes as Redis under `prefix + key`, "write if newer" and `touch` as compare-and-swap loops on the value's
 * CAS token (memcached-client.ts).
 *
 * Why memjs: it is the Memcached client other Node caches build on (Keyv's @keyv/memcache), kept up, with no
 * dependencies, and it speaks the binary protocol, whose keys are plain bytes (the stack's namespace separators
 * are control characters) and whose replies carry the CAS token fencing needs. The `memcached` package is
 * unmaintained since 2017; memcache-client speaks the text protocol only.
 *
 * What Memcached cannot do, and what the layer does instead:
 * - List keys. `clearsByPrefix` is false: the stack clears a scope (`clear()`, a namespace's `clear()`) by moving
 *   it to a new generation (`bumpGeneration`), so the layer's old entries are never read again and age out by
 *   their ttl; `clear` itself does nothing here. `invalidateByPrefix` / `invalidateByPattern` reject with
 *   `InvalidationScanError` rather than leave this layer's copies behind (use tags or `bumpGeneration`).
 * - Keep tag records or locks: it evicts whatever it likes, and a lost tag record would revive invalidated
 *   entries. The layer offers no tag store and no revalidation lock; the stack's tag store decides (a Redis one
 *   when several processes share the layer, docs/storage.md "MemcachedLayer").
 * - Store a value over its item size limit (1 MiB by default, `memcached -I`): the write is not kept, the key's
 *   older copy is deleted so it cannot outlive the write, and it is logged once (not a failure of the layer).
 * - Keys over 250 bytes: such a key is stored under prefix + U+001D + the SHA-256 of the key (base64url).
 *
 * Expiry: Memcached counts whole seconds; a copy is kept `ceil(ttlMs / 1000)` seconds (the envelope's own
 * deadlines stay exact), and a ttl over 30 days is sent as a Unix time, which the server reads on its own clock.
 * Fencing: "if newer" reads the held value with its CAS token, compares versions at the envelope's fixed offset,
 * then writes with that token (or ADD where nothing is held) and starts over when another write came between;
 * after `MAX_CAS_ROUNDS` contended rounds it deletes the key (a miss is never stale).
 */
import { noteLikelyMilliseconds } from '../core/duration.js';
import { createHash } from 'node:crypto';
import type { CacheEntry } from '../core/entry.js';
import { decodeEntry, encodeEntry, ENTRY_DEADLINES_OFFSET, ENTRY_EXTENSION_TTL_OFFSET, ENTRY_VERSION_OFFSET, hasEnvelopeMagic } from '../core/entry-codec.js';
import type { EntryCompression } from '../core/entry-compression.js';
import { EntryEncodeError } from '../core/errors.js';
import type { CacheLayer, LayerContext, LayerWrite } from '../core/layer.js';
import { consoleLogger, type CacheLogger } from '../core/logger.js';
import type { Serializer } from '../core/serializer.js';
import { MemcachedCommands, openMemcachedClient, type MemcachedClient, type StoreResult } from './memcached-client.js';
import { resolveMemcachedLayerOptions, type MemcachedLayerOptions } from './memcached-layer.options.js';

export { DEFAULT_MEMCACHED_LAYER_OPTIONS, type MemcachedLayerOptions } from './memcached-layer.options.js';

/** Memcached's longest key, in bytes. */
const MAX_KEY_BYTES = 250;
/** Marks a key stored by its hash (a control character: no entry key has it right after the prefix). */
const HASHED_KEY_MARK = '\u001d';
/** Longest relative expiration Memcached accepts; beyond it the number is a Unix time. */
const MAX_RELATIVE_SECONDS = 30 * 24 * 3600;
/** Compare-and-swap rounds of one "if newer" write before it gives up and deletes the key. */
const MAX_CAS_ROUNDS = 8;
/** Bytes of the fixed envelope header (see entry-codec.ts). */
const HEADER_BYTES = ENTRY_EXTENSION_TTL_OFFSET;

/**
 * The shared layer (L2) on Memcached. One command per key (memjs sends the commands of a bulk call without waiting
 * for each answer, on one connection per server); see the file header for what differs from `RedisLayer`.
 *
 * @example
 * new CacheStack({ layers: [new MemoryLayer(), new MemcachedLayer({ servers: ['memcached:11211'] })] });
 */
export class MemcachedLayer implements CacheLayer {
  readonly name: string;
  readonly shared = true;
  readonly ttl: number | undefined;
  /** Memcached cannot find keys by prefix: the stack clears by generation (see the file header). */
  readonly clearsByPrefix = false;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: MemcachedClient;
  private readonly ownsClient: boolean;
  private readonly commands: MemcachedCommands;
  private readonly serializer: Serializer;
  private readonly compression: EntryCompression | undefined;
  private readonly maxInflatedBytes: number;
  private logger: CacheLogger = consoleLogger;
  private tooLargeLogged = false;

  constructor(options: MemcachedLayerOptions) {
    const resolved = resolveMemcachedLayerOptions(options);
    noteLikelyMilliseconds(this, options.ttl, 'MemcachedLayer.ttl');
    this.name = resolved.name;
    this.ttl = resolved.ttl;
    this.prefix = resolved.prefix;
    this.serializer = resolved.serializer;
    this.compression = resolved.compression;
    this.maxInflatedBytes = resolved.maxInflatedBytes;
    this.ownsClient = resolved.client === undefined;
    // retries: 1 is one attempt: the stack's guard decides about failures (timeout, back-off, probe).
    this.client =
      resolved.client ??
      openMemcachedClient(resolved.servers ?? [], { retries: 1, timeout: resolved.timeout, logger: { log: (...parts: unknown[]) => this.logger.debug?.(`${this.name}: ${parts.join(' ')}`) } });
    this.commands = new MemcachedCommands(this.client);
  }

  attach(context: LayerContext): void {
    this.logger = context.logger;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const held = await this.commands.get(this.physical(key));
    return decodeEntry(held?.value, this.serializer, this.maxInflatedBytes);
  }

  /** One GET per key, sent together. */
  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  /**
   * SET with the copy's expiry; with `ifNewer`, a compare-and-swap loop on the held version (file header).
   * @throws EntryEncodeError (as a rejection) when the serializer cannot encode the value; nothing is written.
   */
  async set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): Promise<void> {
    await this.write(this.physical(key), this.encode(key, entry), entry.version ?? 0, expiresOf(ttlMs), ifNewer === true);
  }

  /** Every write sent together (each is atomic, the batch is not). @throws EntryEncodeError when one value cannot be encoded; then nothing is written. */
  async setMany(items: readonly LayerWrite[]): Promise<void> {
    const encoded = items.map((item) => this.encode(item.key, item.entry));
    await Promise.all(items.map((item, i) => this.write(this.physical(item.key), encoded[i] as Buffer, item.entry.version ?? 0, expiresOf(item.ttlMs), item.ifNewer === true)));
  }

  /** One DELETE per key, sent together. */
  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.commands.delete(this.physical(key))));
  }

  /** Does nothing: Memcached cannot find keys by prefix, so the stack clears this layer by generation (file header). */
  async clear(): Promise<void> {}

  /**
   * Extends the copy under `key` to `entry`'s deadlines (see `CacheLayer.touch`): reads it with its CAS token, and
   * writes back the same bytes with the new deadlines (and extension ttl) only when it is an envelope of `entry`'s
   * version with an earlier `freshUntil`, with that token, so a write that came between wins.
   */
  async touch(key: string, entry: CacheEntry, ttlMs: number): Promise<boolean> {
    const physical = this.physical(key);
    const held = await this.commands.get(physical);
    if (held === undefined || !isEnvelope(held.value) || held.value.readDoubleLE(ENTRY_VERSION_OFFSET) !== (entry.version ?? 0)) return false;
    if (held.value.readDoubleLE(ENTRY_DEADLINES_OFFSET) >= entry.freshUntil) return false;
    const moved = Buffer.from(held.value);
    moved.writeDoubleLE(entry.freshUntil, ENTRY_DEADLINES_OFFSET);
    moved.writeDoubleLE(entry.staleUntil, ENTRY_DEADLINES_OFFSET + 8);
    moved.writeDoubleLE(entry.errorUntil, ENTRY_DEADLINES_OFFSET + 16);
    if (((moved[3] as number) & 1) === 1 && moved.length >= HEADER_BYTES + 8) moved.writeDoubleLE(entry.freshness?.ttl ?? 0, ENTRY_EXTENSION_TTL_OFFSET);
    return (await this.commands.store(physical, moved, expiresOf(ttlMs), { cas: held.cas })) === 'stored';
  }

  /** The stack's health check while the layer is in its back-off window: VERSION on every server. */
  async probe(): Promise<void> {
    await this.commands.ping();
  }

  /** Closes the connections of a client the layer opened (`servers`); a client you passed in stays open. */
  close(): void {
    if (this.ownsClient) this.client.close();
  }

  private async write(physical: string, bytes: Buffer, version: number, expires: number, ifNewer: boolean): Promise<void> {
    if (!ifNewer) return this.settle(physical, bytes, await this.commands.store(physical, bytes, expires));
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const held = await this.commands.get(physical);
      if (held !== undefined && isEnvelope(held.value) && held.value.readDoubleLE(ENTRY_VERSION_OFFSET) >= version) return;
      // Over nothing: ADD (fails if a write came between); over anything else (older, not an envelope): the token.
      const result = await this.commands.store(physical, bytes, expires, held === undefined ? { add: true } : { cas: held.cas });
      if (result !== 'exists' && result !== 'not-found') return this.settle(physical, bytes, result);
    }
    // Writes kept coming between our read and our write: leave no copy rather than possibly an older one.
    await this.commands.delete(physical);
  }

  /** After a store: a value over the item size limit leaves no older copy behind, and is logged once. */
  private async settle(physical: string, bytes: Buffer, result: StoreResult): Promise<void> {
    if (result !== 'too-large') return;
    await this.commands.delete(physical);
    if (this.tooLargeLogged) return;
    this.tooLargeLogged = true;
    this.logger.warn(
      `${this.name}: an entry of ${bytes.length} bytes is over the Memcached item size limit and is not cached in this layer ` +
        '(raise it with memcached -I, or set compression); further ones are not logged',
    );
  }

  /** The Memcached key of `key`: prefix + key, or prefix + U+001D + its SHA-256 when that is over 250 bytes. */
  private physical(key: string): string {
    const plain = this.prefix + key;
    if (Buffer.byteLength(plain) <= MAX_KEY_BYTES) return plain;
    return this.prefix + HASHED_KEY_MARK + createHash('sha256').update(key).digest('base64url');
  }

  private encode(key: string, entry: CacheEntry): Buffer {
    try {
      return encodeEntry(entry, this.serializer, this.compression);
    } catch (error) {
      throw new EntryEncodeError(this.name, key, error);
    }
  }
}

/** Whether `bytes` start like an envelope of the current format, with its whole fixed header. */
function isEnvelope(bytes: Buffer): boolean {
  return bytes.length >= HEADER_BYTES && hasEnvelopeMagic(bytes);
}

/**
 * Memcached's expiration for `ttlMs`: whole seconds, rounded up; 0 (never) for an infinite ttl; a Unix time (on
 * the wall clock, which the server compares with its own) beyond 30 days.
 */
function expiresOf(ttlMs: number): number {
  if (ttlMs === Number.POSITIVE_INFINITY) return 0;
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return seconds <= MAX_RELATIVE_SECONDS ? seconds : Math.ceil(Date.now() / 1000) + seconds;
}
