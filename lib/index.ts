// The public surface of nestjs-layercache: named exports only, no internals.
export { CacheStack, type CacheSetItem } from './stack/cache-stack.js';
export { CACHE_MISS } from './stack/stack-engine.js';
export {
  DEFAULT_CACHE_STACK_OPTIONS,
  type CacheEntryOptions,
  type CacheStackOptions,
  type Loader,
  type LoaderContext,
  type TagsOption,
} from './stack/cache-stack.options.js';
export { MemoryLayer, DEFAULT_MEMORY_LAYER_OPTIONS, type MemoryLayerOptions } from './layers/memory.layer.js';
export { RedisLayer, DEFAULT_REDIS_LAYER_OPTIONS, type RedisLayerOptions } from './layers/redis.layer.js';
export { RedisTagStore } from './layers/redis-tag.store.js';
export { MemoryTagStore } from './layers/memory-tag.store.js';
export { MsgpackSerializer } from './layers/msgpack.serializer.js';
export type { CacheLayer, SyncCacheLayer, LayerWrite, LayerContext } from './core/layer.js';
export type { CacheEntry } from './core/entry.js';
export type { Serializer } from './core/serializer.js';
export type { TagStore, TagState, TagGroup, TagMatchMode } from './core/tag-store.js';
export type { Clock, TimerHandle } from './core/clock.js';
export { systemClock } from './core/clock.js';
export type { Duration, DurationUnit } from './core/duration.js';
export type { CacheLogger } from './core/logger.js';
export type { CacheEventMap, CacheEventName, CacheEventListener } from './core/events.js';
export type { CacheMetrics, LayerMetrics, StackMetrics } from './core/metrics.js';
export { MAX_KEY_LENGTH } from './core/keys.js';
export {
  LayerCacheError,
  InvalidKeyError,
  InvalidOptionError,
  LoaderTimeoutError,
  LayerTimeoutError,
  LayerUnavailableError,
  StackClosedError,
  EntryEncodeError,
  type LayerCacheErrorCode,
} from './core/errors.js';
