/**
 * The "after" app of docs/migration/from-layercache.md: a layercache app's distributed stack (memory + Redis, a
 * Redis tag index, the invalidation bus, the distributed single-flight) built with the same constructors from
 * nestjs-layercache, registered through `LayerCacheModule.forRootAsync` so that it is injectable and closed with
 * the app. Units: layercache's `ttl`, `staleWhileRevalidate` and `staleIfError` were seconds and stay seconds;
 * its `…Ms` options become durations (`'10s'`).
 */
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import type { Redis } from 'ioredis';
import {
  LayerCacheModule,
  MemoryLayer,
  RedisInvalidationBus,
  RedisLayer,
  RedisSingleFlightCoordinator,
  RedisTagStore,
} from '../../../lib/index.js';
import { ProductsRepository } from '../products.repository.js';
import { ProductsController } from './products.controller.js';
import { ProductsService } from './products.service.js';
import { REDIS, RedisModule } from './redis.module.js';

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    RedisModule,
    LayerCacheModule.forRootAsync({
      inject: [REDIS],
      // Called once per app: the layers, bus and coordinator belong to this app's stack.
      useFactory: (redis: Redis) => ({
        layers: [new MemoryLayer({ ttl: 60, maxSize: 10_000 }), new RedisLayer({ client: redis, ttl: 3600, prefix: 'shop:cache:' })],
        tagStore: new RedisTagStore({ client: redis, prefix: 'shop:tags:' }), // layercache: tagIndex: new RedisTagIndex(...)
        invalidationBus: new RedisInvalidationBus({ client: redis }), // subscribes on its own duplicate of the client
        singleFlight: new RedisSingleFlightCoordinator({ client: redis }), // layercache: singleFlightCoordinator
        staleWhileRevalidate: 30,
        layerBackoff: '10s', // layercache: gracefulDegradation: { retryAfterMs: 10_000 } (here the first window, doubling)
      }),
    }),
  ],
  controllers: [ProductsController],
  providers: [ProductsRepository, ProductsService],
})
export class AppModule {}
