/**
 * The public surface of nestjs-layercache: named exports only, chosen one by one (docs/api.md lists them by
 * use). Everything else under lib/ is internal and may change in any release. test/unit/api-report.spec.ts
 * compares this list, with the kind of each export, to etc/api.md: a change here shows there in review.
 */

// The engine: a stack of layers, its options and answers.
export {
  CacheStack,
  CACHE_MISS,
  type CacheEntryInspection,
  type CacheEntryState,
  type CacheSetItem,
  type CacheReadResult,
  type InvalidateMatchingOptions,
  type ReadInfo,
} from './stack/cache-stack.js';
export { DEFAULT_CACHE_STACK_OPTIONS, type AdaptiveTtlOptions, type CacheEntryOptions, type CacheStackOptions, type Loader, type LoaderContext } from './stack/cache-stack.options.js';
// Protecting the upstream: `circuitBreaker` and `loaderRateLimit` entry options (errors: CircuitOpenError, RateLimitError).
export type { CircuitBreakerOptions, LoaderRateLimitOptions, LoaderScopeFunction } from './stack/cache-stack.options.js';
// Write-time freshness: `ttl: 'until-midnight' | 'next-hour'` (in `timeZone`), or a function of (value, key).
export type { CalendarTtl, TtlFunction } from './stack/cache-stack.options.js';
export type { CacheSpan, CacheSpanAttributes, CacheTracer, TracingKeys, TracingOptions } from './stack/cache-stack.options.js';
export { DEFAULT_TRACING_OPTIONS, TRACER_NAME } from './stack/tracing.js';
// Warming: `CacheStack.warm(entries, { concurrency })`, its entries and its report.
export {
  DEFAULT_WARM_CONCURRENCY,
  type WarmEntry,
  type WarmOptions,
  type WarmReport,
  type WarmEntryReport,
  type WarmStatus,
  type WarmTotals,
} from './stack/warm-entries.js';
export type { TagsOption, TagsFunction } from './core/tags.js';
// Snapshots of the in-process layers: `CacheStack.exportSnapshot()` / `importSnapshot()` (errors: SnapshotError).
export type { LayerCacheSnapshotOptions } from './module/layer-cache.snapshot.js';
export type { LayerCacheMetricsOptions, LayerCachePrometheusOptions, LayerCachePrometheusRegistry } from './module/layer-cache.prometheus.js';
export type { ExportSnapshotOptions, ImportSnapshotOptions, SnapshotImportReport, SnapshotSource } from './stack/snapshots.js';
export { SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC } from './stack/snapshot.format.js';
export type { Duration, DurationUnit } from './core/duration.js';
// Protecting the writes: `writePolicy: 'strict'` (rejects with WriteFailedError) and `writeBehind` (batched shared writes).
export { DEFAULT_WRITE_BEHIND_OPTIONS, type WriteBehindOptions, type WritePolicy } from './stack/write-options.js';
export { MAX_KEY_LENGTH } from './core/keys.js';

// Layers and the collaborators of a distributed stack.
export { MemoryLayer, DEFAULT_MEMORY_LAYER_OPTIONS, type MemoryLayerOptions, type MemoryLayerStats } from './layers/memory.layer.js';
export { estimateSize } from './layers/estimate-size.js';
/** A persistent layer for one host on plain files (L2 without Redis, or L3 behind it): docs/storage.md. */
export { DiskLayer, DEFAULT_DISK_LAYER_OPTIONS, type DiskLayerOptions, type DiskLayerStats } from './layers/disk.layer.js';
export { MemcachedLayer, DEFAULT_MEMCACHED_LAYER_OPTIONS, type MemcachedLayerOptions } from './layers/memcached.layer.js';
export type { MemcachedClient } from './layers/memcached-client.js';
export { RedisLayer, DEFAULT_REDIS_LAYER_OPTIONS, type RedisLayerOptions } from './redis/redis.layer.js';
export type { RedisClient } from './redis/redis-client.js';
export { RedisTagStore, DEFAULT_REDIS_TAG_STORE_OPTIONS, type RedisTagStoreOptions } from './redis/redis-tag.store.js';
export { MemoryTagStore } from './core/memory-tag.store.js';
export {
  RedisRevalidationLock,
  DEFAULT_REDIS_REVALIDATION_LOCK_OPTIONS,
  type RedisRevalidationLockOptions,
} from './redis/redis-revalidation.lock.js';
export { MemoryRevalidationLock, type MemoryRevalidationLockOptions } from './core/memory-revalidation.lock.js';
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
export { MsgpackSerializer } from './core/msgpack.serializer.js';
export { JsonSerializer } from './core/json.serializer.js';
export {
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_MAX_INFLATED_BYTES,
  type CompressionAlgorithm,
  type CompressionOptions,
} from './core/entry-compression.js';

