/**
 * `LayerCacheModule`: the generated `forRoot` / `forRootAsync`, with the static options checked eagerly so a
 * wrong option fails at import time with an `InvalidOptionError`, not at app start.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { checkAsyncOptions, checkModuleOptions } from './layer-cache-options.validator.js';
import { ConfigurableLayerCacheModule } from './layer-cache.module-definition.js';
import type { LayerCacheModuleAsyncOptions, LayerCacheModuleRootOptions } from './layer-cache.options.js';

/**
 * Registers a `CacheStack`: the default one is injected as `CacheStack`, a named one with
 * `@InjectCacheStack(name)`. Global by default; closed with the app.
 * @example
 * LayerCacheModule.forRoot({ layers: [new MemoryLayer({ ttl: 60 })], redis: process.env.REDIS_URL, ttl: 300 })
 * LayerCacheModule.forRootAsync({ inject: [ConfigService], useFactory: (config: ConfigService) => ({ redis: config.get('REDIS_URL') }) })
 * LayerCacheModule.forRoot({ name: 'sessions', ttl: '30m' })
 */
@Module({})
export class LayerCacheModule extends ConfigurableLayerCacheModule {
  /** Registers a stack from static options, validated now (an `InvalidOptionError` names a wrong option). */
  static override forRoot(options: LayerCacheModuleRootOptions = {}): DynamicModule {
    checkModuleOptions(options, true);
    return super.forRoot(options);
  }

  /** Registers a stack whose options come from a factory, a class or an existing provider when the app starts. */
  static override forRootAsync(options: LayerCacheModuleAsyncOptions): DynamicModule {
    checkAsyncOptions(options);
    return super.forRootAsync(options);
  }
}
