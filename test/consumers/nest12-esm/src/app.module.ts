// The root module: @nestjs/config feeds LayerCacheModule.forRootAsync. CACHE_TTL (seconds, default 60) sets
// the entries' TTL; REDIS_URL, when set, adds a Redis layer (L2) under the memory layer.
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { LayerCacheModule, MemoryLayer, type LayerCacheModuleOptions } from 'nestjs-layercache';
import { ProductsController } from './products.controller.js';
import { ProductsService } from './products.service.js';

export function cacheOptions(config: ConfigService): LayerCacheModuleOptions {
  const redis = config.get<string>('REDIS_URL');
  return {
    layers: [() => new MemoryLayer({ maxSize: 5_000 })],
    ttl: Number(config.get<string>('CACHE_TTL', '60')),
    ...(redis ? { redis, redisLayer: { prefix: 'nest12-esm:' } } : {}),
  };
}

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    LayerCacheModule.forRootAsync({ inject: [ConfigService], useFactory: cacheOptions }),
  ],
  controllers: [ProductsController],
  providers: [ProductsService],
})
export class AppModule {}
