/**
 * `RedisTagStore`: the shared tag store (a versioned hash per tag, namespace generations) under `<prefix>\x1ftags:`,
 * one Lua script per tag invalidated, every key expiring after the stack's maximum entry lifetime.
 * Hard parts: each key hashes on its own (no common hash tag), so nothing may span two keys in one command; the
 * U+001F mark keeps user keys from ever colliding with tag keys and lets `RedisLayer.clear()` keep them.
 */
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_REDIS_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import { groupKey, invalidationTags, type TagGroup, type TagMatchMode, type TagState, type TagStore } from '../core/tag-store.js';
import { checkRedisClient, checkRedisPrefix, isRedisCluster, luaScript, pipelineReplies, runScript, type LuaScript, type RedisClient } from './redis-client.js';

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
 * is non-empty before its U+001F, a hashed key starts with U+001E), so user keys such as `tags:t:x` can
 * never collide with the tag keys, and `RedisLayer.clear()` can leave them alone. No hash tag: each record hashes
 * on its own name, so a Redis Cluster spreads them over its slots (a `{...}` in the prefix pins them all to one).
 */
export const TAG_KEY_MARK = '\u001ftags:';

/** The common start of every tag-store key under `prefix`. */
export function tagKeyPrefix(prefix: string): string {
  return prefix + TAG_KEY_MARK;
}

/** The hash field holding a tag's version, and the one holding its last "any" invalidation. */
const VERSION_FIELD = 'v';
const ANY_FIELD = '*';

/**
 * Gives the tag hash KEYS[1] its next version (max(v + 1, TIME in µs)), records it under field ARGV[1] (`*`, or a
 * group), drops group fields older than the kept window ARGV[2] ms, keeps the hash ARGV[2] ms; returns the version.
 * Versions are written with %.0f: Lua numbers are doubles, exact up to 2^53 (µs until the year 2255).
 */
const INVALIDATE = `if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = tonumber(redis.call('HGET', KEYS[1], '${VERSION_FIELD}') or '0') or 0
if now > v then v = now else v = v + 1 end
local keep = tonumber(ARGV[2])
if ARGV[1] ~= '${ANY_FIELD}' then
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f ~= '${VERSION_FIELD}' and f ~= '${ANY_FIELD}' and (tonumber(fields[i + 1]) or 0) < v - keep * 1000 then redis.call('HDEL', KEYS[1], f) end
  end
end
local s = string.format('%.0f', v)
redis.call('HSET', KEYS[1], '${VERSION_FIELD}', s, ARGV[1], s)
redis.call('PEXPIRE', KEYS[1], keep)
return s`;

/** INCR the generation KEYS[1], keep it ARGV[1] ms; returns it. */
const BUMP_GENERATION = `local g = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g`;

