/**
 * Validation of `LayerCacheModule` options (docs/architecture.md, "Options and errors"): every check throws
 * an `InvalidOptionError` naming the option as the user wrote it (`layers[1]`, `redis`, `redisLayer.prefix`,
 * `ttl`, `name`, `warm.entries[0].key`). `forRoot` runs these checks when it is called (the app's module file
 * is evaluated); `forRootAsync` options are checked when their factory has run, before any connection is opened.
 */
import { checkLayerCacheHttpOptions } from '../http/http-cache.checks.js';
import type { LayerCacheHttpOptions } from '../http/http-cache.options.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheLogger } from '../core/logger.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { checkAsyncOptionNames, checkDistributedOptionNames, checkModuleOptionNames } from './layer-cache-option-names.js';
import type { CacheLayer } from '../core/layer.js';
import { MemoryLayer, type MemoryLayerOptions } from '../layers/memory.layer.js';
import { checkRedisClient, type RedisClient } from '../redis/redis-client.js';
import { RedisLayer } from '../redis/redis.layer.js';
import { CacheStack, checkConcurrency, checkWarmEntries } from '../stack/cache-stack.js';
import { checkKey } from '../core/keys.js';
import { toMilliseconds } from '../core/duration.js';
import { checkPlugin } from '../core/plugin-check.js';
import { checkSnapshotOption } from './layer-cache.snapshot.js';
import { checkAdminOption, type ResolvedAdminOptions } from './layer-cache-admin.options.js';
import { checkMetricsOption } from './layer-cache.prometheus.js';
import { checkLayerProvider, isLayerProvider } from './layer-cache.layer-providers.js';
import { basePolicy, DEFAULT_CACHE_STACK_OPTIONS, resolvePolicy, type CacheStackOptions } from '../stack/cache-stack.options.js';
import { DEFAULT_LAYER_CACHE_MODULE_EXTRAS } from './layer-cache.options.js';
import type {
  LayerCacheLayerOption,
  LayerCacheModuleAsyncOptions,
  LayerCacheModuleExtras,
  LayerCacheModuleOptions,
  LayerCacheRedisLayerOptions,
  LayerCacheRedisOption,
  LayerCacheWarmOptions,
} from './layer-cache.options.js';

/** The methods of the `CacheLayer` contract a layer must have. */
const LAYER_METHODS = ['get', 'getMany', 'set', 'setMany', 'delete', 'clear', 'close'] as const;

/** The keys of {@link LayerCacheModuleOptions} that are not `CacheStack` options. */
export interface ModuleOnlyOptions {
  readonly enabled: boolean | undefined;
  readonly layers: LayerCacheLayerOption[] | undefined;
  readonly memory: MemoryLayerOptions | undefined;
  readonly redis: LayerCacheRedisOption | undefined;
  readonly redisLayer: LayerCacheRedisLayerOptions | undefined;
  readonly http: LayerCacheModuleOptions['http'];
  readonly distributed: LayerCacheModuleOptions['distributed'];
  readonly warm: LayerCacheModuleOptions['warm'];
  readonly snapshot: LayerCacheModuleOptions['snapshot'];
  readonly metrics: LayerCacheModuleOptions['metrics'];
}

/** Splits module options into the module's own keys and the options of the `CacheStack`. */
export function splitModuleOptions(options: LayerCacheModuleOptions): { module: ModuleOnlyOptions; stack: CacheStackOptions } {
  const { enabled, layers, memory, redis, redisLayer, http, distributed, warm, snapshot, metrics, ...stack } = options;
  return { module: { enabled, layers, memory, redis, redisLayer, http, distributed, warm, snapshot, metrics }, stack };
}

