/**
 * `CacheStack`: the public API of a stack — key checks, per-call options, namespaces, memoized functions and
 * bulk calls — over the engine's parts, which it calls directly: it holds the stack's `StackCore` (the one
 * owner of the state: layers, loads, metrics, lifecycle; stack-core.ts) and its `ReadPath` (the hot path,
 * held here too so an L1 hit costs one property read less). A namespace view is a `CacheStack` sharing its
 * parent's core under its own `KeySpace` (a longer key prefix, key-space.ts), with entry defaults of its own
 * when it was given options (`base`; a call's options resolve over them).
 * Why one file over 300 lines: it is the whole public surface (some 35 documented methods), each a few lines that
 * check the call and hand it to one engine part; the work lives in those parts (stack-inspect.ts, stack-health.ts,
 * snapshots.ts, ...), so splitting this class would only scatter its documentation.
 */
import type { Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheEventListener, CacheEventName } from '../core/events.js';
import { checkName, encodeArguments } from '../core/keys.js';
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
import { checkSetItemNames } from './option-names.js';
import { KeySpace } from './key-space.js';
import type { ReadPath } from './read-path.js';
import { CACHE_MISS, type ReadInfo } from './read-request.js';
import { checkLimit, type CacheReadResult, type CacheSetItem, type InvalidateMatchingOptions } from './stack-calls.js';
import { StackCore } from './stack-core.js';
import type { CacheEntryInspection } from './stack-inspect.js';
import { checkHealthOptions, type CacheHealthOptions, type CacheHealthReport } from './stack-health.js';
import type { ExportSnapshotOptions, ImportSnapshotOptions, SnapshotImportReport, SnapshotSource } from './snapshots.js';
import type { WarmEntry, WarmOptions, WarmReport } from './warm-entries.js';

export { CACHE_MISS, type ReadInfo } from './read-request.js';
export type { CacheReadResult, CacheSetItem, InvalidateMatchingOptions } from './stack-calls.js';
export type { CacheEntryInspection, CacheEntryState } from './stack-inspect.js';
// For the module's `warm` option (outside lib/stack the engine is reached through this file and its options).
export type { ExportSnapshotOptions, ImportSnapshotOptions, SnapshotImportReport, SnapshotSource } from './snapshots.js';
export { checkConcurrency, checkWarmEntries, type WarmEntry, type WarmReport } from './warm-entries.js';
export type { BusHealth, CacheHealthOptions, CacheHealthReport, CacheHealthStatus, LayerHealth } from './stack-health.js';

/**
 * A multi-layer cache: layers ordered fastest first (e.g. `MemoryLayer`, then `RedisLayer`).
 * @example
 * const cache = new CacheStack([new MemoryLayer({ maxSize: 10_000 }), new RedisLayer({ client })], { ttl: 60 });
 * const user = await cache.get(`user:${id}`, () => db.users.find(id), { tags: ['users'] });
 */
export class CacheStack {
  private readonly core: StackCore;
  private readonly reads: ReadPath;
  /** This view's keys: its namespace and generations. */
  private readonly space: KeySpace;
  /** Per-call options resolved once per options object (decorators and `memoize` pass the same object). */
  private readonly policies: WeakMap<object, EntryPolicy>;
  /** This view's entry defaults: the stack's, or a namespace's own (`namespace(name, options)`). */
  private readonly base: EntryPolicy;

  constructor(layers: readonly CacheLayer[], options: CacheStackOptions = {}) {
    this.core = new StackCore(resolveEngineSettings(layers, options));
    this.reads = this.core.reads;
    this.space = new KeySpace(this.core.generations, options.hashLongKeys ?? DEFAULT_CACHE_STACK_OPTIONS.hashLongKeys);
    this.policies = new WeakMap();
    this.base = this.core.policy;
  }

