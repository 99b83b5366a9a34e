/**
 * The catalogue's routes, "after": `LayerCacheInterceptor` caches the GETs that declare `@HttpCache` (key: the
 * route, its parameters and query), tagged with `@CacheTags`; mutations invalidate those tags with `@CacheEvict`.
 * HTTP entries have no key a caller can write today, so tags replace the `cache.del('/items/1')` of "before".
 */
import { Body, Controller, Get, Param, ParseIntPipe, Post, Put, UseInterceptors } from '@nestjs/common';
import { CacheEvict, CacheTags, HttpCache, LayerCacheInterceptor } from '../../../lib/index.js';
import { ItemsRepository, type Item } from '../items.repository.js';

/** A list response: the items and how many database reads had happened when it was built. */
export interface ItemsPage {
  readonly items: readonly Item[];
  readonly loads: number;
}

@Controller('items')
@UseInterceptors(LayerCacheInterceptor)
export class ItemsController {
  constructor(private readonly repository: ItemsRepository) {}

  /**
   * Cached for the module's ttl (30 s), tagged `items:list`.
   * (With a declared entry key, `@HttpCache({ key: 'items:all' })`, `cache.delete('items:all')` would reach it
   * like `cache.del('items:all')` did; see the guide.)
   */
  @Get()
  @HttpCache({})
  @CacheTags('items:list')
  list(): ItemsPage {
    return { items: this.repository.list(), loads: this.repository.loads };
  }

  /** Cached for 60 s (cache-manager's `@CacheTTL(60_000)`), tagged `item:<id>` (args: the route parameters). */
  @Get(':id')
  @HttpCache({ ttl: 60 })
  @CacheTags((args) => [`item:${String(args[0])}`])
  findOne(@Param('id', ParseIntPipe) id: number): Item & { loads: number } {
    return { ...this.repository.find(id), loads: this.repository.loads };
  }

  /**
   * After a successful call: invalidates the list and the count (`cache.mdel(['items:all', 'items:count'])`).
   * Declared `async` so that the response waits for the invalidation: on a synchronous method `@CacheEvict`
   * invalidates in the background, and with Redis the client's next GET could still be answered by the old entry.
   */
  @Post()
  @CacheEvict({ tags: ['items:list', 'items:count'] })
  async create(@Body() body: { name: string }): Promise<Item> {
    return this.repository.create(body.name);
  }

  /** Invalidates the list and this item, every URL variant of it (`/items/1?x=y` too); `async` as above. */
  @Put(':id')
  @CacheEvict({ tags: (args) => ['items:list', `item:${String(args[0])}`] })
  async rename(@Param('id', ParseIntPipe) id: number, @Body() body: { name: string }): Promise<Item> {
    return this.repository.update(id, body.name);
  }
}
