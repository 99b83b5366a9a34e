/**
 * Builds what one `LayerCacheModule` registration owns in one app: its `CacheStack`, the Redis connections the
 * `redis` shortcut opened, and the logger all of them (and the warmer, the snapshot) write to: the user's `logger`,
 * else Nest's `Logger` (nest-cache.logger.ts). One `StackResources` per app (a provider factory), so two apps in one
 * process never share a stack, a default memory layer or a module-opened connection.
 * Hard part: nothing is built until the stack's provider asks (`build()`): an overridden `CacheStack` provider, or
 * `enabled: false` (a pass-through stack, docs/testing.md), opens no connection and starts no bus or coordinator.
 */
import type { Redis } from 'ioredis';
import type { CacheLayer } from '../core/layer.js';
import type { CacheLogger } from '../core/logger.js';
import type { MemoryLayerOptions } from '../layers/memory.layer.js';
import { RedisInvalidationBus } from '../redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../redis/redis-single-flight.coordinator.js';
import type { RedisClient } from '../redis/redis-client.js';
import { CacheStack } from '../stack/cache-stack.js';
import type { CacheStackOptions } from '../stack/cache-stack.options.js';
import { checkLayer, checkModuleOptions, createMemoryLayer, createRedisLayer, isRedisClientOption, splitModuleOptions } from './layer-cache-options.validator.js';
import type { LayerCacheLayerOption, LayerCacheModuleOptions } from './layer-cache.options.js';
import { closeRedisConnection, openRedisConnection } from './redis-connection.factory.js';
import { layerCacheLogContext, nestCacheLogger } from './nest-cache.logger.js';
import { DEFAULT_STACK_NAME } from '../common/layer-cache.tokens.js';
import { markPassThroughStack } from '../common/pass-through-stack.js';
import { InvalidOptionError } from '../core/errors.js';
import { borrowedLayer, checkUniqueNames, isLayerProvider, type LayerSources } from './layer-cache.layer-providers.js';
import { PassThroughLayer } from './pass-through.layer.js';

/**
 * What one registration owns in one app, built on demand: the provider of the stack's token calls `build()`, so an
 * overridden stack provider (`overrideProvider(CacheStack)`) builds nothing and opens no connection.
 */
export class StackResources {
  /** Where the stack and the registration's providers log: the `logger` option, else Nest's `Logger`. */
  readonly logger: CacheLogger;
  private building: Promise<CacheStack> | undefined;
  private built: BuiltStack | undefined;
  private readonly standIns = new Map<string, PassThroughLayer>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: LayerCacheModuleOptions,
    /** The registration's name. */
    readonly name: string = DEFAULT_STACK_NAME,
    /** The provider definitions of `layers`, by index, resolved by Nest. */
    private readonly sources: LayerSources = new Map(),
    /** `layers` declared statically in `forRootAsync({ layers })`, if any. */
    private readonly staticLayers?: readonly LayerCacheLayerOption[],
  ) {
    this.logger = options.logger ?? nestCacheLogger(layerCacheLogContext(name));
  }

  /** Whether the registration runs with its cache (`enabled` is not `false`). */
  get enabled(): boolean {
    return this.options.enabled !== false;
  }

  /** Builds the stack (once): the layers, the `redis` connection, bus and coordinator; or the pass-through stack. */
  build(): Promise<CacheStack> {
    this.building ??= (this.enabled ? createStack(this.options, this.name, this.logger, this.sources, this.staticLayers) : passThroughStack(this.options, this.logger)).then((built) => {
      this.built = built;
      return built.stack;
    });
    return this.building;
  }

  /** The stack the module built with its cache on; `undefined` while disabled, or when its provider was overridden. */
  get stack(): CacheStack | undefined {
    return this.enabled ? this.built?.stack : undefined;
  }

  /**
   * The layer named `layerName` of the stack the module built; a {@link PassThroughLayer} of that name when the module
   * built none with its cache on (`enabled: false`, or the stack's provider was overridden).
   */
  layer(layerName: string): CacheLayer {
    const built = this.enabled ? this.built : undefined;
    if (built === undefined) {
      let standIn = this.standIns.get(layerName);
      if (standIn === undefined) {
        standIn = new PassThroughLayer(layerName);
        this.standIns.set(layerName, standIn);
      }
      return standIn;
    }
    const layer = built.layers.get(layerName);
    if (layer === undefined) throw new InvalidOptionError('layers', `stack "${this.name}" has no layer named "${layerName}" (it has ${[...built.layers.keys()].join(', ')})`);
    return layer;
  }

  /** Closes the stack if it was built (aborts loads, waits for background refreshes), then the module's connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const built = await this.building?.then(() => this.built, () => undefined);
    if (built === undefined) return;
    try {
      await built.stack.close();
    } finally {
      await Promise.all(built.connections.map(closeRedisConnection));
    }
  }
}

/** A built stack, the layers the app sees by name, and the connections the module opened for it. */
interface BuiltStack {
  readonly stack: CacheStack;
  readonly layers: ReadonlyMap<string, CacheLayer>;
  readonly connections: readonly Redis[];
}

/** The stack of a disabled registration: one {@link PassThroughLayer}, no bus, no coordinator, nothing opened. */
async function passThroughStack(options: LayerCacheModuleOptions, logger: CacheLogger): Promise<BuiltStack> {
  checkModuleOptions(options);
  const stack = new CacheStack([new PassThroughLayer()], {
    logger,
    ...(options.clock !== undefined && { clock: options.clock }),
    ...(options.hashLongKeys !== undefined && { hashLongKeys: options.hashLongKeys }),
  });
  markPassThroughStack(stack);
  await stack.ready();
  return { stack, layers: new Map(), connections: [] };
}

