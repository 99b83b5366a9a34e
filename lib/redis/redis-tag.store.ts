/**
 * `RedisTagStore`: the shared tag store (sequence counter, per-tag hashes, namespace generations) under
 * `<prefix>\x1f{tags}:`, one Lua script per invalidation.
 * Hard parts: every key shares the `{tags}` hash tag so scripts and pipelines stay in one Cluster slot; the
 * U+001F mark keeps user keys from ever colliding with tag keys and lets `RedisLayer.clear()` keep them.
 */
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_REDIS_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import { groupKey, type TagGroup, type TagMatchMode, type TagState, type TagStore } from '../core/tag-store.js';
import { checkRedisClient, checkRedisPrefix, luaScript, pipelineReplies, runScript, type LuaScript, type RedisClient } from './redis-client.js';

/** Options of {@link RedisTagStore}. */
export interface RedisTagStoreOptions {
  /** The ioredis client (`Redis` or `Cluster`); never closed by the store. */
  client: RedisClient;
  /** Prefix of the store's keys; stores sharing a prefix share their invalidations. @default 'lc:' */
  prefix?: string;
}

/** Defaults of {@link RedisTagStoreOptions}. */
export const DEFAULT_REDIS_TAG_STORE_OPTIONS = Object.freeze({ prefix: 'lc:' });

/** The option names of `RedisTagStore` (checked: an unknown one is an `InvalidOptionError` naming it). */
const REDISTAGSTORE_OPTION_NAMES = ['client', 'prefix'] as const satisfies readonly (keyof RedisTagStoreOptions)[];
// Every option of the interface is listed (a missing one is a type error here).
const REDISTAGSTORE_NAMES_LISTED: AllListed<RedisTagStoreOptions, (typeof REDISTAGSTORE_OPTION_NAMES)[number]> = true;
void REDISTAGSTORE_NAMES_LISTED;

/**
 * Marks the tag store's keys right after the prefix. U+001F cannot start a key the stack writes (a namespace
 * is non-empty before its U+001F, a hashed key starts with U+001E), so user keys such as `{tags}:seq` can
 * never collide with the tag keys, and `RedisLayer.clear()` can leave them alone.
 */
export const TAG_KEY_MARK = '\u001f{tags}:';

/** The common start of every tag-store key under `prefix` (`{tags}` is a Redis Cluster hash tag: one slot). */
export function tagKeyPrefix(prefix: string): string {
  return prefix + TAG_KEY_MARK;
}

/** The hash field holding a tag's last "any" invalidation. */
const ANY_FIELD = '*';

/** INCR the sequence, record it as the "any" invalidation of every tag key; returns the sequence. */
const INVALIDATE_ANY = `local seq = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do redis.call('HSET', KEYS[i], '${ANY_FIELD}', seq) end
return seq`;

/** INCR the sequence, record it for the group ARGV[1] on the first tag's key; returns the sequence. */
const INVALIDATE_GROUP = `local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], seq)
return seq`;

const SCRIPTS = { any: luaScript(INVALIDATE_ANY), group: luaScript(INVALIDATE_GROUP) } as const;

/**
 * The shared tag store (see `TagStore` in core for the semantics), in Redis:
 *
 * - `<prefix>\x1f{tags}:seq`: the sequence counter (a string holding an integer);
 * - `<prefix>\x1f{tags}:g:<scope>`: a namespace's generation (a string holding an integer; INCR to bump);
 * - `<prefix>\x1f{tags}:t:<tag>`: a hash per tag: field `*` = the tag's last "any" invalidation, and one
 *   field per "all" group recorded on it (the group's sorted tags joined with U+001F) = that group's sequence.
 *
 * `invalidate` is one Lua script (EVALSHA, falling back to EVAL once per server when the script is not
 * cached), atomic: the sequence and the records move together. `fetch` is one pipeline of HGETALL (one
 * network write). All keys carry the `{tags}` hash tag, so a Redis Cluster keeps them in one slot.
 *
 * The records have no expiry: an invalidation must outlive every entry that could carry the tag.
 */
