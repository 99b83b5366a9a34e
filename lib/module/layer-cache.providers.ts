/**
 * The providers of one registration: the stack under its token, its layers under theirs, its health indicator, its
 * resources and lifecycle, its startup warmer, the decorators' binder, the admin routes (`admin`) and, for the default
 * stack, the interceptor's app-wide options.
 * Hard parts: only the stack's provider builds anything (`StackResources.build`), and every other provider reaches the
 * stack through its token or after it, so `overrideProvider(CacheStack)` opens nothing; the interceptor's options come
 * with the default registration only; an app's own provider under the same token, closer to the interceptor, still wins.
 */
import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { createAdminController, LAYER_CACHE_ADMIN_SAMPLER } from './layer-cache-admin.controller.js';
import { AdminStatsSampler } from './layer-cache-admin.stats.js';
import { DiscoveryModule } from '@nestjs/core';
import { LayerCacheStackBinder } from '../decorators/stack-binder.js';
import { checkLayerOption, checkModuleExtras } from './layer-cache-options.validator.js';
import { LAYER_CACHE_MODULE_OPTIONS, LAYER_CACHE_STACK_RESOURCES } from './layer-cache.constants.js';
import { LayerCacheLifecycle } from './layer-cache.lifecycle.js';
import { InvalidOptionError } from '../core/errors.js';
import { LayerCacheWarmer } from './layer-cache.warmer.js';
import { LayerCacheSnapshot } from './layer-cache.snapshot.js';
import { LAYER_CACHE_PROMETHEUS_SETTINGS, LayerCachePrometheus } from './layer-cache.prometheus.js';
import type { LayerCacheLayerOption, LayerCacheModuleExtras, LayerCacheModuleOptions } from './layer-cache.options.js';
import { DEFAULT_STACK_NAME, getCacheLayerToken, getCacheStackToken } from '../common/layer-cache.tokens.js';
import { LAYER_CACHE_HTTP_OPTIONS } from '../http/http-cache.options.js';
import type { CacheStack } from '../stack/cache-stack.js';
import { StackResources } from './stack-resources.factory.js';
import { layerSourceProviders, staticLayerNames, type LayerSource, type StaticLayerOptions } from './layer-cache.layer-providers.js';
import { getCacheHealthIndicatorToken, LayerCacheHealthIndicator } from './layer-cache.health-indicator.js';

/** Checks the static `layers` of `forRootAsync({ layers })` (those of `forRoot` are checked with its options). */
function checkStaticLayers(layers: unknown): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new InvalidOptionError('layers', 'expected a non-empty array of layers, layer factories or layer provider definitions');
  layers.forEach((entry, index) => checkLayerOption(entry, `layers[${index}]`));
}

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
  // `forRoot` hands all its options to this transform, `forRootAsync` its own (with static `layers`, if any).
  const given = extras as LayerCacheModuleExtras & StaticLayerOptions;
  const isAsync = definition.imports !== undefined; // only the builder's forRootAsync sets `imports`
  const staticLayers = given.layers as LayerCacheLayerOption[] | undefined;
  if (isAsync && staticLayers !== undefined) checkStaticLayers(staticLayers);
  const sources = layerSourceProviders(staticLayers, name);
  const layerNames = staticLayerNames(given, !isAsync);
  const providers: Provider[] = [
    ...(definition.providers ?? []),
    ...sources.providers,
    {
      provide: LAYER_CACHE_STACK_RESOURCES,
      useFactory: (options: LayerCacheModuleOptions, ...built: LayerSource[]) =>
        new StackResources(options, name, new Map([...sources.tokens.keys()].map((index, at) => [index, built[at] as LayerSource])), isAsync ? staticLayers : undefined),
      inject: [LAYER_CACHE_MODULE_OPTIONS, ...sources.tokens.values()],
    },
    // The one provider that builds the stack (and opens connections): overriding it builds nothing.
    { provide: token, useFactory: (resources: StackResources) => resources.build(), inject: [LAYER_CACHE_STACK_RESOURCES] },
    ...layerNames.map((layerName) => ({
      provide: getCacheLayerToken(layerName, name),
      useFactory: (resources: StackResources) => resources.layer(layerName),
      inject: [LAYER_CACHE_STACK_RESOURCES, token], // after the stack's provider, whichever it is
    })),
    // For @nestjs/terminus (an optional peer: the indicator does not import it).
    { provide: healthToken, useFactory: (stack: CacheStack) => new LayerCacheHealthIndicator(stack, name), inject: [token] },
    LayerCacheLifecycle,
    LayerCacheStackBinder,
    {
      provide: LayerCacheWarmer,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => new LayerCacheWarmer(resources, options, name),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS, token],
    },
    {
      provide: LayerCacheSnapshot,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => new LayerCacheSnapshot(resources.stack, options.snapshot, resources.logger, name),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS, token],
    },
    {
      provide: LAYER_CACHE_PROMETHEUS_SETTINGS,
      useFactory: (resources: StackResources, options: LayerCacheModuleOptions) => ({ stack: resources.stack, name, option: options.metrics?.prometheus }),
      inject: [LAYER_CACHE_STACK_RESOURCES, LAYER_CACHE_MODULE_OPTIONS, token],
    },
    LayerCachePrometheus,
  ];
  const controllers: Type[] = [];
  if (resolvedAdmin !== undefined) {
    providers.push({
      provide: LAYER_CACHE_ADMIN_SAMPLER,
      useFactory: (stack: CacheStack) => new AdminStatsSampler(stack, resolvedAdmin, name),
      inject: [token],
    });
    controllers.push(createAdminController(resolvedAdmin));
  }
  const exports: (string | symbol | typeof token | typeof healthToken)[] = [token, healthToken, ...layerNames.map((layerName) => getCacheLayerToken(layerName, name))];
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