  /**
   * Reads `key`. On a miss, runs `loader` once however many callers wait (their promises share its result
   * or error) and stores its result. Fresh: the cached value. Stale within `staleWhileRevalidate`: the stale
   * value at once, refreshed in the background. Without a loader a miss is `undefined`.
   */
  async get<T>(key: string, loader?: Loader<T>, options?: CacheEntryOptions<T>): Promise<T | undefined> {
    const k = this.space.key(key);
    if (loader !== undefined && typeof loader !== 'function') throw new InvalidOptionError('loader', 'expected a function');
    return this.reads.read(k, key, loader, options === undefined ? this.base : this.policy(options), undefined, this.space.scope);
  }

  /**
   * The fresh value of `key` from the in-process layer, synchronously, or `CACHE_MISS`: no loader, no I/O,
   * no stale values. For hot paths that must not wait (the method decorators use it before `get`). Pass
   * `info` to learn the entry's `createdAt` (status `hit`) on a hit.
   */
  peek<T>(key: string, info?: ReadInfo): T | typeof CACHE_MISS {
    return this.reads.peek(this.space.key(key), info) as T | typeof CACHE_MISS;
  }

  /**
   * `get`, also saying how it was answered: `hit` (fresh), `stale` (served while a background refresh runs),
   * `stale-if-error` (the reload failed), or `miss` (loaded now, or nothing without a loader); `createdAt`
   * (ms) of a served entry, for an `Age`, and its `freshUntil`, for a `max-age`. Used by the HTTP interceptor for `X-Cache`.
   */
  async getDetailed<T>(key: string, loader?: Loader<T>, options?: CacheEntryOptions<T>): Promise<CacheReadResult<T>> {
    const k = this.space.key(key);
    if (loader !== undefined && typeof loader !== 'function') throw new InvalidOptionError('loader', 'expected a function');
    const info: ReadInfo = { status: 'miss', createdAt: undefined, freshUntil: undefined };
    const value = await this.reads.read(k, key, loader, options === undefined ? this.base : this.policy(options), info, this.space.scope);
    return { value, status: info.status, createdAt: info.createdAt, freshUntil: info.freshUntil };
  }

