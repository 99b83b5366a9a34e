/**
 * `CacheStack`: the public API over the engine — key checks, per-call options, namespaces, `wrap` and
 * bulk calls. A namespace view is a `CacheStack` sharing its parent's engine (layers, loads, metrics) under
 * a longer key prefix.
 */
import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheEventListener, CacheEventName } from '../core/events.js';
import { checkKey, checkName, encodeArguments, MAX_KEY_LENGTH, NAMESPACE_SEPARATOR } from '../core/keys.js';
import type { CacheLayer } from '../core/layer.js';
import type { CacheMetrics } from '../core/metrics.js';
import type { TagMatchMode } from '../core/tag-store.js';
import {
  DEFAULT_CACHE_STACK_OPTIONS,
  resolvePolicy,
  type CacheEntryOptions,
  type CacheStackOptions,
  type EntryPolicy,
  type Loader,
} from './cache-stack.options.js';
import { resolveEngineSettings } from './engine-settings.js';
import { GENERATION_MARK } from './generations.js';
import { CACHE_MISS, StackEngine, type ReadInfo } from './stack-engine.js';

export { CACHE_MISS, type ReadInfo } from './stack-engine.js';

/** Options of `invalidateByPrefix` / `invalidateByPattern`. */
export interface InvalidateMatchingOptions {
  /** Most keys deleted; when more match, nothing is deleted and the call rejects. @default 10_000 */
  limit?: number;
}

/** One entry of {@link CacheStack.setMany}. */
export interface CacheSetItem<T = unknown> {
  key: string;
  value: T;
  options?: CacheEntryOptions<T>;
}

/** The answer of {@link CacheStack.getDetailed}. */
export interface CacheReadResult<T> {
  readonly value: T | undefined;
  readonly status: ReadInfo['status'];
  /** When the served entry was produced (ms), or `undefined` for a miss. */
  readonly createdAt: number | undefined;
}

/** Marks the keys of `wrap`ped functions: user keys cannot contain it, so they never collide. */
const WRAP_MARK = '\u001d';

/**
 * A multi-layer cache: layers ordered fastest first (e.g. `MemoryLayer`, then `RedisLayer`).
 * @example
 * const cache = new CacheStack([new MemoryLayer({ maxSize: 10_000 }), new RedisLayer({ client })], { ttl: 60 });
 * const user = await cache.get(`user:${id}`, () => db.users.find(id), { tags: ['users'] });
 */
export class CacheStack {
  private readonly engine: StackEngine;
  /** The key prefixes of this view and its parents, root first (`''`): the scopes of their generations. */
  private readonly scopes: readonly string[];
  /** The namespace names along `scopes` (one fewer: the root has none). */
  private readonly names: readonly string[];
  /** The physical key prefix for the generations of `prefixEpoch`. */
  private cachedPrefix = '';
  private prefixEpoch = -1;
  private readonly hashLongKeys: boolean;
  /** Per-call options resolved once per options object (decorators and `wrap` pass the same object). */
  private readonly policies: WeakMap<object, EntryPolicy>;

  constructor(layers: readonly CacheLayer[], options: CacheStackOptions = {}) {
    this.engine = new StackEngine(resolveEngineSettings(layers, options));
    this.scopes = [''];
    this.names = [];
    this.hashLongKeys = options.hashLongKeys ?? DEFAULT_CACHE_STACK_OPTIONS.hashLongKeys;
    this.policies = new WeakMap();
  }

  /**
   * Reads `key`. On a miss, runs `loader` once however many callers wait (their promises share its result
   * or error) and stores its result. Fresh: the cached value. Stale within `staleWhileRevalidate`: the stale
   * value at once, refreshed in the background. Without a loader a miss is `undefined`.
   */
  async get<T>(key: string, loader?: Loader<T>, options?: CacheEntryOptions<T>): Promise<T | undefined> {
    const k = this.key(key);
    if (loader !== undefined && typeof loader !== 'function') throw new InvalidOptionError('loader', 'expected a function');
    return this.engine.read(k, key, loader, options === undefined ? this.engine.policy : this.policy(options));
  }

  /**
   * The fresh value of `key` from the in-process layer, synchronously, or `CACHE_MISS`: no loader, no I/O,
   * no stale values. For hot paths that must not wait (the method decorators use it before `get`). Pass
   * `info` to learn the entry's `createdAt` (status `hit`) on a hit.
   */
  peek<T>(key: string, info?: ReadInfo): T | typeof CACHE_MISS {
    return this.engine.peek(this.key(key), info) as T | typeof CACHE_MISS;
  }