// Contracts, for custom layers, serializers, tag stores, locks, buses, coordinators and clocks.
export type { CacheLayer, SyncCacheLayer, LayerWrite, LayerContext } from './core/layer.js';
export type { AdaptiveRamp, CacheEntry, EntryFreshness } from './core/entry.js';
export type { Serializer } from './core/serializer.js';
export type { TagStore, TagState, TagGroup, TagMatchMode } from './core/tag-store.js';
export type { RevalidationLock, LockLease } from './core/revalidation-lock.js';
export type { InvalidationBus, InvalidationBusHandlers, InvalidationMessage } from './core/invalidation-bus.js';
export type { LoadCoordinator, LoadLease, LoadTicket } from './core/load-coordinator.js';
export type { Clock, TimerHandle } from './core/clock.js';
export type { CacheLogger } from './core/logger.js';

// Observability: events and metrics.
export type { CacheEventMap, CacheEventName, CacheEventListener } from './core/events.js';
export type { CacheMetrics, LayerMetrics, StackMetrics, BusMetrics, SingleFlightMetrics, WriteBehindMetrics, LatencyMetrics, LayerOperation } from './core/metrics.js';
export { LATENCY_BUCKETS_MS, L1_READ_SAMPLE, LAYER_OPERATIONS } from './core/metrics.js';
// Health: `CacheStack.health()` and its report, and the @nestjs/terminus indicator of a registration (docs/observability.md).
export type { BusHealth, CacheHealthOptions, CacheHealthReport, CacheHealthStatus, LayerHealth } from './stack/cache-stack.js';
export type { BusSubscriptionState } from './core/invalidation-bus.js';
export {
  LayerCacheHealthIndicator,
  getCacheHealthIndicatorToken,
  InjectCacheHealthIndicator,
  type LayerCacheDegradedStatus,
  type LayerCacheHealthCheckOptions,
  type LayerCacheHealthDetails,
  type LayerCacheLayerHealthDetails,
} from './module/layer-cache.health-indicator.js';

// Errors.
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
  CircuitOpenError,
  RateLimitError,
  WriteFailedError,
  SnapshotError,
  type LayerCacheErrorCode,
} from './core/errors.js';

// The Nest module and injection.
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
  type LayerCacheWarmOptions,
} from './module/layer-cache.options.js';
export { DEFAULT_STACK_NAME, getCacheLayerToken, getCacheStackToken, InjectCacheLayer, InjectCacheStack } from './common/layer-cache.tokens.js';
export type {
  LayerCacheLayerClassProvider,
  LayerCacheLayerExistingProvider,
  LayerCacheLayerFactoryProvider,
  LayerCacheLayerProvider,
} from './module/layer-cache.layer-providers.js';
export { PassThroughLayer } from './module/pass-through.layer.js';
// The stats endpoint and dashboard page of `admin: { path, guard }` (docs/observability.md, "Stats page").
export { DEFAULT_LAYER_CACHE_ADMIN_OPTIONS, type LayerCacheAdminOptions } from './module/layer-cache-admin.options.js';
export type { LayerCacheAdminStats, LayerCacheStatsPoint } from './module/layer-cache-admin.stats.js';

// Method decorators.
export { Cacheable } from './decorators/cacheable.decorator.js';
export { CachePut } from './decorators/cache-put.decorator.js';
export { CacheEvict } from './decorators/cache-evict.decorator.js';
export { CacheTags } from './decorators/cache-tags.decorator.js';
export type {
  CacheableOptions,
  CachePutOptions,
  CacheEvictOptions,
  CacheEvictKey,
  CacheWriteOptions,
  DecoratorEntryOption,
  CacheTargetOptions,
  CacheKeyOption,
} from './decorators/cache-decorator.options.js';

// HTTP response caching.
export { LayerCacheInterceptor, type XCacheStatus } from './http/layer-cache.interceptor.js';
export { HttpCache, SkipCache } from './http/http-cache.decorator.js';
export {
  DEFAULT_HTTP_CACHE_OPTIONS,
  type HttpCacheOptions,
  type HttpCacheKeyFn,
  type HttpCacheIdentityFn,
  type HttpCacheTtlFn,
  type HttpCacheRequest,
  type LayerCacheHttpOptions,
} from './http/http-cache.options.js';
export type { NotStoredReason } from './http/http-response.record.js';