export class RedisTagStore implements TagStore {
  readonly shared = true;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly seqKey: string;
  private readonly tagKeyStart: string;
  private readonly genKeyStart: string;

  constructor(options: RedisTagStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('RedisTagStore', 'expected an options object: new RedisTagStore({ client })');
    }
    checkOptionKeys(options, REDISTAGSTORE_OPTION_NAMES, { at: 'RedisTagStore', renamed: FOREIGN_REDIS_OPTIONS });
    this.client = checkRedisClient('RedisTagStore.client', options.client);
    this.prefix = checkRedisPrefix('RedisTagStore.prefix', options.prefix ?? DEFAULT_REDIS_TAG_STORE_OPTIONS.prefix);
    this.seqKey = `${tagKeyPrefix(this.prefix)}seq`;
    this.tagKeyStart = `${tagKeyPrefix(this.prefix)}t:`;
    this.genKeyStart = `${tagKeyPrefix(this.prefix)}g:`;
  }

  /** The Redis key of `tag`'s hash. */
  tagKey(tag: string): string {
    return this.tagKeyStart + tag;
  }

  /** The Redis key of the sequence counter. */
  get sequenceKey(): string {
    return this.seqKey;
  }

  async snapshot(): Promise<number> {
    return toSeq(await this.client.get(this.seqKey));
  }

  async invalidate(tags: readonly string[], mode: TagMatchMode): Promise<number> {
    if (tags.length === 0) return this.snapshot();
    if (mode === 'all') {
      const sorted = [...new Set(tags)].sort();
      if (sorted.length > 1) {
        const first = sorted[0] as string;
        return this.run(SCRIPTS.group, [this.seqKey, this.tagKey(first)], [groupKey(sorted)]);
      }
      return this.run(SCRIPTS.any, [this.seqKey, this.tagKey(sorted[0] as string)], []);
    }
    const keys = [this.seqKey];
    for (const tag of tags) keys.push(this.tagKey(tag));
    return this.run(SCRIPTS.any, keys, []);
  }

  async fetch(tags: readonly string[]): Promise<(TagState | undefined)[]> {
    if (tags.length === 0) return [];
    if (tags.length === 1) return [toState(await this.client.hgetall(this.tagKey(tags[0] as string)))];
    const pipeline = this.client.pipeline();
    for (const tag of tags) pipeline.hgetall(this.tagKey(tag));
    const replies = pipelineReplies(await pipeline.exec());
    return replies.map((reply) => toState(reply as Record<string, string>));
  }

  async generations(scopes: readonly string[]): Promise<number[]> {
    if (scopes.length === 0) return [];
    const replies = await this.client.mget(scopes.map((scope) => this.genKeyStart + scope));
    return replies.map((reply) => toSeq(reply));
  }

  async bumpGeneration(scope: string): Promise<number> {
    return this.client.incr(this.genKeyStart + scope);
  }

  /** Does nothing: the client belongs to whoever created it. */
  /** PING on the client: the stack's health check while the guard of a user-supplied tag store is in its back-off window. */
  async probe(): Promise<void> {
    await this.client.ping();
  }

  close(): void {}

  private async run(lua: LuaScript, keys: string[], args: string[]): Promise<number> {
    const reply = await runScript(this.client, lua, keys, args);
    const seq = Number(reply);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`Tag invalidation script returned ${String(reply)}`);
    return seq;
  }
}

function toSeq(value: string | null): number {
  if (value === null) return 0;
  const seq = Number(value);
  return Number.isFinite(seq) ? seq : 0;
}

/** A tag hash (HGETALL reply; `{}` when missing) as a state; fields that are not integers are ignored. */
function toState(hash: Record<string, string>): TagState | undefined {
  let seq = 0;
  let groups: Map<string, TagGroup> | undefined;
  for (const field of Object.keys(hash)) {
    const value = Number(hash[field]);
    if (!Number.isFinite(value)) continue;
    if (field === ANY_FIELD) seq = value;
    else (groups ??= new Map()).set(field, { tags: field.split('\u001f'), seq: value });
  }
  return seq === 0 && groups === undefined ? undefined : { seq, groups };
}