/** Checks the registration's name, scope and admin routes (static in `forRoot` and `forRootAsync`). */
export function checkModuleExtras(extras: LayerCacheModuleExtras): LayerCacheModuleExtras & { resolvedAdmin: ResolvedAdminOptions | undefined } {
  const { name, isGlobal, admin } = extras;
  if (typeof name !== 'string' || name.trim().length === 0 || /\p{Cc}/u.test(name)) {
    throw new InvalidOptionError('name', `expected a non-empty stack name without control characters, got ${describe(name)}`);
  }
  if (typeof isGlobal !== 'boolean') throw new InvalidOptionError('isGlobal', `expected a boolean, got ${describe(isGlobal)}`);
  return { ...extras, resolvedAdmin: admin === undefined ? undefined : checkAdminOption(admin) };
}

/** Checks that `forRootAsync` got exactly one way to produce the options. */
export function checkAsyncOptions(options: LayerCacheModuleAsyncOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('forRootAsync', `expected an options object, got ${describe(options)}`);
  }
  checkAsyncOptionNames(options);
  const given = (['useFactory', 'useClass', 'useExisting'] as const).filter((key) => options[key] !== undefined);
  if (given.length !== 1) {
    throw new InvalidOptionError('forRootAsync', `expected exactly one of useFactory, useClass, useExisting; got ${given.length === 0 ? 'none' : given.join(', ')}`);
  }
  if (options.useFactory !== undefined && typeof options.useFactory !== 'function') {
    throw new InvalidOptionError('useFactory', `expected a function, got ${describe(options.useFactory)}`);
  }
}

/**
 * Checks module options: their names (`extras`: `forRoot`'s argument, which carries `name`, `isGlobal`, `admin`
 * too), `layers`, `redis`, `redisLayer`, and every `CacheStack` option, by the stack's own rules (a probe stack on
 * a memory layer is built and dropped: nothing is opened, nothing is logged).
 */
export function checkModuleOptions(options: LayerCacheModuleOptions, extras = false): LayerCacheModuleOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', `expected an options object, got ${describe(options)}`);
  }
  checkModuleOptionNames(options, extras);
  const { module, stack } = splitModuleOptions(options);
  if (module.enabled !== undefined && typeof module.enabled !== 'boolean') throw new InvalidOptionError('enabled', `expected a boolean, got ${describe(module.enabled)}`);
  if (module.layers !== undefined) {
    if (!Array.isArray(module.layers)) {
      throw new InvalidOptionError('layers', `expected an array of layers, layer factories or layer provider definitions, fastest first; got ${describe(module.layers)}`);
    }
    if (module.layers.length === 0 && module.redis === undefined) {
      throw new InvalidOptionError('layers', 'expected at least one layer (or the redis shortcut)');
    }
    module.layers.forEach((entry, index) => checkLayerOption(entry, `layers[${index}]`));
  }
  if (module.memory !== undefined) {
    if (module.layers !== undefined) {
      throw new InvalidOptionError('memory', 'configures the default memory layer, which layers replaces; pass these options to your own MemoryLayer in layers');
    }
    createMemoryLayer(module.memory);
  }
  if (module.redis !== undefined) checkRedisOption(module.redis);
  if (module.redisLayer !== undefined) {
    if (module.redis === undefined) throw new InvalidOptionError('redisLayer', 'has no effect without the redis option');
    createRedisLayer(module.redisLayer, PROBE_CLIENT);
  }
  if (module.http !== undefined) checkHttpModuleOptions(module.http);
  if (module.distributed !== undefined) checkDistributedOption(module.distributed, module.redis !== undefined);
  if (module.warm !== undefined) checkWarmModuleOption(module.warm, stack.hashLongKeys);
  if (module.snapshot !== undefined) checkSnapshotOption(module.snapshot);
  if (module.metrics !== undefined) checkMetricsOption(module.metrics);
  // The probe must not start the user's bus (a bus is started once, by its stack): its shape is checked alone.
  const { invalidationBus, singleFlight, ...probed } = stack;
  if (extras) for (const name of Object.keys(DEFAULT_LAYER_CACHE_MODULE_EXTRAS)) delete (probed as Record<string, unknown>)[name];
  checkPlugin(invalidationBus, 'invalidationBus', ['start', 'publish', 'close']);
  checkPlugin(singleFlight, 'singleFlight', ['acquire', 'close']);
  new CacheStack([new MemoryLayer({ maxSize: 1 })], { ...probed, logger: SILENT_LOGGER });
  return options;
}

