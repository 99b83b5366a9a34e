// The public surface of nestjs-layercache: named exports only, no internals.
export { CacheStack, type CacheSetItem, type CacheReadResult, type InvalidateMatchingOptions } from './stack/cache-stack.js';
export { CACHE_MISS, type ReadInfo } from './stack/cache-stack.js';
export {
  DEFAULT_CACHE_STACK_OPTIONS,
  type CacheEntryOptions,
  type CacheStackOptions,
  type Loader,
  type LoaderContext,
  type TagsOption,
} from './stack/cache-stack.options.js';
export {
  MemoryLayer,
  DEFAULT_MEMORY_LAYER_OPTIONS,
  defaultMemoryMaxBytes,
  type MemoryLayerOptions,
  type MemoryLayerStats,
} from './layers/memory.layer.js';
export { estimateSize } from './layers/estimate-size.js';
export { RedisLayer, DEFAULT_REDIS_LAYER_OPTIONS, type RedisLayerOptions } from './redis/redis.layer.js';
export { RedisTagStore } from './redis/redis-tag.store.js';
export { MemoryTagStore } from './core/memory-tag.store.js';
export {
  RedisRevalidationLock,
  DEFAULT_REDIS_REVALIDATION_LOCK_OPTIONS,
  type RedisRevalidationLockOptions,
} from './redis/redis-revalidation.lock.js';
export { MemoryRevalidationLock, type MemoryRevalidationLockOptions } from './core/memory-revalidation.lock.js';
export type { RevalidationLock, LockLease } from './core/revalidation-lock.js';
export {
  RedisInvalidationBus,
  DEFAULT_REDIS_INVALIDATION_BUS_OPTIONS,
  type RedisInvalidationBusOptions,
  type RedisInvalidationBusStats,
} from './redis/redis-invalidation.bus.js';
export {
  RedisSingleFlightCoordinator,
  DEFAULT_REDIS_SINGLE_FLIGHT_OPTIONS,
  type RedisSingleFlightCoordinatorOptions,
} from './redis/redis-single-flight.coordinator.js';
export type { InvalidationBus, InvalidationBusHandlers, InvalidationMessage } from './core/invalidation-bus.js';
export type { LoadCoordinator, LoadLease, LoadTicket } from './core/load-coordinator.js';
export { MsgpackSerializer } from './core/msgpack.serializer.js';
export type { CacheLayer, SyncCacheLayer, LayerWrite, LayerContext } from './core/layer.js';
export type { CacheEntry } from './core/entry.js';
export type { Serializer } from './core/serializer.js';
export type { TagStore, TagState, TagGroup, TagMatchMode } from './core/tag-store.js';
export type { Clock, TimerHandle } from './core/clock.js';
export { systemClock } from './core/clock.js';
export type { Duration, DurationUnit } from './core/duration.js';
export type { CacheLogger } from './core/logger.js';
export type { CacheEventMap, CacheEventName, CacheEventListener } from './core/events.js';
export type { CacheMetrics, LayerMetrics, StackMetrics, BusMetrics, SingleFlightMetrics } from './core/metrics.js';
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
  InvalidationLimitError,
  InvalidationScanError,
  type LayerCacheErrorCode,
} from './core/errors.js';
export { LayerCacheModule } from './module/layer-cache.module.js';
export {
  DEFAULT_LAYER_CACHE_MODULE_EXTRAS,
  DEFAULT_LAYER_CACHE_REDIS_OPTIONS,
  type LayerCacheDistributedOptions,
  type LayerCacheLayerOption,
  type LayerCacheModuleAsyncOptions,
  type LayerCacheModuleExtras,
  type LayerCacheModuleOptions,
  type LayerCacheModuleRootOptions,
  type LayerCacheOptionsFactory,
  type LayerCacheRedisLayerOptions,
  type LayerCacheRedisOption,
} from './module/layer-cache.options.js';
export { DEFAULT_STACK_NAME, getCacheStackToken, InjectCacheStack } from './common/layer-cache.tokens.js';
export type { RedisClient } from './redis/redis-client.js';
export { Cacheable } from './decorators/cacheable.decorator.js';
export { CachePut } from './decorators/cache-put.decorator.js';
export { CacheEvict } from './decorators/cache-evict.decorator.js';
export { CacheTags } from './decorators/cache-tags.decorator.js';
export { getCacheTags } from './common/cache-tags.metadata.js';
export type {
  CacheableOptions,
  CachePutOptions,
  CacheEvictOptions,
  CacheWriteOptions,
  CacheTargetOptions,
  CacheKeyOption,
  CacheTagValue,
  CacheTagsOption,
} from './decorators/cache-decorator.options.js';
export { LayerCacheInterceptor, type HttpCacheCall, type XCacheStatus } from './http/layer-cache.interceptor.js';
export { HttpCache, SkipCache, getHttpCacheOptions, isSkipCacheRoute } from './http/http-cache.decorator.js';
export {
  DEFAULT_HTTP_CACHE_OPTIONS,
  LAYER_CACHE_HTTP_OPTIONS,
  type HttpCacheOptions,
  type HttpCacheKeyFn,
  type HttpCacheRequest,
  type HttpCacheTagsOption,
  type LayerCacheHttpOptions,
} from './http/http-cache.options.js';
export { buildRequestKey, type RequestKeyParts } from './http/request-key.builder.js';
export type { HttpRoutePlan } from './http/http-route.plan.js';
export type { StoredResponse, HandlerOutcome, NotStoredReason } from './http/http-response.record.js';
