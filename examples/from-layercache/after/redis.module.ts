/**
 * The app's own ioredis client (`REDIS`), from `SHOP_REDIS_URL`, as a layercache app had one to hand to
 * `RedisLayer`, `RedisTagIndex`, the bus and the coordinator. The app created it, so the app closes it: after the
 * cache stack closed (the stack closes in `onApplicationShutdown`; this waits for `CacheStack.close()`, which is
 * idempotent, before quitting).
 */
import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { Redis } from 'ioredis';
import { CacheStack } from '../../../lib/index.js';

/** Injection token of the app's ioredis client. */
export const REDIS = Symbol('REDIS');

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.moduleRef.get(CacheStack, { strict: false }).close();
    await this.redis.quit();
  }
}

@Global()
@Module({
  imports: [ConfigModule],
  providers: [
    {
      provide: REDIS,
      inject: [ConfigService],
      // enableOfflineQueue: false + maxRetriesPerRequest: 1: with Redis down, cache calls fail fast and the stack
      // answers from memory and the loaders (what layercache's `gracefulDegradation` was for). The app waits for
      // the first connection attempt only: it starts with Redis down, and ioredis keeps reconnecting.
      useFactory: async (config: ConfigService) => {
        const redis = new Redis(config.getOrThrow<string>('SHOP_REDIS_URL'), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
        await redis.connect().catch(() => undefined);
        return redis;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
