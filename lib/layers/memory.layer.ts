import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../core/clock.js';
import { toOptionalMilliseconds, type Duration } from '../core/duration.js';
import type { CacheEntry } from '../core/entry.js';
import { InvalidOptionError } from '../core/errors.js';
import type { LayerContext, LayerWrite, SyncCacheLayer } from '../core/layer.js';
import { estimateSize } from './estimate-size.js';
import { globMatcher } from '../core/key-glob.js';

/** Options of {@link MemoryLayer}. */
export interface MemoryLayerOptions {
  /** Longest time a copy stays in this layer, whatever the entry's own ttl. @default no cap */
  ttl?: Duration;
  /** Most entries kept; the least recently used goes first. @default 10_000 */
  maxSize?: number;
  /** Most bytes kept, as measured by `sizeOf`; off unless set. */
  maxBytes?: number;
  /** The size of a value in bytes, for `maxBytes`. @default a structural estimate (strings, buffers, objects) */
  sizeOf?: (value: unknown, key: string) => number;
  /** The layer's name in metrics and events. @default 'memory' */
  name?: string;
}

/** Defaults of {@link MemoryLayerOptions}. */
export const DEFAULT_MEMORY_LAYER_OPTIONS = Object.freeze({ maxSize: 10_000, name: 'memory' });

/**
 * The in-process layer (L1), on lru-cache. A hit returns the stored object itself — no copy is made, so
 * callers must not mutate cached values. Reads are synchronous: the stack checks L1 without an `await`.
 */
export class MemoryLayer implements SyncCacheLayer {
  readonly name: string;
  readonly shared = false;
  readonly synchronous = true;
  readonly ttl: number | undefined;
  private clock: Clock = systemClock;
  private readonly lru: LRUCache<string, CacheEntry>;

  constructor(options: MemoryLayerOptions = {}) {
    this.name = options.name ?? DEFAULT_MEMORY_LAYER_OPTIONS.name;
    this.ttl = toOptionalMilliseconds(options.ttl, 'MemoryLayer.ttl');
    if (this.ttl === 0) throw new InvalidOptionError('MemoryLayer.ttl', 'must be greater than 0');
    const maxSize = options.maxSize ?? DEFAULT_MEMORY_LAYER_OPTIONS.maxSize;
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new InvalidOptionError('MemoryLayer.maxSize', `expected a positive integer, got ${String(maxSize)}`);
    }
    const { maxBytes, sizeOf } = options;
    if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1)) {
      throw new InvalidOptionError('MemoryLayer.maxBytes', `expected a positive integer, got ${String(maxBytes)}`);
    }
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw new InvalidOptionError('MemoryLayer.sizeOf', 'expected a function (value, key) => bytes');
    }
    const measure = sizeOf ?? estimateSize;
    this.lru = new LRUCache<string, CacheEntry>({
      max: maxSize,
      ...(maxBytes !== undefined && {
        maxSize: maxBytes,
        // lru-cache rejects sizes < 1; an entry too large for the whole layer is simply not kept.
        sizeCalculation: (entry, key) => Math.max(1, Math.ceil(measure(entry.value, key))),
      }),
      ttlResolution: 0,
      perf: { now: () => this.clock.now() },
    });
  }

  attach(context: LayerContext): void {
    this.clock = context.clock;
  }

  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return keys.map((key) => this.lru.get(key));
  }

  set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): void {
    if (ifNewer === true && !this.isNewer(key, entry)) return;
    this.lru.set(key, entry, { ttl: ttlMs });
  }

  setMany(items: readonly LayerWrite[]): void {
    for (const item of items) this.set(item.key, item.entry, item.ttlMs, item.ifNewer);
  }

  /** Whether `entry` is newer than the copy held under `key` (true when there is none). */
  private isNewer(key: string, entry: CacheEntry): boolean {
    const held = this.lru.peek(key);
    return held === undefined || (held.version ?? 0) < (entry.version ?? 0);
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

  /** Number of entries held (expired ones not yet purged included). */
  get size(): number {
    return this.lru.size;
  }

  close(): void {
    this.lru.clear();
  }
}