  /** `get` with a required loader: always resolves to the cached or loaded value. */
  async getOrSet<T>(key: string, loader: Loader<T>, options?: CacheEntryOptions<T>): Promise<T> {
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'getOrSet needs a loader function');
    return (await this.get(key, loader, options)) as T;
  }

  /**
   * Get-or-set as cache-manager's `wrap(key, fn)`: the cached value of `key`, else `fn`'s result, stored (the
   * same as {@link getOrSet}). For a memoized function over its arguments, see {@link memoize}.
   */
  async wrap<T>(key: string, fn: Loader<T>, options?: CacheEntryOptions<T>): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'wrap needs a loader function');
    return (await this.get(key, fn, options)) as T;
  }

  /** Stores `value` under `key` in every layer; a load of `key` running meanwhile will not overwrite it. */
  async set<T>(key: string, value: T, options?: CacheEntryOptions<T>): Promise<void> {
    await this.setMany<T>([{ key, value, ...(options !== undefined && { options }) }]);
  }

  /** Removes `key` from every layer; a load of it running meanwhile will not store its result. */
  async delete(key: string): Promise<void> {
    await this.core.writes.delete([this.space.key(key)]);
  }

  /** Seconds of freshness `key` has left (ms precision), `0` stale or in its error window, `undefined` absent; no load, no hit counted. */
  async ttl(key: string): Promise<number | undefined> {
    return this.core.inspector.ttl(this.space.key(key));
  }

  /** The state of `key` (fresh, stale, error-window, absent), its windows left, tags and version, read as `ttl` is. */
  async inspect(key: string): Promise<CacheEntryInspection> {
    return this.core.inspector.inspect(this.space.key(key));
  }

  /** Whether `get(key)` would return a value (fresh or stale) without a loader. */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Reads many keys, one bulk read per layer (one MGET on Redis); `undefined` for misses. */
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return (await this.core.reader.readMany(this.space.keys(keys))) as (T | undefined)[];
  }

  /** Stores many values, one bulk write per layer (one round trip on Redis). */
  async setMany<T = unknown>(items: readonly CacheSetItem<T>[]): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidOptionError('items', 'expected an array of { key, value, options? }');
    const writes = items.map((item, index) => ({
      key: this.space.key(checkSetItem(item, index).key),
      userKey: item.key,
      value: item.value,
      policy: item.options === undefined ? this.base : this.policy(item.options),
    }));
    await this.core.writes.storeMany(writes);
  }

  /** Removes many keys, one bulk delete per layer; running loads of them will not store their results. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    await this.core.writes.delete(this.space.keys(keys));
  }

  /**
   * Loads `entries` before their first read, higher `priority` first, `concurrency` at once (default 4): a fresh
   * cached value is `skipped`; a missing or stale one is loaded and stored as a miss of `get` would be (once per
   * process, once per cluster with `singleFlight`; a value a peer stored meanwhile is `skipped`). Resolves to a
   * report per entry (in the order given) and totals; a failing loader fails its entry, never the call. Emits
   * `warm`. Bad input throws `InvalidOptionError` naming it (`entries[2].key`) before anything runs.
   * @typeParam T the entries' value types, one per entry: a list may mix `WarmEntry<User>` and `WarmEntry<Config>`.
   */
  warm<T extends readonly unknown[]>(entries: { readonly [I in keyof T]: WarmEntry<T[I]> }, options?: WarmOptions): Promise<WarmReport> {
    const policyOf = (entry: CacheEntryOptions | undefined) => (entry === undefined ? this.base : this.policy(entry));
    return this.core.warmer.warm(entries as readonly WarmEntry[], options, (key) => this.space.key(key), policyOf, this.space.scope);
  }

  /**
   * Returns a memoized version of `fn`: calls with equal arguments share one cached result (under keys made of
   * `prefix` and the arguments). Argument keys are collision-free (`f('a:b')` and `f('a', 'b')` differ) and
   * cannot collide with keys given to `get`/`set`.
   */
  memoize<A extends unknown[], R>(prefix: string, fn: (...args: A) => R | Promise<R>, options?: CacheEntryOptions<R>): (...args: A) => Promise<R> {
    checkName('prefix', prefix);
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'memoize needs a function');
    const policy = options === undefined ? this.base : this.policy(options);
    return async (...args: A): Promise<R> => {
      const encoded = encodeArguments(args);
      return this.reads.read<R>(this.space.memoKey(prefix, encoded), prefix + encoded, () => fn(...args), policy, undefined, this.space.scope) as Promise<R>;
    };
  }

  /**
   * A view whose keys live under `name`: nested namespaces stack their names, and a namespace's `clear()`
   * removes its own keys only (never a sibling such as `a` vs `ab`). The view shares this stack's layers.
   * `options`: entry defaults of the view (over this view's own; a call's options still win), e.g.
   * `{ circuitBreaker: { failureThreshold: 5, window: 10, cooldown: 30 } }` for the loaders of one upstream.
   */
  namespace(name: string, options?: CacheEntryOptions): CacheStack {
    const space = this.space.child(name);
    const view = Object.create(CacheStack.prototype) as CacheStack;
    if (options === undefined) return Object.assign(view, { core: this.core, reads: this.reads, space, policies: this.policies, base: this.base });
    const base = resolvePolicy(options, this.base);
    return Object.assign(view, { core: this.core, reads: this.reads, space, policies: new WeakMap<object, EntryPolicy>(), base });
  }

  /** Removes every entry of this stack, or of this namespace only for a namespace view (every generation). */
  async clear(): Promise<void> {
    const scope = this.space.scope;
    await this.core.writes.clear(scope === '' ? undefined : scope);
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
    return this.core.writes.invalidateMatching(this.space.prefix + prefix, undefined, checkLimit(options), `prefix ${JSON.stringify(prefix)}`);
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
    return this.core.writes.invalidateMatching(this.space.prefix + literal, glob, checkLimit(options), `pattern ${JSON.stringify(pattern)}`);
  }

  /**
   * Invalidates every entry of this namespace (of the whole stack on the root), nested namespaces included, in
   * O(1) and on every instance: the namespace moves to its next generation, under which every key has a new
   * physical name; old entries are never read again and expire by their ttl (the in-process layers drop them
   * at once). Shared through the tag store (Redis) and the invalidation bus. Resolves to the new generation.
   */
  async bumpGeneration(): Promise<number> {
    return this.core.writes.bumpGeneration(this.space.scope);
  }

  /** This namespace's generation as known to this instance (0 until the first bump). */
  get generation(): number {
    return this.core.generations.of(this.space.scope);
  }

  /** Invalidates every entry tagged `tag`, in every layer and process sharing the tag store, without scanning keys. */
  async invalidateByTag(tag: string): Promise<void> {
    await this.invalidateByTags([tag], 'any');
  }

  /** Invalidates entries carrying `any` of the tags (default) or `all` of them together. */
  async invalidateByTags(tags: readonly string[], mode: TagMatchMode = 'any'): Promise<void> {
    if (!Array.isArray(tags) || tags.length === 0) throw new InvalidOptionError('tags', 'expected a non-empty array of tag names');
    if (mode !== 'any' && mode !== 'all') throw new InvalidOptionError('mode', `expected 'any' or 'all', got ${JSON.stringify(mode)}`);
    await this.core.writes.invalidateTags([...new Set(tags.map((tag) => checkName('tag', tag)))], mode);
  }

  /** The live entries of the in-process layers (the whole stack's, from a view too) as snapshot bytes, or atomically to `{ file }`. */
  exportSnapshot(options?: ExportSnapshotOptions): Promise<Buffer | undefined> {
    return this.core.snapshots.export(options);
  }

  /** Restores a snapshot into the in-process layers minus what expired or was superseded; `SnapshotError`: nothing imported. */
  importSnapshot(source: SnapshotSource, options?: ImportSnapshotOptions): Promise<SnapshotImportReport> {
    return this.core.snapshots.import(source, options);
  }

  /** The stack's time source (the `clock` option, or the system clock): for `Age` headers and the like. */
  get clock(): Clock {
    return this.core.clock;
  }

  /**
   * A health check (read-only): each layer pinged in parallel with its latency (its `probe()`, Redis PING, else a
   * read of a reserved key; bounded by `timeout`, default `layerTimeout`) and the bus's subscription. `degraded`
   * while a layer is down or the bus unsubscribed (the stack still answers), `down` once closed. Never rejects but
   * for bad options (`InvalidOptionError`).
   */
  async health(options?: CacheHealthOptions): Promise<CacheHealthReport> {
    return this.core.health(checkHealthOptions(options, this.core.layerTimeout));
  }

  /** Counters of the stack and of each layer (a snapshot). */
  getMetrics(): CacheMetrics {
    return this.core.getMetrics();
  }

  /** Listens to a stack event (`hit`, `miss`, `stale`, `set`, `delete`, `refresh`, `refresh-error`, ...). */
  on<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): this {
    this.core.events.on(event, listener);
    return this;
  }

  /** Removes a listener added with {@link CacheStack.on}. */
  off<E extends CacheEventName>(event: E, listener: CacheEventListener<E>): this {
    this.core.events.off(event, listener);
    return this;
  }

  /**
   * Resolves once the stack listens to its peers (the invalidation bus is subscribed); at once without a bus.
   * A bus that cannot subscribe is logged, not thrown: the stack works, its L1 just does not hear peers.
   */
  ready(): Promise<void> {
    return this.core.ready();
  }

  /** Resolves once background work (refreshes, backfills) has settled; for tests and shutdown. */
  idle(): Promise<void> {
    return this.core.idle();
  }

  /** Aborts running loads, waits for background work and closes the layers (not clients passed in). */
  close(): Promise<void> {
    return this.core.close();
  }

  private policy(options: CacheEntryOptions<never>): EntryPolicy {
    let policy = this.policies.get(options);
    if (policy === undefined) {
      policy = resolvePolicy(options as CacheEntryOptions, this.base);
      this.policies.set(options, policy);
    }
    return policy;
  }
}

/** `item` of `setMany`, its option names checked (`items[2].vlaue`: did you mean "value"?). */
function checkSetItem<T>(item: CacheSetItem<T>, index: number): CacheSetItem<T> {
  if (item !== null && typeof item === 'object') checkSetItemNames(item, index);
  return item;
}
