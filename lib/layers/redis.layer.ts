import { toOptionalMilliseconds, type Duration } from '../core/duration.js';
import type { CacheEntry } from '../core/entry.js';
import { decodeEntry, encodeEntry, ENTRY_MAGIC, ENTRY_VERSION_OFFSET } from '../core/entry-codec.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheLayer, LayerWrite } from '../core/layer.js';
import type { Serializer } from '../core/serializer.js';
import { MsgpackSerializer } from './msgpack.serializer.js';
import { checkRedisClient, checkRedisPrefix, escapeGlob, luaScript, pipelineReplies, runScript, type RedisClient } from './redis-client.js';
import { EntryEncodeError } from '../core/errors.js';
import { RedisTagStore, tagKeyPrefix } from './redis-tag.store.js';
import { LOCK_KEY_MARK, RedisRevalidationLock } from './redis-revalidation.lock.js';

/** Options of {@link RedisLayer}. */
export interface RedisLayerOptions {
  /**
   * The ioredis client (`new Redis(...)`, or a `Cluster`: see {@link RedisClient} for the one-slot rule of
   * bulk commands). The layer never closes it: its lifecycle belongs to whoever created it.
   */
  client: RedisClient;
  /** Prefix of every key this layer writes; the layer never reads, writes or clears keys outside it. @default 'lc:' */
  prefix?: string;
  /** Longest time a copy stays in this layer (seconds as a number, or a string with a unit). @default no cap */
  ttl?: Duration;
  /** Turns values into bytes. @default new MsgpackSerializer() */
  serializer?: Serializer;
  /** The layer's name in metrics, events and log lines. @default 'redis' */
  name?: string;
}

/** Defaults of {@link RedisLayerOptions}. */
export const DEFAULT_REDIS_LAYER_OPTIONS = Object.freeze({ prefix: 'lc:', name: 'redis' });

/**
 * Writes ARGV[1] under KEYS[1] (PX ARGV[3], none when 0) unless the key holds an envelope of the current format
 * (magic ARGV[4]) whose version (f64 little endian at byte 45, see entry-codec) is at least ARGV[2]. Returns 1 when written.
 */
const SET_IF_NEWER = luaScript(`local held = redis.call('GET', KEYS[1])
if held and #held >= ${ENTRY_VERSION_OFFSET + 8} and string.sub(held, 1, 3) == ARGV[4] then
  if struct.unpack('<d', held, ${ENTRY_VERSION_OFFSET + 1}) >= tonumber(ARGV[2]) then return 0 end
end
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
return 1`);

/** Keys fetched per SCAN iteration (and so removed per UNLINK) by {@link RedisLayer.clear}. */
const SCAN_COUNT = 500;

/**
 * The shared layer (L2) on Redis, through an ioredis client the user passes in. Entries are stored as
 * `prefix + key` holding the binary envelope of `encodeEntry` with a PX expiry. One round trip per call:
 * `get` = GET, `getMany` = one MGET, `set` = SET PX, `setMany` = one pipeline of SET PX (one network write,
 * not atomic), `delete` = one UNLINK; `clear` = SCAN MATCH + UNLINK per batch.
 *
 * Data under a key that is not an envelope (another program's, an older format, a truncated write) reads as
 * a miss and is overwritten by the next write. The layer has no timeouts or retries of its own: the stack
 * guards shared layers with a command timeout and a back-off window.
 */
export class RedisLayer implements CacheLayer {
  readonly name: string;
  readonly shared = true;
  readonly ttl: number | undefined;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly serializer: Serializer;
  /** Starts of the keys `clear()` keeps: the tag store's and the revalidation lock's. */
  private readonly reservedPrefixes: readonly Buffer[];