/** Raises the generation KEYS[1] to at least ARGV[1] (writing it again after it expired), keeps it ARGV[2] ms. */
const KEEP_GENERATION = `local g = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if g < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

const SCRIPTS = { invalidate: luaScript(INVALIDATE), bump: luaScript(BUMP_GENERATION), keep: luaScript(KEEP_GENERATION) } as const;

/**
 * The shared tag store (see `TagStore` in core for the semantics), in Redis:
 *
 * - `<prefix>\x1ftags:t:<tag>`: a hash per tag: field `v` = the tag's version, `*` = its last "any" invalidation,
 *   and one field per "all" group recorded on it (the group's sorted tags joined with U+001F) = that group's version;
 * - `<prefix>\x1ftags:g:<scope>`: a namespace's generation (a string holding an integer).
 *
 * Both expire `keepMs` after their last write (the stack's `maxLifetime` plus a margin). An invalidation is one Lua
 * script per tag (EVALSHA, falling back to EVAL once per server when the script is not cached), atomic per tag; the
 * tags of one invalidation are written in parallel (on a Cluster, each on the master holding it). `fetch` is one
 * HGETALL per tag: one pipeline on a single server, parallel commands on a Cluster (a pipeline there must stay in one
 * slot).
 */
export class RedisTagStore implements TagStore {
  readonly shared = true;
  /** The key prefix, as configured. */
  readonly prefix: string;
  private readonly client: RedisClient;
  private readonly cluster: boolean;
  private readonly tagKeyStart: string;
  private readonly genKeyStart: string;

  constructor(options: RedisTagStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('RedisTagStore', 'expected an options object: new RedisTagStore({ client })');
    }
    checkOptionKeys(options, REDISTAGSTORE_OPTION_NAMES, { at: 'RedisTagStore', renamed: FOREIGN_REDIS_OPTIONS });
    this.client = checkRedisClient('RedisTagStore.client', options.client);
    this.cluster = isRedisCluster(this.client);
    this.prefix = checkRedisPrefix('RedisTagStore.prefix', options.prefix ?? DEFAULT_REDIS_TAG_STORE_OPTIONS.prefix);
    this.tagKeyStart = `${tagKeyPrefix(this.prefix)}t:`;
    this.genKeyStart = `${tagKeyPrefix(this.prefix)}g:`;
  }

  /** The Redis key of `tag`'s hash. */
  tagKey(tag: string): string {
    return this.tagKeyStart + tag;
  }

  /** The Redis key of `scope`'s generation. */
  generationKey(scope: string): string {
    return this.genKeyStart + scope;
  }

  async invalidate(tags: readonly string[], mode: TagMatchMode, keepMs: number): Promise<number[]> {
    if (tags.length === 0) return [];
    const keep = String(checkKeepMs(keepMs));
    const targets = invalidationTags(tags, mode);
    if (mode === 'all' && targets.length > 1) return [await this.run(SCRIPTS.invalidate, [this.tagKey(targets[0] as string)], [groupKey(targets), keep])];
    return Promise.all(targets.map((tag) => this.run(SCRIPTS.invalidate, [this.tagKey(tag)], [ANY_FIELD, keep])));
  }

  async fetch(tags: readonly string[]): Promise<(TagState | undefined)[]> {
    if (tags.length === 0) return [];
    if (tags.length === 1) return [toState(await this.client.hgetall(this.tagKey(tags[0] as string)))];
    if (this.cluster) return Promise.all(tags.map(async (tag) => toState(await this.client.hgetall(this.tagKey(tag)))));
    const pipeline = this.client.pipeline();
    for (const tag of tags) pipeline.hgetall(this.tagKey(tag));
    const replies = pipelineReplies(await pipeline.exec());
    return replies.map((reply) => toState(reply as Record<string, string>));
  }

  async generations(scopes: readonly string[]): Promise<number[]> {
    if (scopes.length === 0) return [];
    const keys = scopes.map((scope) => this.generationKey(scope));
    const replies = this.cluster ? await Promise.all(keys.map((key) => this.client.get(key))) : await this.client.mget(keys);
    return replies.map((reply) => toInteger(reply));
  }

  async bumpGeneration(scope: string, keepMs: number): Promise<number> {
    return this.run(SCRIPTS.bump, [this.generationKey(scope)], [String(checkKeepMs(keepMs))]);
  }

  async keepGeneration(scope: string, generation: number, keepMs: number): Promise<void> {
    await runScript(this.client, SCRIPTS.keep, [this.generationKey(scope)], [String(generation), String(checkKeepMs(keepMs))]);
  }

  /** PING on the client: the stack's health check while the guard of a user-supplied tag store is in its back-off window. */
  async probe(): Promise<void> {
    await this.client.ping();
  }

  /** Does nothing: the client belongs to whoever created it. */
  close(): void {}

  private async run(lua: LuaScript, keys: string[], args: string[]): Promise<number> {
    const reply = await runScript(this.client, lua, keys, args);
    const version = Number(reply);
    if (!Number.isSafeInteger(version) || version < 1) throw new Error(`Tag store script returned ${String(reply)}`);
    return version;
  }
}

/** `keepMs` as a whole number of ms ≥ 1 (PEXPIRE's argument). */
function checkKeepMs(keepMs: number): number {
  if (!Number.isFinite(keepMs) || keepMs < 1) throw new RangeError(`keepMs must be a finite number of ms >= 1, got ${keepMs}`);
  return Math.ceil(keepMs);
}

function toInteger(value: string | null): number {
  if (value === null) return 0;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : 0;
}

/** A tag hash (HGETALL reply; `{}` when missing) as a state; fields that are not integers are ignored. */
function toState(hash: Record<string, string>): TagState | undefined {
  let version = 0;
  let any = 0;
  let groups: Map<string, TagGroup> | undefined;
  for (const field of Object.keys(hash)) {
    const value = Number(hash[field]);
    if (!Number.isSafeInteger(value)) continue;
    if (field === VERSION_FIELD) version = value;
    else if (field === ANY_FIELD) any = value;
    else (groups ??= new Map()).set(field, { tags: field.split('\u001f'), version: value });
  }
  return version === 0 && any === 0 && groups === undefined ? undefined : { version: Math.max(version, any), any, groups };
}
