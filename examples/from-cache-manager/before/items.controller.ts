/**
 * The catalogue's routes, "before": `CacheInterceptor` caches every GET of the controller under its URL
 * (`/items/1`) or under the key given by `@CacheKey`, for the ttl given by `@CacheTTL` (milliseconds, or a function
 * of the `ExecutionContext` computing it per request); mutations delete the entries they change through
 * `CACHE_MANAGER`, by those keys.
 */
import { CACHE_MANAGER, CacheInterceptor, CacheKey, CacheTTL } from '@nestjs/cache-manager';
import { Body, Controller, Get, Inject, type ExecutionContext, Param, ParseIntPipe, Post, Put, UseInterceptors } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { ItemsRepository, type Item } from '../items.repository.js';

/** A list response: the items and how many database reads had happened when it was built. */
export interface ItemsPage {
  readonly items: readonly Item[];
  readonly loads: number;
}

@Controller('items')
@UseInterceptors(CacheInterceptor)
export class ItemsController {
  constructor(
    private readonly repository: ItemsRepository,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
  ) {}

  /** Cached under `items:all` for the module's ttl (30 000 ms). */
  @Get()
  @CacheKey('items:all')
  list(): ItemsPage {
    return { items: this.repository.list(), loads: this.repository.loads };
  }

  /** Cached under its URL (`/items/1`) for 60 000 ms. */
  @Get(':id')
  @CacheTTL(60_000)
  findOne(@Param('id', ParseIntPipe) id: number): Item & { loads: number } {
    return { ...this.repository.find(id), loads: this.repository.loads };
  }

  /**
   * A page of the catalogue, newest first, one item a page, cached under its URL (`/items/pages/1`). The ttl is
   * computed per request from the `ExecutionContext`: page 1 shows the newest item and changes most, so 10 000 ms;
   * older pages 60 000 ms.
   */
  @Get('pages/:page')
  @CacheTTL((ctx: ExecutionContext) => (ctx.switchToHttp().getRequest<{ params: { page: string } }>().params.page === '1' ? 10_000 : 60_000))
  page(@Param('page', ParseIntPipe) page: number): ItemsPage & { page: number } {
    return { page, items: this.repository.page(page, 1), loads: this.repository.loads };
  }

  @Post()
  async create(@Body() body: { name: string }): Promise<Item> {
    const item = this.repository.create(body.name);
    await this.cache.mdel(['items:all', 'items:count']);
    return item;
  }

  @Put(':id')
  async rename(@Param('id', ParseIntPipe) id: number, @Body() body: { name: string }): Promise<Item> {
    const item = this.repository.update(id, body.name);
    // The URL is the key of an entry of CacheInterceptor: every URL variant (`/items/1?x=y`) is an entry of its own.
    await this.cache.mdel(['items:all', `/items/${id}`]);
    return item;
  }
}
