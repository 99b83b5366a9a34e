/**
 * The in-process layer (L1), on lru-cache, bounded in entries (`maxSize`) and in estimated bytes
 * (`maxBytes`, on by default). Each write is measured once — key + envelope + value, see `estimate-size.ts` —
 * and an entry over `maxEntryBytes` is refused (and any older copy of its key dropped, so L1 never serves a
 * value older than the slower layers hold); the least recently used entries make room for the others.
 */
import { noteLikelyMilliseconds } from '../core/duration.js';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import type { LayerContext, LayerWrite, SyncCacheLayer } from '../core/layer.js';
import { consoleLogger, type CacheLogger } from '../core/logger.js';
import { estimateSize } from './estimate-size.js';
import { globMatcher } from '../core/key-glob.js';
import { resolveMemoryLayerOptions, type MemoryLayerOptions } from './memory-layer.options.js';

export { DEFAULT_MEMORY_LAYER_OPTIONS, defaultMemoryMaxBytes, type MemoryLayerOptions } from './memory-layer.options.js';

/** What a {@link MemoryLayer} holds and has refused, from `stats()`. */
export interface MemoryLayerStats {
  /** Entries held (expired ones not yet purged included). */
  readonly entries: number;
  /** Estimated bytes of the entries held (key + envelope + value each). */
  readonly bytes: number;
  /** The byte budget (`maxBytes`). */
  readonly maxBytes: number;
  /** The largest entry kept (`maxEntryBytes`). */
  readonly maxEntryBytes: number;
  /** Entries dropped to make room (by bytes or by count), since the layer was created. */
  readonly evictions: number;
  /** Writes not kept because the entry was over `maxEntryBytes`, since the layer was created. */
  readonly oversized: number;
}

/** Estimated bytes of a `CacheEntry` envelope and the bookkeeping lru-cache keeps per entry. */
export const ENTRY_OVERHEAD_BYTES = 192;

/**
 * The in-process layer (L1). A hit returns the stored object itself — no copy is made, so callers must not
 * mutate cached values. Reads are synchronous: the stack checks L1 without an `await`.
 */
export class MemoryLayer implements SyncCacheLayer {
  readonly name: string;
  readonly shared = false;
  readonly synchronous = true;
  readonly ttl: number | undefined;
  /** The byte budget of this layer. */
  readonly maxBytes: number;
  /** The largest entry this layer keeps. */
  readonly maxEntryBytes: number;
  private clock: Clock = systemClock;
  private logger: CacheLogger = consoleLogger;
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly sizeOf: ((value: unknown, key: string) => number) | undefined;
  private evictions = 0;
  private oversized = 0;
  private warnedOversized = false;
  private warnedSizeOf = false;

