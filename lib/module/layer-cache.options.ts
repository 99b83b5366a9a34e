/**
 * What users write in `LayerCacheModule.forRoot` / `forRootAsync`: layers, the `redis` shortcut, the
 * distributed features, the interceptor's `http` defaults, startup warming, and the module extras (`name`, `isGlobal`, `admin`).
 */
import type { LayerCacheHttpOptions } from '../http/http-cache.options.js';
import type { ConfigurableModuleAsyncOptions } from '@nestjs/common';
import type { RedisOptions } from 'ioredis';
import type { CacheLayer } from '../core/layer.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { MemoryLayerOptions } from '../layers/memory-layer.options.js';
import type { RedisLayerOptions } from '../redis/redis.layer.js';
import type { CacheStackOptions } from '../stack/cache-stack.options.js';
import type { WarmEntry } from '../stack/cache-stack.js';
import { DEFAULT_STACK_NAME } from '../common/layer-cache.tokens.js';
import type { LayerCacheSnapshotOptions } from './layer-cache.snapshot.js';
import type { LayerCacheAdminOptions } from './layer-cache-admin.options.js';
import type { LayerCacheMetricsOptions } from './layer-cache.prometheus.js';
import type { LayerCacheLayerProvider } from './layer-cache.layer-providers.js';

/**
 * One entry of `layers`: a layer instance, a factory called once per application (so two apps in one
 * process, e.g. two test apps, get layers of their own instead of sharing one instance), or a Nest provider
 * definition (`{ name, useFactory, inject }`, `{ name, useClass }`, `{ name, useExisting }`: docs/testing.md,
 * "Layers as providers").
 */
export type LayerCacheLayerOption = CacheLayer | (() => CacheLayer | Promise<CacheLayer>) | LayerCacheLayerProvider;

/**
 * The `redis` shortcut: a URL (`'redis://host:6379/0'`), ioredis `RedisOptions` (the module opens the
 * connection and closes it on shutdown), or `{ client }` (your connection; the module never closes it).
 */
export type LayerCacheRedisOption = string | RedisOptions | { readonly client: RedisClient };

/**
 * The multi-instance features the module sets up on the `redis` connection (each on a connection of its own,
 * duplicated from it and closed on shutdown). Instances that share a Redis and a `redisLayer.prefix` see each
 * other. Pass `false` to run without them (one instance, or a cache where a stale L1 copy is acceptable).
 */
export interface LayerCacheDistributedOptions {
  /** Announce sets, deletes, tag invalidations, clears and generation bumps to the other instances, which drop their L1 copies (`RedisInvalidationBus`). @default true */
  invalidationBus?: boolean;
  /** Load a key missing everywhere once in the whole cluster; the other instances wait for its value (`RedisSingleFlightCoordinator`). @default true */
  singleFlight?: boolean;
  /**
   * A shared secret (the same on every instance): bus messages and single-flight notices are signed
   * (HMAC-SHA256, stamped against replays) and unsigned, foreign, replayed or outdated ones dropped. Without it,
   * a startup warning is logged when `NODE_ENV` is `production`. @default none
   */
  secret?: string | Buffer;
}

/**
 * What the module warms when the app starts (in `onApplicationBootstrap`, once every provider exists): `entries`,
 * or a `factory` returning them. A failing warmer (a loader or the factory throws, Redis is down) never stops the
 * app: it is logged through the stack's `logger`.
 */
export interface LayerCacheWarmOptions {
  /** The entries to warm (see `CacheStack.warm`). Give `entries` or `factory`. */
  entries?: readonly WarmEntry[];
  /** Returns the entries, called at startup (a `forRootAsync` factory's closure can use injected services). */
  factory?: () => readonly WarmEntry[] | Promise<readonly WarmEntry[]>;
  /** `true`: `app.init()` / `listen()` wait until warming has finished. @default false (warming runs in the background) */
  blockStartup?: boolean;
  /** Most entries loading at once. @default 4 */
  concurrency?: number;
}

/** Options of the `RedisLayer` the `redis` shortcut appends (its `client` comes from `redis`). */
export type LayerCacheRedisLayerOptions = Omit<RedisLayerOptions, 'client'>;

/**
 * Options of one stack registered by `LayerCacheModule`: the `CacheStack` options (entry defaults such as
 * `ttl`, `staleWhileRevalidate`, and stack settings) plus its layers. What a `forRootAsync` factory returns.
 */
