/**
 * Builds what one `LayerCacheModule` registration owns in one app: its `CacheStack`, the Redis connections the
 * `redis` shortcut opened, and the logger all of them (and the warmer, the snapshot) write to: the user's `logger`,
 * else Nest's `Logger` (nest-cache.logger.ts). Runs once per app (a provider factory), so two apps in one
 * process never share a stack, a default memory layer or a module-opened connection.
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

/** A registration's stack and the connections it must close on shutdown (never clients passed in). */
export class StackResources {
  private closing: Promise<void> | undefined;

  constructor(
    /** The stack exported under `getCacheStackToken(name)`. */
    readonly stack: CacheStack,
    /** Connections the module opened for the `redis` shortcut. */
    private readonly connections: readonly Redis[],
    /** Where the stack and the registration's providers log: the `logger` option, else Nest's `Logger`. */
    readonly logger: CacheLogger,
  ) {}

  /** Closes the stack (aborts loads, waits for background refreshes), then the module's connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.stack.close();
    } finally {
      await Promise.all(this.connections.map(closeRedisConnection));
    }
  }
}

/**
 * Validates `options`, resolves the layers (factories are called now, in order), appends the `RedisLayer`
 * of the `redis` shortcut and builds the stack of registration `name`, logging through Nest's `Logger` unless
 * the options give a `logger`. On failure, whatever was opened is closed again.
 */
export async function createStackResources(options: LayerCacheModuleOptions, name: string = DEFAULT_STACK_NAME): Promise<StackResources> {
  const { module, stack: stackOptions } = splitModuleOptions(checkModuleOptions(options));
  const logger = stackOptions.logger ?? nestCacheLogger(layerCacheLogContext(name));
  stackOptions.logger = logger;
  const connections: Redis[] = [];
  const layers: CacheLayer[] = [];
  try {
    await resolveLayers(module.layers, module.memory, layers);
    if (module.redis !== undefined) {
      let client;
      if (isRedisClientOption(module.redis)) {
        client = module.redis.client;
      } else {
        client = await openRedisConnection(module.redis, logger);
        connections.push(client);
      }
      const redisLayer = createRedisLayer(module.redisLayer ?? {}, client);
      layers.push(redisLayer);
      Object.assign(stackOptions, distributedOptions(module.distributed, client, redisLayer.prefix, stackOptions));
    }
    const stack = new CacheStack(layers, stackOptions);
    await stack.ready();
    return new StackResources(stack, connections, logger);
  } catch (error) {
    await Promise.allSettled(layers.map(async (layer) => layer.close()));
    await Promise.allSettled(connections.map(closeRedisConnection));
    throw error;
  }
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

/** Fills `out` with the layers of `options` (factories called in order), or a `MemoryLayer` of `memory` when none are given. */
async function resolveLayers(options: readonly LayerCacheLayerOption[] | undefined, memory: MemoryLayerOptions | undefined, out: CacheLayer[]): Promise<void> {
  if (options === undefined) {
    out.push(createMemoryLayer(memory));
    return;
  }
  for (let index = 0; index < options.length; index++) {
    const entry = options[index];
    out.push(typeof entry === 'function' ? checkLayer(await entry(), `layers[${index}]`) : (entry as CacheLayer));
  }
}
