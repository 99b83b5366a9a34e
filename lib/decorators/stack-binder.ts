/**
 * `LayerCacheStackBinder`: the startup pass of the decorator wiring (docs/architecture.md, "Decorators that
 * need DI"). Instances Nest constructs receive their stacks through the hidden `@Optional() @Inject()` properties
 * the decorators register; this pass
 * - checks, for every provider and controller class with decorated methods (request-scoped ones too, from
 *   the class alone), that each stack they name is registered, and fails the startup with a clear error
 *   otherwise;
 * - hands the stacks to static instances that lack them: `useFactory`/`useValue` providers, and classes in
 *   modules that cannot see the stack's provider.
 * Each app has its own binder and resolves through its own `ModuleRef`: two apps never share a stack.
 */
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { DEFAULT_STACK_NAME, getCacheStackToken, stackPropertyKey } from '../common/layer-cache.tokens.js';
import type { CacheStack } from '../stack/cache-stack.js';
import { InvalidOptionError } from '../core/errors.js';
import { getCacheMethods, type CacheMethodRecord } from './cache-metadata.accessor.js';
import { describeSite } from './cache-decorator.options.js';

const logger = new Logger('LayerCache');

type Wrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** Binds cache stacks to the instances of classes using the cache decorators; registered by `LayerCacheModule`. */
@Injectable()
export class LayerCacheStackBinder implements OnModuleInit {
  // Explicit tokens: apps built without decorator metadata (esbuild, tsx, swc without it) must start too.
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  /** Checks every decorated class's stacks and binds them to static instances that lack them. */
  onModuleInit(): void {
    const stacks = new Map<string, CacheStack>();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const isStatic = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
      const instance: unknown = isStatic ? wrapper.instance : undefined;
      const cls = classOf(wrapper, instance);
      const records = getCacheMethods(cls);
      if (records.length === 0) continue;
      const names = new Set(records.map((record) => record.stack));
      for (const name of names) {
        let stack = stacks.get(name);
        if (stack === undefined) {
          stack = this.resolve(name, records.find((record) => record.stack === name) as CacheMethodRecord);
          stacks.set(name, stack);
        }
        if (instance !== null && typeof instance === 'object') bind(instance, name, stack);
      }
    }
  }

  private resolve(name: string, user: CacheMethodRecord): CacheStack {
    try {
      return this.moduleRef.get<CacheStack>(getCacheStackToken(name), { strict: false });
    } catch (error) {
      const site = describeSite(user.decorator, user.className, user.method);
      const registration = name === DEFAULT_STACK_NAME ? 'LayerCacheModule.forRoot()' : `LayerCacheModule.forRoot({ name: '${name}' })`;
      const which = name === DEFAULT_STACK_NAME ? 'the default stack' : `stack '${name}'`;
      const invalid = new InvalidOptionError('stack', `${site} uses ${which}, but no ${registration} is registered`);
      invalid.cause = error;
      throw invalid;
    }
  }
}

/** The class behind a provider: its instance's class, or for a class provider without instance its metatype. */
function classOf(wrapper: Wrapper, instance: unknown): unknown {
  if (instance !== null && typeof instance === 'object') return instance.constructor;
  const isClassProvider = (wrapper.inject === null || wrapper.inject === undefined) && typeof wrapper.metatype === 'function';
  return isClassProvider ? wrapper.metatype : undefined;
}

function bind(instance: object, name: string, stack: CacheStack): void {
  const key = stackPropertyKey(name);
  if ((instance as Record<symbol, unknown>)[key] !== undefined) return;
  try {
    Object.defineProperty(instance, key, { value: stack, writable: true, configurable: true, enumerable: false });
  } catch (error) {
    // A frozen or sealed useValue object: its decorated methods run uncached (and say so once).
    logger.warn(`Cannot hand the cache stack to an instance of ${instance.constructor.name}: ${String(error)}`);
  }
}