  constructor(options: MemoryLayerOptions = {}) {
    const resolved = resolveMemoryLayerOptions(options);
    noteLikelyMilliseconds(this, options.ttl, 'MemoryLayer.ttl');
    this.name = resolved.name;
    this.ttl = resolved.ttl;
    this.maxBytes = resolved.maxBytes;
    this.maxEntryBytes = resolved.maxEntryBytes;
    this.sizeOf = resolved.sizeOf;
    this.lru = new LRUCache<string, CacheEntry>({
      max: resolved.maxSize,
      maxSize: resolved.maxBytes,
      maxEntrySize: resolved.maxEntryBytes,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.evictions++;
      },
      ttlResolution: 0,
      perf: { now: () => this.clock.now() },
    });
  }

  attach(context: LayerContext): void {
    this.clock = context.clock;
    this.logger = context.logger;
  }

  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return keys.map((key) => this.lru.get(key));
  }

  set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): void {
    if (ifNewer === true && !this.isNewer(key, entry)) return;
    const size = this.measure(key, entry);
    if (size > this.maxEntryBytes) {
      this.refuse(key, size);
      return;
    }
    this.lru.set(key, entry, { ttl: ttlMs, size });
  }

  setMany(items: readonly LayerWrite[]): void {
    for (const item of items) this.set(item.key, item.entry, item.ttlMs, item.ifNewer);
  }

  /** The estimated bytes of `entry` under `key`: the key, the envelope and its tags, and the value. */
  private measure(key: string, entry: CacheEntry): number {
    let bytes = ENTRY_OVERHEAD_BYTES + 2 * key.length;
    if (entry.tags !== undefined) for (const tag of entry.tags) bytes += 2 * tag.length + 24;
    return Math.ceil(bytes + this.valueSize(entry.value, key));
  }

  private valueSize(value: unknown, key: string): number {
    if (this.sizeOf !== undefined) {
      try {
        const size = this.sizeOf(value, key);
        if (typeof size === 'number' && Number.isFinite(size) && size >= 0) return size;
        this.warnSizeOf(`returned ${String(size)}`);
      } catch (error) {
        this.warnSizeOf(`threw ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return estimateSize(value);
  }

  private warnSizeOf(what: string): void {
    if (this.warnedSizeOf) return;
    this.warnedSizeOf = true;
    this.logger.warn(`MemoryLayer "${this.name}": sizeOf ${what}; the built-in estimate is used instead (logged once)`);
  }

  /** Keeps nothing for `key` (an older copy must not outlive the newer value refused here) and counts it. */
  private refuse(key: string, size: number): void {
    this.lru.delete(key);
    this.oversized++;
    if (this.warnedOversized) return;
    this.warnedOversized = true;
    this.logger.warn(
      `MemoryLayer "${this.name}": an entry of about ${size} bytes (key ${JSON.stringify(key.slice(0, 200))}) is over maxEntryBytes ` +
        `(${this.maxEntryBytes}) and is not kept in this layer; further ones are counted in stats().oversized, not logged`,
    );
  }

  /** Whether `entry` is newer than the copy held under `key` (true when there is none). */
  private isNewer(key: string, entry: CacheEntry): boolean {
    const held = this.lru.peek(key);
    return held === undefined || (held.version ?? 0) < (entry.version ?? 0);
  }

  /**
   * Extends the copy of `key` to `entry`'s deadlines (see `CacheLayer.touch`): only a copy of the same version
   * whose `freshUntil` is earlier, which is replaced by `entry` (the same value, so the same measured size: it is
   * not measured again) for `ttlMs` more milliseconds.
   */
  touch(key: string, entry: CacheEntry, ttlMs: number): boolean {
    const held = this.lru.peek(key);
    if (held === undefined || (held.version ?? 0) !== (entry.version ?? 0) || held.freshUntil >= entry.freshUntil) return false;
    const size = this.lru.info(key)?.size ?? this.measure(key, entry);
    this.lru.set(key, entry, { ttl: ttlMs, size });
    return true;
  }

  delete(keys: readonly string[]): void {
    for (const key of keys) this.lru.delete(key);
  }

  clear(prefix: string | undefined): void {
    if (prefix === undefined) {
      this.lru.clear();
      return;
    }
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
  }

  findKeys(prefix: string, glob: string | undefined, limit: number): string[] {
    const matches = globMatcher(glob);
    const found: string[] = [];
    for (const key of this.lru.keys()) {
      if (key.startsWith(prefix) && matches(key.slice(prefix.length))) {
        found.push(key);
        if (found.length > limit) break;
      }
    }
    return found;
  }

  /**
   * The live entries held, most recently used first, without touching their recency (for snapshots,
   * `CacheStack.exportSnapshot`). Entries past this layer's own ttl are left out.
   */
  *entries(): IterableIterator<[string, CacheEntry]> {
    for (const [key, entry] of this.lru.entries()) yield [key, entry];
  }

  /** Number of entries held (expired ones not yet purged included). */
  get size(): number {
    return this.lru.size;
  }

  /** Estimated bytes of the entries held (expired ones not yet purged included). */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  /** What the layer holds and has refused (cheap: no walk over the entries). */
  stats(): MemoryLayerStats {
    return {
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      maxBytes: this.maxBytes,
      maxEntryBytes: this.maxEntryBytes,
      evictions: this.evictions,
      oversized: this.oversized,
    };
  }

  close(): void {
    this.lru.clear();
  }
}
