/**
 * Closes a registration's stack, then the Redis connections the module opened, when the app shuts down.
 * Hard part: it runs in `onApplicationShutdown`, after every hook that may still use the cache.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { LAYER_CACHE_STACK_RESOURCES } from './layer-cache.constants.js';
import type { StackResources } from './stack-resources.factory.js';

/**
 * Shuts a registration down with the app (`app.close()`, or a signal with `app.enableShutdownHooks()`):
 * closes the stack — running loads are aborted, background refreshes and writes awaited — then the Redis
 * connections the module opened. It runs in `onApplicationShutdown`, after the HTTP server stopped and
 * after every `onModuleDestroy` / `beforeApplicationShutdown` hook, which may still use the cache.
 */
@Injectable()
export class LayerCacheLifecycle implements OnApplicationShutdown {
  constructor(@Inject(LAYER_CACHE_STACK_RESOURCES) private readonly resources: StackResources) {}

  /** Closes the stack, then the module's connections. */
  async onApplicationShutdown(): Promise<void> {
    await this.resources.close();
  }
}
