/**
 * The "before" app of docs/migration/from-nestjs-cache-manager.md: a small catalogue cached with
 * @nestjs/cache-manager + cache-manager 7 (Keyv stores). Its routes answer exactly as the "after" app's do
 * (test/e2e/migration-cache-manager.spec.ts runs the same scenarios against both).
 *
 * Store: Keyv's in-memory map by default; with `ITEMS_REDIS_URL` set, a Keyv store on Redis (@keyv/redis).
 * Every ttl here is in **milliseconds** (cache-manager >= 5).
 */
import KeyvRedis from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Keyv } from 'keyv';
import { ItemsRepository } from '../items.repository.js';
import { ItemsController } from './items.controller.js';
import { StatsController } from './stats.controller.js';

/** The module-wide ttl: 30 s, in milliseconds. */
export const DEFAULT_TTL_MS = 30_000;

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    CacheModule.registerAsync({
      isGlobal: true,
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const redisUrl = config.get<string>('ITEMS_REDIS_URL');
        return {
          ttl: DEFAULT_TTL_MS,
          // Keyv in memory unless a Redis URL is configured.
          ...(redisUrl !== undefined && { stores: [new Keyv({ store: new KeyvRedis(redisUrl), namespace: 'items' })] }),
        };
      },
    }),
  ],
  controllers: [ItemsController, StatsController],
  providers: [ItemsRepository],
})
export class AppModule {}