/** Checks the `distributed` option (only meaningful with `redis`). */
function checkDistributedOption(distributed: unknown, hasRedis: boolean): void {
  if (typeof distributed === 'boolean') {
    if (distributed && !hasRedis) throw new InvalidOptionError('distributed', 'needs the redis option (or pass invalidationBus / singleFlight instances)');
    return;
  }
  if (distributed === null || typeof distributed !== 'object' || Array.isArray(distributed)) {
    throw new InvalidOptionError('distributed', `expected a boolean or { invalidationBus, singleFlight, secret }, got ${describe(distributed)}`);
  }
  checkDistributedOptionNames(distributed);
  if (!hasRedis) throw new InvalidOptionError('distributed', 'needs the redis option (or pass invalidationBus / singleFlight instances)');
  const { invalidationBus, singleFlight, secret } = distributed as Record<string, unknown>;
  for (const [name, value] of [['invalidationBus', invalidationBus], ['singleFlight', singleFlight]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(`distributed.${name}`, `expected a boolean, got ${describe(value)}`);
  }
  if (secret !== undefined && !(typeof secret === 'string' && secret.length > 0) && !(Buffer.isBuffer(secret) && secret.length > 0)) {
    throw new InvalidOptionError('distributed.secret', 'expected a non-empty string or Buffer');
  }
}

/** Checks one entry of `layers`: a layer, a factory (a function that is not a class), or a provider definition. */
export function checkLayerOption(entry: unknown, option: string): void {
  if (isLayerProvider(entry)) return checkLayerProvider(entry, option);
  if (typeof entry === 'function') {
    if (/^class\b/.test(Function.prototype.toString.call(entry))) {
      const name = (entry as { name?: string }).name || 'Layer';
      throw new InvalidOptionError(option, `got the class ${name}; pass an instance (new ${name}()) or a factory (() => new ${name}())`);
    }
    return;
  }
  checkLayer(entry, option);
}

/** Checks that `value` implements the `CacheLayer` contract (a layer instance or a factory's result). */
export function checkLayer(value: unknown, option: string): CacheLayer {
  const candidate = value as Partial<Record<string, unknown>> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate['name'] !== 'string' ||
    candidate['name'] === '' ||
    LAYER_METHODS.some((method) => typeof candidate[method] !== 'function')
  ) {
    throw new InvalidOptionError(
      option,
      `expected a cache layer (name, ${LAYER_METHODS.join(', ')}) or a factory returning one, got ${describe(value)}`,
    );
  }
  return value as CacheLayer;
}

/** Whether the `redis` option passes an existing client (`{ client }`), which the module leaves open. */
export function isRedisClientOption(redis: LayerCacheRedisOption): redis is { readonly client: RedisClient } {
  return typeof redis === 'object' && redis !== null && 'client' in redis && typeof (redis as { getBuffer?: unknown }).getBuffer !== 'function';
}

/** Checks the `redis` shortcut: a URL, ioredis `RedisOptions`, or `{ client }`. */
export function checkRedisOption(redis: unknown): void {
  if (typeof redis === 'string') {
    if (redis.trim().length === 0) throw new InvalidOptionError('redis', 'expected a Redis URL such as redis://localhost:6379, got an empty string');
    return;
  }
  if (redis === null || typeof redis !== 'object' || Array.isArray(redis)) {
    throw new InvalidOptionError('redis', `expected a Redis URL, ioredis RedisOptions or { client }, got ${describe(redis)}`);
  }
  if (typeof (redis as { getBuffer?: unknown }).getBuffer === 'function') {
    throw new InvalidOptionError('redis', 'got an ioredis client; pass it as { client } (the module then leaves it open)');
  }
  if ('client' in redis) checkRedisClient('redis.client', redis.client);
}

/**
 * Creates the `RedisLayer` of the `redis` shortcut; its option errors name `redisLayer.<option>`, as the
 * user wrote it.
 */
