import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheStack, MemoryLayer, RedisLayer, type CacheLayer } from '../lib/index.js';
import { ProductRepository } from './catalogue/product.repository.js';
import { ProductsController } from './catalogue/products.controller.js';
import { ProductsService } from './catalogue/products.service.js';

/**
 * The cache: the embedded memory layer alone, or memory + Redis when REDIS_URL is set. (The next version
 * of the sample registers it with LayerCacheModule.forRoot.)
 */
function createCache(): { cache: CacheStack; redis: Redis | undefined } {
  const layers: CacheLayer[] = [new MemoryLayer({ maxSize: 10_000 })];
  const url = process.env['REDIS_URL'];
  // A cache should fail fast rather than queue commands while Redis is away.
  const redis = url ? new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }) : undefined;
  if (redis !== undefined) layers.push(new RedisLayer({ client: redis, prefix: 'sample:' }));
  return { cache: new CacheStack(layers, { ttl: 60 }), redis };
}

@Injectable()
class CacheLifecycle implements OnApplicationShutdown {
  constructor(@Inject('CACHE_RESOURCES') private readonly resources: ReturnType<typeof createCache>) {}
  async onApplicationShutdown(): Promise<void> {
    await this.resources.cache.close();
    this.resources.redis?.disconnect();
  }
}

@Module({
  controllers: [ProductsController],
  providers: [
    { provide: 'CACHE_RESOURCES', useFactory: createCache },
    { provide: CacheStack, useFactory: (r: ReturnType<typeof createCache>) => r.cache, inject: ['CACHE_RESOURCES'] },
    CacheLifecycle,
    ProductRepository,
    ProductsService,
  ],
})
export class AppModule {}
