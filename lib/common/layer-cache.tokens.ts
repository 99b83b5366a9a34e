/**
 * DI tokens of the cache stacks (docs/architecture.md, "Nest wiring"): the default stack is injected by its
 * class, `CacheStack`;
 * a named stack (`forRoot({ name: 'sessions' })`) by `getCacheStackToken('sessions')` or
 * `@InjectCacheStack('sessions')`.
 */
import { Inject } from '@nestjs/common';
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
