/**
 * DI tokens of the cache stacks (docs/architecture.md, "Nest wiring"): the default stack is injected by its
 * class, `CacheStack`;
 * a named stack (`forRoot({ name: 'sessions' })`) by `getCacheStackToken('sessions')` or
 * `@InjectCacheStack('sessions')`; a layer of a stack by `getCacheLayerToken(layerName, stackName)` or
 * `@InjectCacheLayer(layerName, stackName)`.
 */
import { Inject } from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { CacheStack } from '../stack/cache-stack.js';

/** The name of the stack registered without a `name`. */
export const DEFAULT_STACK_NAME = 'default';

/** The DI token of a stack: `CacheStack` for the default one, a string for a named one. */
export function getCacheStackToken(name: string = DEFAULT_STACK_NAME): string | typeof CacheStack {
  return name === DEFAULT_STACK_NAME ? CacheStack : `nestjs-layercache:stack:${name}`;
}

/**
 * Injects a stack: the default one, or the one registered with `forRoot({ name })`.
 * @example
 * constructor(@InjectCacheStack('sessions') private readonly sessions: CacheStack) {}
 */
export function InjectCacheStack(name: string = DEFAULT_STACK_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheStackToken(name));
}

/**
 * The hidden instance property under which decorated classes receive a stack (docs/architecture.md,
 * "Decorators that need DI"): a `Symbol.for` key, so copies of the library in one process agree on it.
 */
export function stackPropertyKey(name: string = DEFAULT_STACK_NAME): symbol {
  return Symbol.for(`nestjs-layercache:stack:${name}`);
}

/**
 * The DI token of one layer of a stack, by the layer's name (as in `getMetrics().layers`: `'memory'`, `'redis'`)
 * and the stack's registration name (docs/testing.md, "Layers as providers").
 */
export function getCacheLayerToken(layerName: string, stackName: string = DEFAULT_STACK_NAME): string {
  if (typeof layerName !== 'string' || layerName.length === 0) {
    throw new InvalidOptionError('layerName', `expected the name of a layer (as in getMetrics().layers), got ${String(layerName)}`);
  }
  return `nestjs-layercache:layer:${stackName}:${layerName}`;
}

/**
 * Injects one layer of a stack: the layer named `layerName` of the default stack, or of the stack registered with
 * `forRoot({ name: stackName })`.
 * @example
 * constructor(@InjectCacheLayer('redis') private readonly redis: RedisLayer) {}
 */
export function InjectCacheLayer(layerName: string, stackName: string = DEFAULT_STACK_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheLayerToken(layerName, stackName));
}
