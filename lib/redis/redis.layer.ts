/**
 * `RedisLayer`, the shared layer (L2) on an ioredis client: entries as binary envelopes under `prefix + key`, one
 * round trip per call, bulk calls split by hash slot on a Cluster, "write if newer" as one Lua script.
 * Optional compression of the value payload (entry-compression.ts), read back whatever the reader's own setting.
 * Hard parts: the version compare of `SET_IF_NEWER` reads the envelope at its fixed offset without decoding it
 * (compression leaves the header as it is, so it and the sliding `touch` work on compressed entries too);
 * `clear` must keep the library's own keys (prefix + U+001F), see redis-keyspace.ts for the scans.
 */
import { noteLikelyMilliseconds } from '../core/duration.js';
import type { CacheEntry } from '../core/entry.js';
import { decodeEntry, encodeEntry, ENTRY_MAGIC, ENTRY_TAGGED_MAGIC, ENTRY_VERSION_OFFSET, undecodableEntry } from '../core/entry-codec.js';
import type { EntryCompression } from '../core/entry-compression.js';
import { EntryEncodeError } from '../core/errors.js';
import type { CacheLayer, LayerWrite } from '../core/layer.js';
import type { Serializer } from '../core/serializer.js';
import { isRedisCluster, luaScript, pipelineReplies, runScript, type RedisClient } from './redis-client.js';
import { groupBySlot } from './redis-slot.js';
import { clearKeyspace, findKeysIn } from './redis-keyspace.js';
import { RedisTagStore } from './redis-tag.store.js';
import { RedisRevalidationLock } from './redis-revalidation.lock.js';
import { touchEnvelope } from './redis-touch.script.js';
import { resolveRedisLayerOptions, type RedisLayerOptions } from './redis-layer.options.js';

export { DEFAULT_REDIS_LAYER_OPTIONS, type RedisLayerOptions } from './redis-layer.options.js';

/**
 * Writes ARGV[1] under KEYS[1] (PX ARGV[3], none when 0) unless the key holds an envelope of the current format
 * (magic ARGV[4], or ARGV[5] with tags) whose version (f64 little endian at byte 45, see entry-codec) is at least ARGV[2]. Returns 1 when written.
 */
const SET_IF_NEWER = luaScript(`local held = redis.pcall('GET', KEYS[1])
if type(held) == 'table' then held = false end -- another Redis type (WRONGTYPE): no envelope, overwrite it
if held and #held >= ${ENTRY_VERSION_OFFSET + 8} and (string.sub(held, 1, 3) == ARGV[4] or string.sub(held, 1, 3) == ARGV[5]) then
  if struct.unpack('<d', held, ${ENTRY_VERSION_OFFSET + 1}) >= tonumber(ARGV[2]) then return 0 end
end
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
return 1`);

/** Starts the library's own keys right after the prefix (see `TAG_KEY_MARK`, `LOCK_KEY_MARK`, `LOAD_KEY_MARK`). */
const INTERNAL_KEY_MARK = '\u001f';

/**
 * The shared layer (L2) on Redis, through an ioredis client the user passes in. Entries are stored as
 * `prefix + key` holding the binary envelope of `encodeEntry` with a PX expiry. One round trip per call (on a
 * single Redis; see below for a Cluster):
 * `get` = GET, `getMany` = one MGET, `set` = SET PX, `setMany` = one pipeline of SET PX (one network write,
 * not atomic), `delete` = one UNLINK; `clear` = SCAN MATCH + UNLINK per batch; `touch` = one Lua script.
 *
 * Data under a key that is not an envelope (another program's, an older format, a truncated write) reads as
 * a miss and is overwritten by the next write. The layer has no timeouts or retries of its own: the stack
 * guards shared layers with a command timeout and a back-off window.
 *
 * Redis Cluster (an ioredis `Cluster` as `client`): a multi-key command may only name keys of one hash slot,
 * so `getMany`, `setMany` and `delete` split their keys by slot and send one MGET / pipeline of writes /
 * UNLINK per slot, all in parallel (still one round trip of latency; replies are put back in order; a
 * failure of any part rejects the call, and other parts of a `setMany` or `delete` may have been applied),
 * and `clear` SCANs every master and UNLINKs per slot. ioredis' `enableAutoPipelining` option merges the
 * per-slot commands bound for one node into one network write.
 *
 * Slot pinning: a prefix with a hash tag, e.g. `prefix: '{lc}:'`, puts every key of the layer in one slot
 * (Redis hashes only the text between the first `{` and the next `}`), so every bulk call is one command
 * again, at the price of keeping the whole layer on one master (its memory and its load).
 *
 * @example
 * new RedisLayer({ client: new Cluster([{ host: 'redis-1', port: 6379 }]), prefix: '{app}:' });
 */
