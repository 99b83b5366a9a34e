/**
 * The "after" app of docs/migration/from-nestjs-cache-manager.md: the "before" app on nestjs-layercache. Same
 * routes, same answers (test/e2e/migration-cache-manager.spec.ts runs the same scenarios against both).
 *
 * Layers: memory by default; with `ITEMS_REDIS_URL` set, memory (L1) + Redis (L2) through the `redis` shortcut,
 * which also turns on the invalidation bus between instances. Every ttl here is in **seconds** (a number), or a
 * string with a unit (`'30s'`, `'1m'`).
 *
 * Test mode: with `ITEMS_CACHE=off` the module is registered with `enabled: false`: every route runs its handler,
 * nothing is cached and no connection is opened, whatever `ITEMS_REDIS_URL` says (the guide's "Tests" step).
 */
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { LayerCacheModule, MemoryLayer } from '../../../lib/index.js';
import { ItemsRepository } from '../items.repository.js';
import { ItemsController } from './items.controller.js';
import { StatsController } from './stats.controller.js';

/** The module-wide ttl: 30 s (cache-manager's 30_000 ms). */
export const DEFAULT_TTL = 30;

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    LayerCacheModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const redisUrl = config.get<string>('ITEMS_REDIS_URL');
        return {
          enabled: config.get<string>('ITEMS_CACHE') !== 'off',
          ttl: DEFAULT_TTL,
          layers: [() => new MemoryLayer({ maxSize: 10_000 })],
          // Appends a RedisLayer (the module opens and closes the connection); `redisLayer` needs `redis`.
          ...(redisUrl !== undefined && { redis: redisUrl, redisLayer: { prefix: 'items:' } }),
        };
      },
    }),
  ],
  controllers: [ItemsController, StatsController],
  providers: [ItemsRepository],
})
export class AppModule {}
