/**
 * Option names of other cache libraries, with the direction to give a user who ports a configuration from them:
 * `checkOptionKeys(options, known, { renamed })` prints the hint instead of a bare "unknown option". One table per
 * options object, in one file, so a port's vocabulary is reviewed in one place (docs/configuration.md lists it).
 *
 * Where the names come from:
 * - `layercache` (npm, flyingsquirrel0419/layercache, src/types.ts and its layer and bus classes): `CacheStackOptions`
 *   (`gracefulDegradation`, `stampedePrevention`, `negativeCaching`, `fetcherRateLimit`, `singleFlightCoordinator`,
 *   `tagIndex`...), its per-call `CacheGetOptions` (`negativeCache`, `ttlPolicy`...), `circuitBreaker`
 *   (`cooldownMs`), `fetcherRateLimit` (`maxConcurrent`, `intervalMs`, `maxPerInterval`), `writeBehind`
 *   (`flushIntervalMs`, `batchSize`, `maxQueueSize`), `adaptiveTtl` (`hotAfter`, `maxTtl`), `RedisLayer`
 *   (`compressionThreshold`, `decompressionMaxBytes`, `commandTimeoutMs`...) and `RedisInvalidationBus`
 *   (`publisher`, `subscriber`, `signingSecret`).
 * - `@nestjs/cache-manager` (`CacheModule.register` / `registerAsync` options) and `cache-manager` 5-7
 *   (`createCache` options): `store`, `stores`, `max`, `refreshThreshold`, `nonBlocking`, `cacheId`, `isGlobal`
 *   (in a factory's result).
 * Names both libraries share with this one (`ttl`, `staleWhileRevalidate`, `writePolicy`, `maxSize`, `prefix`...)
 * are known options here and never reach these tables; `ttl` in milliseconds is caught by the duration warning
 * (duration.ts), not here.
 */

type Hints = Readonly<Record<string, string>>;

/** Per-call entry options (`get`/`set`/`wrap` options, `namespace` options, decorator options). */
export const FOREIGN_ENTRY_OPTIONS: Hints = Object.freeze({
  negativeCache: "use negativeTtl (how long a not-found result is kept; undefined is not cached without it)",
  negativeCaching: "use negativeTtl (how long a not-found result is kept; undefined is not cached without it)",
  fetcherRateLimit: 'renamed loaderRateLimit ({ concurrency, perSecond, scope, maxWait })',
  ttlPolicy: "give it as ttl: 'until-midnight', 'next-hour' or a function (value, key) => duration",
  contextOptions: 'give ttl as a function (value, key) => duration, and tags as a function of the value',
  refreshThreshold: 'use refreshAhead: a fraction of the fresh window (0.8) after which a read refreshes in the background',
  isCacheableValue: 'use shouldCache: (value) => boolean',
  isCacheable: 'use shouldCache: (value) => boolean',
});

/** `CacheStack` options beyond the entry options (and the top level of `LayerCacheModule.forRoot`). */
export const FOREIGN_STACK_OPTIONS: Hints = Object.freeze({
  ...FOREIGN_ENTRY_OPTIONS,
  gracefulDegradation: 'always on: a failing shared layer is skipped and retried after a back-off; tune layerTimeout / layerBackoff',
  stampedePrevention: 'always on: a key is loaded once per process (once per cluster with singleFlight)',
  stampedeMaxInFlight: 'use loaderRateLimit: { concurrency } to bound loader runs',
  stampedeEntryTimeoutMs: 'use loaderTimeout (a duration: a number is seconds)',
  metrics: 'always on: read them with getMetrics() (Prometheus: LayerCacheModule.forRoot({ metrics: { prometheus: true } }))',
  tagIndex: 'renamed tagStore (RedisTagStore; the default is the Redis layer\'s own)',
  singleFlightCoordinator: 'renamed singleFlight (new RedisSingleFlightCoordinator({ client }))',
  singleFlightLeaseMs: "renamed singleFlightLease (a duration: '5s')",
  singleFlightTimeoutMs: 'a waiting instance waits for the lease holder while its lease lives: see singleFlightLease',
  singleFlightPollMs: 'set pollInterval on the RedisSingleFlightCoordinator',
  singleFlightRenewIntervalMs: 'the lease is renewed every third of singleFlightLease',
  broadcastL1Invalidation: 'every set, delete and invalidation is announced on invalidationBus when one is given',
  publishSetInvalidation: 'every set, delete and invalidation is announced on invalidationBus when one is given',
  backgroundRefreshTimeoutMs: 'a background refresh is bounded by loaderTimeout; its cluster lock by revalidationTimeout',
  writeStrategy: "use writeBehind: { flushInterval, maxBatch, maxQueue } for write-behind (write-through is the default)",
  generation: 'namespaces have generations: bumpGeneration()',
  generationCleanup: 'old generations expire by their ttl; nothing to clean',
  invalidationMaxKeys: 'pass { limit } to invalidateByPrefix / invalidateByPattern',
  snapshotBaseDir: 'pass { file } to exportSnapshot / importSnapshot (module: snapshot: { file })',
  maxProfileEntries: 'not needed: adaptive ttl and breakers keep their state bounded',
  // @nestjs/cache-manager and cache-manager
  store: 'layers are given as instances: layers: [new MemoryLayer()] and redis: url (or a RedisLayer in layers)',
  stores: 'layers are given as instances: layers: [new MemoryLayer(), new RedisLayer({ client })], fastest first',
  max: 'set the memory layer\'s maxSize (forRoot: memory: { maxSize }; or new MemoryLayer({ maxSize }))',
  nonBlocking: 'shared-layer commands are bounded by layerTimeout; writes can be batched with writeBehind',
  cacheId: 'name the registration: LayerCacheModule.forRoot({ name }) (or namespace() for a key prefix)',
  refreshAllStores: 'a refreshed value is written to every layer',
  ttlAutopurge: 'expired entries are dropped on read and evicted by size',
});

