/**
 * The routes of the layercache example, "after": `LayerCacheInterceptor` + `@HttpCache` replace
 * `createExpressCacheMiddleware(cache, { ttl: 30, tags: ['products'] })` (and work on Fastify too); `X-Cache` says
 * HIT / MISS as the middleware's header did, plus STALE and BYPASS.
 */
import { Body, Controller, Get, Param, ParseIntPipe, Put, UseInterceptors } from '@nestjs/common';
import { CacheTags, HttpCache, LayerCacheInterceptor } from '../../../lib/index.js';
import { ProductsRepository, type Product } from '../products.repository.js';
import { ProductsService } from './products.service.js';

@Controller('products')
@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 30 })
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    private readonly repository: ProductsRepository,
  ) {}

  /** The list, cached 30 s under the route's key, tagged `products` (the middleware's `tags: ['products']`). */
  @Get()
  @CacheTags('products')
  list(): { products: Product[]; loads: number } {
    return { products: this.repository.list(), loads: this.repository.loads };
  }

  /** One product: the HTTP response (30 s) over the service's own entry (60 s). */
  @Get(':id')
  @CacheTags('products')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Product & { loads: number }> {
    return this.products.findOne(id);
  }

  /** Not cached (not a GET); the service's `@CacheEvict` invalidates the `products` tag before this answers. */
  @Put(':id/price')
  setPrice(@Param('id', ParseIntPipe) id: number, @Body() body: { price: number }): Promise<Product> {
    return this.products.setPrice(id, body.price);
  }
}
