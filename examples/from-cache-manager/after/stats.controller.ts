/**
 * A value cached by hand, "after": `CacheStack.wrap(key, fn, { ttl })` (seconds) in place of `CACHE_MANAGER`'s
 * `wrap(key, fn, ttlMs)`, and the entry's expiry from `getDetailed(key).freshUntil` (epoch ms, like
 * cache-manager's `ttl(key)`). No interceptor on this controller.
 */
import { Controller, Get } from '@nestjs/common';
import { CacheStack } from '../../../lib/index.js';
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
    private readonly cache: CacheStack,
  ) {}

  @Get()
  async stats(): Promise<Stats> {
    const count = await this.cache.wrap('items:count', () => this.repository.count(), { ttl: 10, tags: ['items:count'] });
    // A read without a loader that only reports; `cache.ttl(key)` / `cache.inspect(key)` will say it more directly.
    const { freshUntil } = await this.cache.getDetailed('items:count');
    return { count, loads: this.repository.loads, expiresAt: freshUntil };
  }
}