/** Options of `LayerCacheModule.forRoot` / the result of a `forRootAsync` factory, beyond the stack's. */
export const FOREIGN_MODULE_OPTIONS: Hints = Object.freeze({
  ...FOREIGN_STACK_OPTIONS,
  isGlobal: 'static: give isGlobal to forRootAsync beside useFactory, not in the factory\'s result',
  name: 'static: give name to forRootAsync beside useFactory, not in the factory\'s result',
  admin: 'static: give admin to forRootAsync beside useFactory, not in the factory\'s result',
});

/** `circuitBreaker` options. */
export const FOREIGN_BREAKER_OPTIONS: Hints = Object.freeze({
  cooldownMs: "renamed cooldown (a duration: '30s')",
  windowMs: "renamed window (a duration: '10s')",
});

/** `loaderRateLimit` options. */
export const FOREIGN_RATE_LIMIT_OPTIONS: Hints = Object.freeze({
  maxConcurrent: 'renamed concurrency',
  intervalMs: 'use perSecond (starts per second)',
  maxPerInterval: 'use perSecond (starts per second)',
  bucketKey: 'use scope: a function of the key returning the bucket',
});

/** `writeBehind` options. */
export const FOREIGN_WRITE_BEHIND_OPTIONS: Hints = Object.freeze({
  flushIntervalMs: "renamed flushInterval (a duration: '100ms')",
  batchSize: 'renamed maxBatch',
  maxQueueSize: 'renamed maxQueue',
});

/** `adaptiveTtl` options. */
export const FOREIGN_ADAPTIVE_OPTIONS: Hints = Object.freeze({
  hotAfter: 'renamed hits (reads within one ttl that make a key hot)',
  maxTtl: 'renamed max (the ceiling of the ttl)',
});

/** Layer options (`MemoryLayer`, `RedisLayer`, `DiskLayer`, `MemcachedLayer`). */
export const FOREIGN_LAYER_OPTIONS: Hints = Object.freeze({
  max: 'renamed maxSize (entries)',
  maxEntries: 'renamed maxSize (entries)',
  compressionThreshold: "give compression as { algorithm, threshold }",
  decompressionMaxBytes: 'renamed maxInflatedBytes',
  commandTimeoutMs: "a stack option here: layerTimeout (a duration: '500ms')",
  disconnectOnDispose: 'a client you pass is never closed; LayerCacheModule closes the connections its redis option opened',
  allowUnprefixedClear: 'clear() removes this layer\'s prefix only; every layer has one',
  scanCount: 'not needed: scans are paged internally',
});

/** Options of the Redis collaborators (`RedisInvalidationBus`, `RedisSingleFlightCoordinator`, `RedisTagStore`, `RedisRevalidationLock`). */
export const FOREIGN_REDIS_OPTIONS: Hints = Object.freeze({
  publisher: 'renamed client (the subscriber connection is duplicated from it)',
  subscriber: 'not needed: the subscriber connection is duplicated from client',
  signingSecret: 'renamed secret',
  requireSigning: 'giving a secret rejects unsigned messages',
  url: 'pass an ioredis client: { client: new Redis(url) }',
});
