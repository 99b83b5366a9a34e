/**
 * A value cached by hand, "before": `cache.wrap(key, fn, ttlMs)` and `cache.ttl(key)` (the expiry time, epoch ms)
 * of `CACHE_MANAGER`. No interceptor on this controller.
 */
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Controller, Get, Inject } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { ItemsRepository } from '../items.repository.js';

/** The stats response: the item count, the database reads so far, and when the cached count expires (epoch ms). */
export interface Stats {
  readonly count: number;
  readonly loads: number;
  readonly expiresAt: number | undefined;
}

@Controller('stats')
export class StatsController {
  constructor(
    private readonly repository: ItemsRepository,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
  ) {}

  @Get()
  async stats(): Promise<Stats> {
    const count = await this.cache.wrap('items:count', () => this.repository.count(), 10_000);
    return { count, loads: this.repository.loads, expiresAt: await this.cache.ttl('items:count') };
  }
}
