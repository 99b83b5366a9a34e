/**
 * The `ConfigurableModuleBuilder` half of `LayerCacheModule`: `forRoot` / `forRootAsync` with the `isGlobal` and
 * `name` extras, completed by `defineStackModule`.
 */
import { ConfigurableModuleBuilder } from '@nestjs/common';
import { LAYER_CACHE_MODULE_OPTIONS } from './layer-cache.constants.js';
import {
  DEFAULT_LAYER_CACHE_MODULE_EXTRAS,
  LAYER_CACHE_OPTIONS_FACTORY_METHOD,
  type LayerCacheModuleExtras,
  type LayerCacheModuleOptions,
} from './layer-cache.options.js';
import { defineStackModule } from './layer-cache.providers.js';

/**
 * The generated half of `LayerCacheModule` (docs/architecture.md, "Nest wiring"): `forRoot(options)` and
 * `forRootAsync({ imports,
 * inject, useFactory | useClass | useExisting })`, with the extras `isGlobal` (default true) and `name`
 * (default `'default'`), which `defineStackModule` turns into the stack's providers.
 */
export const { ConfigurableModuleClass: ConfigurableLayerCacheModule } =
  new ConfigurableModuleBuilder<LayerCacheModuleOptions>({ optionsInjectionToken: LAYER_CACHE_MODULE_OPTIONS })
    .setClassMethodName('forRoot')
    .setFactoryMethodName(LAYER_CACHE_OPTIONS_FACTORY_METHOD)
    .setExtras<LayerCacheModuleExtras>({ ...DEFAULT_LAYER_CACHE_MODULE_EXTRAS }, defineStackModule)
    .build();