export class RedisLayer implements CacheLayer {
  readonly name: string;
  readonly shared = true;
  readonly ttl: number | undefined;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly serializer: Serializer;
  private readonly compression: EntryCompression | undefined;
  private readonly maxInflatedBytes: number;
  /** Starts of the keys `clear()` keeps: the tag store's and the revalidation lock's. */
  private readonly reservedPrefixes: readonly Buffer[];

  constructor(options: RedisLayerOptions) {
    const resolved = resolveRedisLayerOptions(options);
    noteLikelyMilliseconds(this, options.ttl, 'RedisLayer.ttl');
    this.client = resolved.client;
    this.prefix = resolved.prefix;
    this.ttl = resolved.ttl;
    this.name = resolved.name;
    this.serializer = resolved.serializer;
    this.compression = resolved.compression;
    this.maxInflatedBytes = resolved.maxInflatedBytes;
    // Every key of the library's own (tag store, revalidation lock, load leases) starts with prefix + U+001F,
    // which no entry key can (a namespace is non-empty before its U+001F): clear() keeps them all.
    this.reservedPrefixes = [this.prefix + INTERNAL_KEY_MARK].map((start) => Buffer.from(start, 'utf8'));
  }

  /** One GET, decoded. Not an async function: an L2 hit allocates one promise here (the `then`), not a frame too. */
  get(key: string): Promise<CacheEntry | undefined> {
    return this.client.getBuffer(this.prefix + key).then(this.decodeBytes, readFailure);
  }

  /** Decodes what a GET answered (bound once: no closure per read). */
  private readonly decodeBytes = (bytes: Buffer | null): CacheEntry | undefined => decodeEntry(bytes, this.serializer, this.maxInflatedBytes);

