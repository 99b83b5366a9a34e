/**
 * The catalogue's routes, "after": the direct port of "before". `LayerCacheInterceptor` caches the GETs that
 * declare `@HttpCache`; `@CacheKey('items:all')` becomes a declared key (`@HttpCache({ key: 'items:all' })`), the
 * URL key that "before" deleted (`/items/1`) becomes a declared key built from the request (`item:1`), and the
 * mutations' `cache.mdel([...])` becomes `@CacheEvict({ keys })` on those keys. `@CacheTTL(ms)` becomes
 * `ttl` in seconds; `@CacheTTL((ctx) => ms)` becomes `ttl: (req) => seconds`, computed per request.
 */
import { Body, Controller, Get, Param, ParseIntPipe, Post, Put, UseInterceptors } from '@nestjs/common';
import { CacheEvict, HttpCache, LayerCacheInterceptor } from '../../../lib/index.js';
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
   * Cached under the declared key `items:all` for the module's ttl (30 s), as `@CacheKey('items:all')` did:
   * `cache.delete('items:all')` and `@CacheEvict({ keys: ['items:all'] })` reach it. One entry for GET, HEAD and
   * any query string (cache-manager's `@CacheKey` ignored the query too).
   */
  @Get()
  @HttpCache({ key: 'items:all' })
  list(): ItemsPage {
    return { items: this.repository.list(), loads: this.repository.loads };
  }

  /**
   * A page of the catalogue, newest first, one item a page, under the computed key (route, parameter, query). The
   * ttl is computed per request (cache-manager's `@CacheTTL((ctx) => ms)`): 10 s for page 1, 60 s for older pages.
   */
  @Get('pages/:page')
  @HttpCache({ ttl: (req) => ((req.params as { page: string }).page === '1' ? 10 : 60) })
  page(@Param('page', ParseIntPipe) page: number): ItemsPage & { page: number } {
    return { page, items: this.repository.page(page, 1), loads: this.repository.loads };
  }

  /**
   * Cached for 60 s (cache-manager's `@CacheTTL(60_000)`) under the declared key `item:<id>`, which the mutations
   * evict as "before" deleted the URL `/items/<id>`.
   */
  @Get(':id')
  @HttpCache({ ttl: 60, key: (req) => `item:${(req.params as { id: string }).id}` })
  findOne(@Param('id', ParseIntPipe) id: number): Item & { loads: number } {
    return { ...this.repository.find(id), loads: this.repository.loads };
  }

  /**
   * After a successful call, drops the list and the cached count (`cache.mdel(['items:all', 'items:count'])`).
   * Declared `async` so that the response waits for the eviction: on a synchronous method `@CacheEvict` evicts in
   * the background, and with Redis the client's next GET could still be answered by the old entry.
   */
  @Post()
  @CacheEvict({ keys: ['items:all', 'items:count'] })
  async create(@Body() body: { name: string }): Promise<Item> {
    return this.repository.create(body.name);
  }

  /** Drops the list and this item (`cache.mdel(['items:all', '/items/1'])`): `{0}` is the handler's `id`; `async` as above. */
  @Put(':id')
  @CacheEvict({ keys: ['items:all', 'item:{0}'] })
  async rename(@Param('id', ParseIntPipe) id: number, @Body() body: { name: string }): Promise<Item> {
    return this.repository.update(id, body.name);
  }
}
