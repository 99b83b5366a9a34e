/**
 * The providers of one registration: the stack under its token, its health indicator, its resources and
 * lifecycle, its startup warmer, the decorators' binder, the admin routes (`admin`) and, for the default stack, the
 * interceptor's app-wide options.
 * Hard part: the interceptor's options come with the default registration only; an app's own provider under the
 * same token, closer to the interceptor, still wins.
 */
import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { createAdminController, LAYER_CACHE_ADMIN_SAMPLER } from './layer-cache-admin.controller.js';
import { AdminStatsSampler } from './layer-cache-admin.stats.js';
import { DiscoveryModule } from '@nestjs/core';
import { LayerCacheStackBinder } from '../decorators/stack-binder.js';
import { checkModuleExtras } from './layer-cache-options.validator.js';
import { LAYER_CACHE_MODULE_OPTIONS, LAYER_CACHE_STACK_RESOURCES } from './layer-cache.constants.js';
import { LayerCacheLifecycle } from './layer-cache.lifecycle.js';
import { LayerCacheWarmer } from './layer-cache.warmer.js';
import { LayerCacheSnapshot } from './layer-cache.snapshot.js';
import { LAYER_CACHE_PROMETHEUS_SETTINGS, LayerCachePrometheus } from './layer-cache.prometheus.js';
import type { LayerCacheModuleExtras, LayerCacheModuleOptions } from './layer-cache.options.js';
import { DEFAULT_STACK_NAME, getCacheStackToken } from '../common/layer-cache.tokens.js';
import { LAYER_CACHE_HTTP_OPTIONS } from '../http/http-cache.options.js';
import { createStackResources, type StackResources } from './stack-resources.factory.js';
import { getCacheHealthIndicatorToken, LayerCacheHealthIndicator } from './layer-cache.health-indicator.js';

/**
 * Completes the dynamic module `forRoot` / `forRootAsync` generated (it holds the options provider): the
 * stack under `getCacheStackToken(name)` and its health indicator under `getCacheHealthIndicatorToken(name)` (the
 * exports), its resources and lifecycle, the decorators'
 * stack binder, and the scope (`global: isGlobal`). Used as the `ConfigurableModuleBuilder` extras transform.
 */
export function defineStackModule(definition: DynamicModule, extras: LayerCacheModuleExtras): DynamicModule {
  const { name, isGlobal, resolvedAdmin } = checkModuleExtras(extras);
  const token = getCacheStackToken(name);
  const healthToken = getCacheHealthIndicatorToken(name);
  const providers: Provider[] = [
    ...(definition.providers ?? []),
    { provide: LAYER_CACHE_STACK_RESOURCES, useFactory: (options: LayerCacheModuleOptions) => createStackResources(options, name), inject: [LAYER_CACHE_MODULE_OPTIONS] },
    { provide: token, useFactory: (resources: StackResources) => resources.stack, inject: [LAYER_CACHE_STACK_RESOURCES] },
    // For @nestjs/terminus (an optional peer: the indicator does not import it).
    { provide: healthToken, useFactory: (resources: StackResources) => new LayerCacheHealthIndicator(resources.stack, name), inject: [LAYER_CACHE_STACK_RESOURCES] },
    LayerCacheLifecycle,
    LayerCacheStackBinder,
    {
      provide: LayerCacheWarmer,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => new LayerCacheWarmer(resources, options, name),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS],
    },
    {
      provide: LayerCacheSnapshot,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => new LayerCacheSnapshot(resources.stack, options.snapshot, resources.logger, name),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS],
    },
    {
      provide: LAYER_CACHE_PROMETHEUS_SETTINGS,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => ({ stack: resources.stack, name, option: options.metrics?.prometheus }),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS],
    },
    LayerCachePrometheus,
  ];
  const controllers: Type[] = [];
  if (resolvedAdmin !== undefined) {
    providers.push({
      provide: LAYER_CACHE_ADMIN_SAMPLER,
      useFactory: (resources: StackResources) => new AdminStatsSampler(resources.stack, resolvedAdmin, name),
      inject: [LAYER_CACHE_STACK_RESOURCES],
    });
    controllers.push(createAdminController(resolvedAdmin));
  }
  const exports: (string | symbol | typeof token | typeof healthToken)[] = [token, healthToken];
  if (name === DEFAULT_STACK_NAME) {
    // The interceptor's app-wide options come with the default registration (`http`); a provider of the app's
    // own under LAYER_CACHE_HTTP_OPTIONS, closer to the interceptor, still wins.
    providers.push({
      provide: LAYER_CACHE_HTTP_OPTIONS,
      useFactory: (options: LayerCacheModuleOptions) => options.http ?? {},
      inject: [LAYER_CACHE_MODULE_OPTIONS],
    });
    exports.push(LAYER_CACHE_HTTP_OPTIONS);
  }
  return {
    ...definition,
    global: isGlobal,
    imports: [...(definition.imports ?? []), DiscoveryModule],
    providers,
    controllers: [...(definition.controllers ?? []), ...controllers],
    exports,
  };
}