  constructor(options: RedisLayerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('RedisLayer', 'expected an options object: new RedisLayer({ client })');
    }
    this.client = checkRedisClient('RedisLayer.client', options.client);
    this.prefix = checkRedisPrefix('RedisLayer.prefix', options.prefix ?? DEFAULT_REDIS_LAYER_OPTIONS.prefix);
    this.ttl = toOptionalMilliseconds(options.ttl, 'RedisLayer.ttl');
    if (this.ttl !== undefined && this.ttl < 1) {
      throw new InvalidOptionError('RedisLayer.ttl', 'must be at least 1 ms (omit it for no cap)');
    }
    const name = options.name ?? DEFAULT_REDIS_LAYER_OPTIONS.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidOptionError('RedisLayer.name', `expected a non-empty string, got ${JSON.stringify(name)}`);
    }
    this.name = name;
    const serializer = options.serializer ?? new MsgpackSerializer();
    if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
      throw new InvalidOptionError('RedisLayer.serializer', 'expected an object with encode(value) and decode(bytes)');
    }
    this.serializer = serializer;
    this.reservedPrefixes = [tagKeyPrefix(this.prefix), this.prefix + LOCK_KEY_MARK].map((start) => Buffer.from(start, 'utf8'));
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return decodeEntry(await this.client.getBuffer(this.prefix + key), this.serializer);
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    if (keys.length === 0) return [];
    const replies = await this.client.mgetBuffer(keys.map((key) => this.prefix + key));
    const out = new Array<CacheEntry | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = decodeEntry(replies[i], this.serializer);
    return out;
  }

  /**
   * `SET key value PX ttl`; with `ifNewer`, one Lua script that compares the stored envelope's version (read at
   * its fixed offset, without decoding) and writes only over no entry or an older one.
   * @throws EntryEncodeError (as a rejection) when the serializer cannot encode the value; nothing is written.
   */
  async set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): Promise<void> {
    const bytes = this.encode(key, entry);
    const px = toPx(ttlMs);
    if (ifNewer === true) await runScript(this.client, SET_IF_NEWER, [this.prefix + key], [bytes, entry.version ?? 0, px ?? 0, ENTRY_MAGIC]);
    else if (px === undefined) await this.client.set(this.prefix + key, bytes);
    else await this.client.set(this.prefix + key, bytes, 'PX', px);
  }

  /**
   * One pipeline of `SET key value PX ttl` (one network write; each SET is atomic, the batch is not).
   * @throws EntryEncodeError (as a rejection) when one value cannot be encoded; then nothing is written.
   */
  async setMany(items: readonly LayerWrite[]): Promise<void> {
    if (items.length === 0) return;
    const encoded = items.map((item) => this.encode(item.key, item.entry));
    const pipeline = this.client.pipeline();
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as LayerWrite;
      const px = toPx(item.ttlMs);
      // EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT (bulk "if newer" writes are rare).
      if (item.ifNewer === true) pipeline.eval(SET_IF_NEWER.source, 1, this.prefix + item.key, encoded[i] as Buffer, item.entry.version ?? 0, px ?? 0, ENTRY_MAGIC);
      else if (px === undefined) pipeline.set(this.prefix + item.key, encoded[i] as Buffer);
      else pipeline.set(this.prefix + item.key, encoded[i] as Buffer, 'PX', px);
    }
    pipelineReplies(await pipeline.exec());
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.client.unlink(keys.map((key) => this.prefix + key));
  }

  /**
   * Removes the keys starting with `this.prefix + prefix` (every key of the layer when `prefix` is
   * `undefined`) by SCAN with an escaped MATCH pattern and one UNLINK per batch. Not atomic: entries written
   * meanwhile may survive. The tag store's keys (see `RedisTagStore`) are kept: resetting the tag sequence
   * would revive invalidated entries held elsewhere; so are the revalidation lock's (they expire by themselves).
   */
  async clear(prefix: string | undefined): Promise<void> {
    const match = `${escapeGlob(this.prefix + (prefix ?? ''))}*`;
    let cursor = '0';
    do {
      const [next, found] = await this.client.scanBuffer(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next.toString('latin1');
      const doomed = found.filter((key) => !this.reservedPrefixes.some((start) => startsWith(key, start)));
      if (doomed.length > 0) await this.client.unlink(doomed);
    } while (cursor !== '0');
  }

  /** A tag store on the same client and prefix (`RedisTagStore`). */
  createTagStore(): RedisTagStore {
    return new RedisTagStore({ client: this.client, prefix: this.prefix });
  }

  /** A revalidation lock on the same client and prefix (`RedisRevalidationLock`), for once-per-cluster SWR refreshes. */
  createRevalidationLock(): RedisRevalidationLock {
    return new RedisRevalidationLock({ client: this.client, prefix: this.prefix });
  }

  /** Does nothing: the client was passed in, so it is not this layer's to quit. */
  close(): void {}

  private encode(key: string, entry: CacheEntry): Buffer {
    try {
      return encodeEntry(entry, this.serializer);
    } catch (error) {
      throw new EntryEncodeError(this.name, key, error);
    }
  }
}

/**
 * The PX argument for `ttlMs`: a positive integer, rounded up (a copy never lives shorter than asked), at
 * least 1 ms; `undefined` (no expiry) for an infinite ttl, which only an uncapped, never-expiring entry has.
 */
function toPx(ttlMs: number): number | undefined {
  if (ttlMs === Number.POSITIVE_INFINITY) return undefined;
  return ttlMs >= 1 ? Math.ceil(ttlMs) : 1;
}

function startsWith(key: Buffer, start: Buffer): boolean {
  return key.length >= start.length && key.compare(start, 0, start.length, 0, start.length) === 0;
}