  /** One MGET; on a Redis Cluster, one MGET per hash slot, in parallel. */
  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    if (keys.length === 0) return [];
    const client = this.client;
    const redisKeys = keys.map((key) => this.prefix + key);
    const out = new Array<CacheEntry | undefined>(keys.length);
    const groups = isRedisCluster(client) ? groupBySlot(redisKeys) : undefined;
    if (groups !== undefined && groups.length > 1) {
      // Each slot's MGET fills its own positions of `out`.
      await Promise.all(
        groups.map(async (group) => {
          const replies = await client.mgetBuffer(group.map((index) => redisKeys[index] as string));
          for (let j = 0; j < group.length; j++) out[group[j] as number] = decodeEntry(replies[j], this.serializer, this.maxInflatedBytes);
        }),
      );
      return out;
    }
    const replies = await client.mgetBuffer(redisKeys);
    for (let i = 0; i < keys.length; i++) out[i] = decodeEntry(replies[i], this.serializer, this.maxInflatedBytes);
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
    if (ifNewer === true) await runScript(this.client, SET_IF_NEWER, [this.prefix + key], [bytes, entry.version ?? 0, px ?? 0, ENTRY_MAGIC, ENTRY_TAGGED_MAGIC]);
    else if (px === undefined) await this.client.set(this.prefix + key, bytes);
    else await this.client.set(this.prefix + key, bytes, 'PX', px);
  }

  /**
   * One pipeline of `SET key value PX ttl` (one network write; each SET is atomic, the batch is not); on a
   * Redis Cluster, one such pipeline per hash slot, in parallel.
   * @throws EntryEncodeError (as a rejection) when one value cannot be encoded; then nothing is written.
   */
  async setMany(items: readonly LayerWrite[]): Promise<void> {
    if (items.length === 0) return;
    const encoded = items.map((item) => this.encode(item.key, item.entry));
    const client = this.client;
    const redisKeys = items.map((item) => this.prefix + item.key);
    const groups = isRedisCluster(client) ? groupBySlot(redisKeys) : undefined;
    if (groups !== undefined && groups.length > 1) {
      // An ioredis Cluster pipeline must stay on one node, and a pipeline of writes that is only partly
      // redirected (MOVED) is not retried: one pipeline per slot always is.
      const pipelines = groups.map((group) => {
        const pipeline = client.pipeline();
        for (const index of group) this.queueWrite(pipeline, redisKeys[index] as string, encoded[index] as Buffer, items[index] as LayerWrite);
        return pipeline.exec();
      });
      for (const results of await Promise.all(pipelines)) pipelineReplies(results);
      return;
    }
    const pipeline = client.pipeline();
    for (let i = 0; i < items.length; i++) this.queueWrite(pipeline, redisKeys[i] as string, encoded[i] as Buffer, items[i] as LayerWrite);
    pipelineReplies(await pipeline.exec());
  }

  /** One UNLINK; on a Redis Cluster, one UNLINK per hash slot, in parallel. */
  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const client = this.client;
    const redisKeys = keys.map((key) => this.prefix + key);
    const groups = isRedisCluster(client) ? groupBySlot(redisKeys) : undefined;
    if (groups !== undefined && groups.length > 1) {
      await Promise.all(groups.map((group) => client.unlink(group.map((index) => redisKeys[index] as string))));
      return;
    }
    await client.unlink(redisKeys);
  }

  /**
   * Removes the keys starting with `this.prefix + prefix` (every key of the layer when `prefix` is
   * `undefined`) by SCAN with an escaped MATCH pattern and one UNLINK per batch. Not atomic: entries written
   * meanwhile may survive. The tag store's keys (see `RedisTagStore`) are kept: forgetting an invalidation
   * would revive invalidated entries held elsewhere (they expire by themselves); so are the revalidation lock's (they expire by themselves).
   *
   * On a Redis Cluster, every master is scanned (in parallel) and each batch is removed by one UNLINK per
   * hash slot, sent through the cluster client (which follows redirections); the masters are those the
   * client knows once it is ready.
   */
  async clear(prefix: string | undefined): Promise<void> {
    await clearKeyspace(this.client, this.prefix + (prefix ?? ''), this.reservedPrefixes);
  }

  /**
   * The keys under `prefix` whose rest matches `glob` (see `CacheLayer.findKeys`): SCAN with the escaped prefix
   * and the glob as MATCH on the server (every master of a cluster), then the exact check here (a Redis glob
   * `*` also matches control characters). Stops once more than `limit` keys are found.
   */
  async findKeys(prefix: string, glob: string | undefined, limit: number): Promise<string[]> {
    return findKeysIn(this.client, this.prefix + prefix, this.prefix.length, glob, limit);
  }

  /** Queues the write of `item` (SET [PX], or the "if newer" script) under `key` on `pipeline`. */
  private queueWrite(pipeline: ReturnType<RedisClient['pipeline']>, key: string, bytes: Buffer, item: LayerWrite): void {
    const px = toPx(item.ttlMs);
    // EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT (bulk "if newer" writes are rare).
    if (item.ifNewer === true) pipeline.eval(SET_IF_NEWER.source, 1, key, bytes, item.entry.version ?? 0, px ?? 0, ENTRY_MAGIC, ENTRY_TAGGED_MAGIC);
    else if (px === undefined) pipeline.set(key, bytes);
    else pipeline.set(key, bytes, 'PX', px);
  }

  /**
   * Extends the envelope under `key` to `entry`'s deadlines in one Lua command (redis-touch.script.ts): SETRANGE of
   * the deadlines and the extension's ttl, then PEXPIRE, only when the stored envelope has `entry`'s version and an
   * earlier `freshUntil`. The value is neither sent nor read back.
   */
  async touch(key: string, entry: CacheEntry, ttlMs: number): Promise<boolean> {
    return touchEnvelope(this.client, this.prefix + key, entry, toPx(ttlMs));
  }

  /** A tag store on the same client and prefix (`RedisTagStore`). */
  createTagStore(): RedisTagStore {
    return new RedisTagStore({ client: this.client, prefix: this.prefix });
  }

  /** A revalidation lock on the same client and prefix (`RedisRevalidationLock`), for once-per-cluster SWR refreshes. */
  createRevalidationLock(): RedisRevalidationLock {
    return new RedisRevalidationLock({ client: this.client, prefix: this.prefix });
  }

  /** The stack's health check while the layer is in its back-off window: one PING (any node of a Cluster). */
  async probe(): Promise<void> {
    await this.client.ping();
  }

  /** Does nothing: the client was passed in, so it is not this layer's to quit. */
  close(): void {}

  private encode(key: string, entry: CacheEntry): Buffer {
    try {
      return encodeEntry(entry, this.serializer, this.compression);
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

/**
 * A failed GET: another Redis type under the key (MGET answers nil for it, GET fails) is data that is not an entry,
 * like any other undecodable bytes, not a failure of the layer (the next write replaces it); anything else rejects.
 */
function readFailure(error: unknown): CacheEntry {
  if (isWrongType(error)) return undecodableEntry('another Redis type is stored under the key');
  throw error;
}

/** Whether a Redis error is WRONGTYPE: the key holds another data type than the command works on. */
function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}