  /**
   * `get`, also saying how it was answered: `hit` (fresh), `stale` (served while a background refresh runs),
   * `stale-if-error` (the reload failed), or `miss` (loaded now, or nothing without a loader); `createdAt`
   * (ms) of a served entry, for an `Age`. Used by the HTTP interceptor for `X-Cache`.
   */
  async getDetailed<T>(key: string, loader?: Loader<T>, options?: CacheEntryOptions<T>): Promise<CacheReadResult<T>> {
    const k = this.key(key);
    if (loader !== undefined && typeof loader !== 'function') throw new InvalidOptionError('loader', 'expected a function');
    const info: ReadInfo = { status: 'miss', createdAt: undefined };
    const value = await this.engine.read(k, key, loader, options === undefined ? this.engine.policy : this.policy(options), info);
    return { value, status: info.status, createdAt: info.createdAt };
  }

  /** `get` with a required loader: always resolves to the cached or loaded value. */
  async getOrSet<T>(key: string, loader: Loader<T>, options?: CacheEntryOptions<T>): Promise<T> {
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'getOrSet needs a loader function');
    return (await this.get(key, loader, options)) as T;
  }

  /** Stores `value` under `key` in every layer; a load of `key` running meanwhile will not overwrite it. */
  async set<T>(key: string, value: T, options?: CacheEntryOptions<T>): Promise<void> {
    await this.setMany<T>([{ key, value, ...(options !== undefined && { options }) }]);
  }

  /** Removes `key` from every layer; a load of it running meanwhile will not store its result. */
  async delete(key: string): Promise<void> {
    await this.engine.delete([this.key(key)]);
  }

  /** Whether `get(key)` would return a value (fresh or stale) without a loader. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Reads many keys, one bulk read per layer (one MGET on Redis); `undefined` for misses. */
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return (await this.engine.readMany(this.keys(keys))) as (T | undefined)[];
  }

  /** Stores many values, one bulk write per layer (one round trip on Redis). */
  async setMany<T = unknown>(items: readonly CacheSetItem<T>[]): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidOptionError('items', 'expected an array of { key, value, options? }');
    const writes = items.map((item) => ({
      key: this.key(item.key),
      value: item.value,
      policy: item.options === undefined ? this.engine.policy : this.policy(item.options),
    }));
    await this.engine.storeMany(writes);
  }

  /** Removes many keys, one bulk delete per layer. */
  async mdelete(keys: readonly string[]): Promise<void> {
    await this.engine.delete(this.keys(keys));
  }

  /**
   * Returns a memoized version of `fn`: calls with equal arguments share one cached result. Argument keys are
   * collision-free (`f('a:b')` and `f('a', 'b')` differ) and cannot collide with keys given to `get`/`set`.
   */
  wrap<A extends unknown[], R>(prefix: string, fn: (...args: A) => R | Promise<R>, options?: CacheEntryOptions<R>): (...args: A) => Promise<R> {
    checkName('prefix', prefix);
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'wrap needs a function');
    const policy = options === undefined ? this.engine.policy : this.policy(options);
    return async (...args: A): Promise<R> => {
      const base = this.prefix + prefix + WRAP_MARK;
      const encoded = encodeArguments(args);
      const k = encoded.length > MAX_KEY_LENGTH ? base + checkKey(encoded, true) : base + encoded;
      return this.engine.read<R>(k, prefix + encoded, () => fn(...args), policy) as Promise<R>;
    };
  }

  /**
   * A view whose keys live under `name`: nested namespaces stack their names, and a namespace's `clear()`
   * removes its own keys only (never a sibling such as `a` vs `ab`). The view shares this stack's layers.
   */
  namespace(name: string): CacheStack {
    const view = Object.create(CacheStack.prototype) as CacheStack;
    const scope = this.scope + checkName('namespace', name) + NAMESPACE_SEPARATOR;
    this.engine.generations.watch(scope);
    return Object.assign(view, {
      engine: this.engine,
      scopes: [...this.scopes, scope],
      names: [...this.names, name],
      cachedPrefix: '',
      prefixEpoch: -1,
      hashLongKeys: this.hashLongKeys,
      policies: this.policies,
    });
  }

  /** Removes every entry of this stack, or of this namespace only for a namespace view (every generation). */
  async clear(): Promise<void> {
    const scope = this.scope;
    await this.engine.clear(scope === '' ? undefined : scope);
  }

  /**
   * Deletes every entry whose key starts with `prefix` (in this namespace; nested namespaces are not reached),
   * in every layer and instance. Lists the keys first (Redis: SCAN on every node) and deletes nothing when
   * more than `limit` match (`InvalidationLimitError`) or a layer fails while listing (`InvalidationScanError`).
   * Costs a scan of the keyspace: for frequent invalidations prefer tags or `bumpGeneration()`.
   * @returns the number of keys deleted.
   */
  async invalidateByPrefix(prefix: string, options: InvalidateMatchingOptions = {}): Promise<number> {
    checkName('prefix', prefix);
    return this.engine.invalidateMatching(this.prefix + prefix, undefined, checkLimit(options), `prefix ${JSON.stringify(prefix)}`);
  }

  /**
   * Deletes every entry whose key matches `pattern` (`*` any run of characters, `?` one character, anything
   * else literal; within this namespace), like {@link invalidateByPrefix}, with the same `limit`.
   * @example await cache.invalidateByPattern('user:*:profile');
   */
  async invalidateByPattern(pattern: string, options: InvalidateMatchingOptions = {}): Promise<number> {
    checkName('prefix', pattern);
    const star = pattern.search(/[*?]/);
    const literal = star < 0 ? pattern : pattern.slice(0, star);
    const glob = star < 0 ? '' : pattern.slice(star);
    return this.engine.invalidateMatching(this.prefix + literal, glob, checkLimit(options), `pattern ${JSON.stringify(pattern)}`);
  }

  /**
   * Invalidates every entry of this namespace (of the whole stack on the root), nested namespaces included, in
   * O(1) and on every instance: the namespace moves to its next generation, under which every key has a new
   * physical name; old entries are never read again and expire by their ttl (the in-process layers drop them
   * at once). Shared through the tag store (Redis) and the invalidation bus. Resolves to the new generation.
   */
  async bumpGeneration(): Promise<number> {
    return this.engine.bumpGeneration(this.scope);
  }

  /** This namespace's generation as known to this instance (0 until the first bump). */
  get generation(): number {
    return this.engine.generations.of(this.scope);
  }

  /** The key prefix of this view without generations: its scope. */
  private get scope(): string {
    return this.scopes[this.scopes.length - 1] as string;
  }

  /** The physical key prefix: namespace names, each scope followed by its generation when bumped. */
  private get prefix(): string {
    const generations = this.engine.generations;
    if (this.prefixEpoch === generations.epoch) return this.cachedPrefix;
    let prefix = '';
    for (let i = 0; i < this.scopes.length; i++) {
      if (i > 0) prefix += (this.names[i - 1] as string) + NAMESPACE_SEPARATOR;
      const generation = generations.of(this.scopes[i] as string);
      if (generation > 0) prefix += String(generation) + GENERATION_MARK;
    }
    this.cachedPrefix = prefix;
    this.prefixEpoch = generations.epoch;
    return prefix;
  }

  /** Invalidates every entry tagged `tag`, in every layer and process sharing the tag store, without scanning keys. */
  async invalidateByTag(tag: string): Promise<void> {
    await this.invalidateByTags([tag], 'any');
  }

  /** Invalidates entries carrying `any` of the tags (default) or `all` of them together. */
  async invalidateByTags(tags: readonly string[], mode: TagMatchMode = 'any'): Promise<void> {
    if (!Array.isArray(tags) || tags.length === 0) throw new InvalidOptionError('tags', 'expected a non-empty array of tag names');
    if (mode !== 'any' && mode !== 'all') throw new InvalidOptionError('mode', `expected 'any' or 'all', got ${JSON.stringify(mode)}`);
    await this.engine.invalidateTags([...new Set(tags.map((tag) => checkName('tag', tag)))], mode);
  }

  /** The stack's time source (the `clock` option, or the system clock): for `Age` headers and the like. */
  get clock(): Clock {
    return this.engine.clock;
  }

  /** Counters of the stack and of each layer (a snapshot). */
  getMetrics(): CacheMetrics {
    return this.engine.getMetrics();
  }

  /** Listens to a stack event (`hit`, `miss`, `stale`, `set`, `delete`, `refresh`, `refresh-error`, ...). */
  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): this {
    this.engine.on(event, listener);
    return this;
  }

  /** Removes a listener added with {@link CacheStack.on}. */
  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): this {
    this.engine.off(event, listener);
    return this;
  }

  /**
   * Resolves once the stack listens to its peers (the invalidation bus is subscribed); at once without a bus.
   * A bus that cannot subscribe is logged, not thrown: the stack works, its L1 just does not hear peers.
   */
  ready(): Promise<void> {
    return this.engine.ready();
  }

  /** Resolves once background work (refreshes, backfills) has settled; for tests and shutdown. */
  idle(): Promise<void> {
    return this.engine.idle();
  }

  /** Aborts running loads, waits for background work and closes the layers (not clients passed in). */
  close(): Promise<void> {
    return this.engine.close();
  }

  private key(key: string): string {
    const prefix = this.prefix;
    return prefix === '' ? checkKey(key, this.hashLongKeys) : prefix + checkKey(key, this.hashLongKeys);
  }

  private keys(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'expected an array of keys');
    return keys.map((key) => this.key(key));
  }

  private policy(options: CacheEntryOptions<never>): EntryPolicy {
    let policy = this.policies.get(options);
    if (policy === undefined) {
      policy = resolvePolicy(options as CacheEntryOptions, this.engine.policy);
      this.policies.set(options, policy);
    }
    return policy;
  }
}

function checkLimit(options: InvalidateMatchingOptions): number {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  const limit = options.limit ?? DEFAULT_CACHE_STACK_OPTIONS.invalidationLimit;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidOptionError('limit', `expected a non-negative integer, got ${String(limit)}`);
  return limit;
}