/**
 * Validates `options`, resolves the layers (factories and provider definitions are called now, in order), appends
 * the `RedisLayer` of the `redis` shortcut and builds the stack of registration `name`. On failure, whatever was
 * opened is closed again.
 */
async function createStack(
  options: LayerCacheModuleOptions,
  name: string,
  logger: CacheLogger,
  sources: LayerSources,
  staticLayers: readonly LayerCacheLayerOption[] | undefined,
): Promise<BuiltStack> {
  const { module, stack: stackOptions } = splitModuleOptions(checkModuleOptions(options));
  stackOptions.logger = logger;
  const connections: Redis[] = [];
  const layers: ResolvedLayer[] = [];
  try {
    await resolveLayers(layerEntries(module.layers, staticLayers), module.memory, sources, layers);
    if (module.redis !== undefined) {
      let client;
      if (isRedisClientOption(module.redis)) {
        client = module.redis.client;
      } else {
        client = await openRedisConnection(module.redis, logger);
        connections.push(client);
      }
      const redisLayer = createRedisLayer(module.redisLayer ?? {}, client);
      layers.push({ layer: redisLayer, given: redisLayer, where: 'the redis layer' });
      Object.assign(stackOptions, distributedOptions(module.distributed, client, redisLayer.prefix, stackOptions));
    }
    checkUniqueNames(layers.map(({ given, where }) => [given.name, where] as const));
    const stack = new CacheStack(layers.map(({ layer }) => layer), stackOptions);
    await stack.ready();
    return { stack, layers: new Map(layers.map(({ given }) => [given.name, given])), connections };
  } catch (error) {
    await Promise.allSettled(layers.map(async ({ layer }) => layer.close()));
    await Promise.allSettled(connections.map(closeRedisConnection));
    throw error;
  }
}

/** A layer of the stack: what the stack gets (a borrowed view for `useExisting`), what the app sees, where it came from. */
interface ResolvedLayer {
  readonly layer: CacheLayer;
  readonly given: CacheLayer;
  readonly where: string;
}

/** The registration's `layers`: the static ones of `forRootAsync({ layers })`, or the options'. */
function layerEntries(fromOptions: readonly LayerCacheLayerOption[] | undefined, staticLayers: readonly LayerCacheLayerOption[] | undefined): readonly LayerCacheLayerOption[] | undefined {
  if (staticLayers === undefined) return fromOptions;
  if (fromOptions !== undefined) throw new InvalidOptionError('layers', 'given both in forRootAsync({ layers }) and by its factory; give them in one place');
  return staticLayers;
}

/**
 * The bus and coordinator of the `distributed` option (on by default with `redis`) on `client`, under the Redis
 * layer's prefix; instances given as stack options are kept.
 */
function distributedOptions(
  option: LayerCacheModuleOptions['distributed'],
  client: RedisClient,
  prefix: string,
  stack: CacheStackOptions,
): Pick<CacheStackOptions, 'invalidationBus' | 'singleFlight'> {
  if (option === false) return {};
  const settings = option === true || option === undefined ? {} : option;
  const logger = stack.logger as CacheLogger; // set by createStackResources
  const out: Pick<CacheStackOptions, 'invalidationBus' | 'singleFlight'> = {};
  if (stack.invalidationBus === undefined && settings.invalidationBus !== false) {
    out.invalidationBus = new RedisInvalidationBus({ client, prefix, logger, ...(settings.secret !== undefined && { secret: settings.secret }) });
  }
  if (stack.singleFlight === undefined && settings.singleFlight !== false) {
    out.singleFlight = new RedisSingleFlightCoordinator({
      client,
      prefix,
      logger,
      ...(stack.clock !== undefined && { clock: stack.clock }),
      ...(settings.secret !== undefined && { secret: settings.secret }),
    });
  }
  if (settings.secret === undefined && (out.invalidationBus !== undefined || out.singleFlight !== undefined) && process.env.NODE_ENV === 'production') {
    logger.warn(
      'LayerCacheModule: the invalidation bus and single-flight notices run unsigned (no `distributed.secret`): anyone who can ' +
        'PUBLISH on this Redis can drop every instance\'s in-process copies and wake waiting loads; set `distributed: { secret }` ' +
        '(the same on every instance) to sign them (docs/bus-security.md)',
    );
  }
  return out;
}

/** Fills `out` with the layers of `options` (factories and definitions built in order), or a `MemoryLayer` of `memory` when none are given. */
async function resolveLayers(
  options: readonly LayerCacheLayerOption[] | undefined,
  memory: MemoryLayerOptions | undefined,
  sources: LayerSources,
  out: ResolvedLayer[],
): Promise<void> {
  if (options === undefined) {
    const layer = createMemoryLayer(memory);
    out.push({ layer, given: layer, where: 'the default memory layer' });
    return;
  }
  for (let index = 0; index < options.length; index++) {
    const entry = options[index];
    const where = `layers[${index}]`;
    if (isLayerProvider(entry)) {
      const source = sources.get(index);
      if (source === undefined) {
        throw new InvalidOptionError(where, 'is a provider definition returned by a forRootAsync factory; declare it in forRootAsync({ layers }) so Nest can inject its dependencies');
      }
      const layer = checkLayer(await source.build(), where);
      if (layer.name !== entry.name) throw new InvalidOptionError(`${where}.name`, `is "${entry.name}" but the layer provided is named "${layer.name}"`);
      out.push({ layer: source.owned ? layer : borrowedLayer(layer), given: layer, where });
    } else {
      const layer = typeof entry === 'function' ? checkLayer(await entry(), where) : (entry as CacheLayer);
      out.push({ layer, given: layer, where });
    }
  }
}