export function createRedisLayer(options: LayerCacheRedisLayerOptions, client: RedisClient): RedisLayer {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('redisLayer', `expected an options object ({ prefix, ttl, serializer, name, compression, maxInflatedBytes }), got ${describe(options)}`);
  }
  try {
    return new RedisLayer({ ...options, client });
  } catch (error) {
    if (!(error instanceof InvalidOptionError) || !error.option.startsWith('RedisLayer.')) throw error;
    const option = `redisLayer.${error.option.slice('RedisLayer.'.length)}`;
    throw new InvalidOptionError(option, error.message.slice(`Invalid option "${error.option}": `.length));
  }
}

/** Creates the default `MemoryLayer` (`memory` option); its option errors name `memory.<option>`, as the user wrote it. */
export function createMemoryLayer(options: MemoryLayerOptions = {}): MemoryLayer {
  try {
    return new MemoryLayer(options);
  } catch (error) {
    if (!(error instanceof InvalidOptionError) || !error.option.startsWith('MemoryLayer')) throw error;
    const option = `memory${error.option.slice('MemoryLayer'.length)}`;
    throw new InvalidOptionError(option, error.message.slice(`Invalid option "${error.option}": `.length));
  }
}

/** Stands in for a client while `redisLayer` is checked: `RedisLayer`'s constructor stores it and calls nothing. */
const PROBE_CLIENT = Object.freeze({
  getBuffer: unused,
  mgetBuffer: unused,
  pipeline: unused,
  evalsha: unused,
}) as unknown as RedisClient;

function unused(): never {
  throw new Error('probe client: never called');
}

/** The probe stack's logger: the probe's warnings (a ttl that looks like milliseconds) are the real stack's to log. */
const SILENT_LOGGER: CacheLogger = Object.freeze({ warn: () => undefined, error: () => undefined });

const WARM_KEYS: ReadonlySet<string> = new Set(['entries', 'factory', 'blockStartup', 'concurrency']);

/** Checks the `warm` option; `hashLongKeys`: the stack's, for the entries' keys. */
export function checkWarmModuleOption(warm: unknown, hashLongKeys: boolean | undefined): void {
  if (warm === null || typeof warm !== 'object' || Array.isArray(warm)) {
    throw new InvalidOptionError('warm', `expected { entries | factory, blockStartup?, concurrency? }, got ${describe(warm)}`);
  }
  checkOptionKeys(warm, WARM_KEYS, { at: 'warm' });
  const { entries, factory, blockStartup, concurrency } = warm as LayerCacheWarmOptions;
  if ((entries === undefined) === (factory === undefined)) {
    throw new InvalidOptionError('warm', entries === undefined ? 'expected entries or factory' : 'give entries or factory, not both');
  }
  if (factory !== undefined && typeof factory !== 'function') throw new InvalidOptionError('warm.factory', `expected a function, got ${describe(factory)}`);
  if (entries !== undefined) {
    const base = basePolicy(toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.fallbackTtl, 'ttl'));
    checkWarmEntries(entries, 'warm.entries', (key, options) => {
      checkKey(key, hashLongKeys ?? DEFAULT_CACHE_STACK_OPTIONS.hashLongKeys);
      resolvePolicy(options, base);
    });
  }
  if (blockStartup !== undefined && typeof blockStartup !== 'boolean') {
    throw new InvalidOptionError('warm.blockStartup', `expected a boolean, got ${describe(blockStartup)}`);
  }
  checkConcurrency(concurrency, 'warm.concurrency');
}

/** A short description of a wrong value for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return `a function ${value.name}`.trimEnd();
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return typeof value;
}

/** Checks the `http` option: its names, `ignoreCookies`, and `defaults` as route options (lib/http/http-cache.checks.ts). */
function checkHttpModuleOptions(http: unknown): void {
  if (http === null || typeof http !== 'object' || Array.isArray(http)) {
    throw new InvalidOptionError('http', `expected an object ({ defaults, ignoreCookies, cacheUndecoratedRoutes }), got ${describe(http)}`);
  }
  checkLayerCacheHttpOptions('http', http as LayerCacheHttpOptions);
}
