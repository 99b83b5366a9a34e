/**
 * A value cached by hand, "after": `CacheStack.wrap(key, fn, { ttl })` (seconds) in place of `CACHE_MANAGER`'s
 * `wrap(key, fn, ttlMs)`, and `cache.ttl(key)` in place of cache-manager's `ttl(key)`. The unit changes:
 * cache-manager answered the expiry time (epoch ms), `CacheStack.ttl` answers the seconds of freshness left
 * (`0` once stale, `undefined` when absent), so the route converts to keep its response. No interceptor here.
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
    const count = await this.cache.wrap('items:count', () => this.repository.count(), { ttl: 10 });
    // Seconds left (ms precision); `(await this.cache.inspect('items:count')).freshUntil` is the expiry itself.
    const left = await this.cache.ttl('items:count');
    return { count, loads: this.repository.loads, expiresAt: left === undefined ? undefined : Date.now() + Math.round(left * 1000) };
  }
}