export interface LayerCacheModuleOptions extends CacheStackOptions {
  /**
   * `false`: test mode (docs/testing.md). Nothing is opened (no Redis connection, bus, coordinator, layer, timer);
   * `CacheStack` is a pass-through stack that stores nothing (`get(key, loader)` runs the loader); decorated methods
   * and `@HttpCache` routes run on every call (`X-Cache: BYPASS`); `warm`, `snapshot` and `metrics` are skipped;
   * layer tokens resolve to layers that store nothing. The options are still checked. @default true
   */
  enabled?: boolean;
  /**
   * The layers, fastest first: instances, factories (`() => new MemoryLayer({ ttl: 60 })`) or provider definitions
   * (`{ name: 'redis', useFactory: (client) => new RedisLayer({ client }), inject: [REDIS] }`). A layer
   * instance belongs to one stack: when one module class is imported by several apps in one process, pass
   * factories. `[]` with `redis` gives a Redis-only stack. Layer names must be unique in a stack. @default [new MemoryLayer()] (the `redis` layer comes after it)
   */
  layers?: LayerCacheLayerOption[];
  /**
   * Options of the default `MemoryLayer` (the one used when `layers` is not given), e.g.
   * `{ maxBytes: 256 * 1024 * 1024 }`; errors name `memory.<option>`. With `layers`, configure your own
   * `MemoryLayer` instead. @default the MemoryLayer defaults (64 MiB or 1/8 of the heap limit, 10,000 entries)
   */
  memory?: MemoryLayerOptions;
  /** Appends a `RedisLayer` on this connection after `layers` (see {@link LayerCacheRedisOption}). @default none */
  redis?: LayerCacheRedisOption;
  /** Options of the `RedisLayer` appended for `redis` (`prefix`, `ttl`, `serializer`, `name`, `compression`, `maxInflatedBytes`). @default the RedisLayer defaults */
  redisLayer?: LayerCacheRedisLayerOptions;
  /**
   * Invalidation bus and distributed single-flight on the `redis` connection ({@link LayerCacheDistributedOptions});
   * `invalidationBus` / `singleFlight` instances given as stack options win over these. Only with `redis`.
   * @default true when `redis` is set (both on, no secret)
   */
  distributed?: boolean | LayerCacheDistributedOptions;
  /**
   * App-wide options of `LayerCacheInterceptor` (route defaults below `@HttpCache`, `cacheUndecoratedRoutes`);
   * only on the default registration (the one without `name`). @default none
   */
  http?: LayerCacheHttpOptions;
  /**
   * Keys to warm when the app starts ({@link LayerCacheWarmOptions}: `entries` or `factory`, `blockStartup`,
   * `concurrency`); a failing warmer is logged and never stops the app. @default none
   */
  warm?: LayerCacheWarmOptions;
  /**
   * Warm restarts: the in-process layers are restored from `file` at startup (a missing file is a cold start, a bad
   * one is logged) and written to it at shutdown, before the stack closes (`CacheStack.exportSnapshot`). @default none
   */
  snapshot?: LayerCacheSnapshotOptions;
  /**
   * Metrics export: `{ prometheus: true }` registers `layercache_*` counters and histograms in prom-client's default
   * registry (`{ prometheus: { registry, prefix } }`: another registry or prefix), read from `getMetrics()` at scrape
   * time (docs/observability.md, "Prometheus"). prom-client is an optional peer. @default none
   */
  metrics?: LayerCacheMetricsOptions;
}

/** Options of the registration itself, beside {@link LayerCacheModuleOptions} (static even in `forRootAsync`). */
export interface LayerCacheModuleExtras {
  /** Export the stack to every module of the app, without importing `LayerCacheModule` there. @default true */
  isGlobal: boolean;
  /** The stack's name: `'default'` is injected as `CacheStack`, others with `@InjectCacheStack(name)`. @default 'default' */
  name: string;
  /**
   * Mounts a JSON stats endpoint (`GET <path>/stats`) and a dashboard page (`GET <path>`) of this stack, both behind
   * `guard` (required); static in `forRootAsync` too ({@link LayerCacheAdminOptions}). @default none (no routes)
   */
  admin?: LayerCacheAdminOptions | undefined;
}

/** Defaults of {@link LayerCacheModuleExtras}. */
export const DEFAULT_LAYER_CACHE_MODULE_EXTRAS: Readonly<LayerCacheModuleExtras> = Object.freeze({
  isGlobal: true,
  name: DEFAULT_STACK_NAME,
  // Listed (undefined) so the module builder keeps `admin` out of the stack's options.
  admin: undefined,
});

/**
 * The ioredis options the module sets on connections it opens for `redis` (your `RedisOptions` win): fail
 * fast while disconnected instead of queueing commands, so the stack answers from the other layers.
 */
export const DEFAULT_LAYER_CACHE_REDIS_OPTIONS: Readonly<Pick<RedisOptions, 'enableOfflineQueue' | 'maxRetriesPerRequest'>> =
  Object.freeze({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });

/** The name of the method a `forRootAsync({ useClass | useExisting })` class implements. */
export const LAYER_CACHE_OPTIONS_FACTORY_METHOD = 'createLayerCacheOptions' as const;

/** A class for `forRootAsync({ useClass })` or `forRootAsync({ useExisting })`. */
export interface LayerCacheOptionsFactory {
  /** Returns the options of the stack. */
  createLayerCacheOptions(): LayerCacheModuleOptions | Promise<LayerCacheModuleOptions>;
}

/** What `LayerCacheModule.forRoot` takes: the stack's options and the registration's {@link LayerCacheModuleExtras}. */
export type LayerCacheModuleRootOptions = LayerCacheModuleOptions & Partial<LayerCacheModuleExtras>;

/**
 * What `LayerCacheModule.forRootAsync` takes: `imports`, and one of `useFactory` (+ `inject`), `useClass`
 * or `useExisting` producing {@link LayerCacheModuleOptions}; `name` and `isGlobal` stay static.
 */
export type LayerCacheModuleAsyncOptions = ConfigurableModuleAsyncOptions<LayerCacheModuleOptions, typeof LAYER_CACHE_OPTIONS_FACTORY_METHOD> &
  Partial<LayerCacheModuleExtras> & {
    /**
     * The layers, declared statically (instances, factories, provider definitions): each named one is injectable by
     * `getCacheLayerToken(name)`, which the layers a factory returns are not (their names are only known once it ran).
     * Then the factory must not return `layers`. @default the factory's `layers`
     */
    layers?: LayerCacheLayerOption[];
  };
