// `/catalogue` is cached whole by LayerCacheInterceptor (header X-Cache: MISS, then HIT); `/products/:id`
// goes through the @Cacheable service method only (the interceptor sits on `/catalogue` alone: on a
// controller it would cache every GET route of it, this one included).
import { Controller, Get, Param, ParseIntPipe, UseInterceptors } from '@nestjs/common';
import { HttpCache, LayerCacheInterceptor } from 'nestjs-layercache';
import { ProductsService, type Product } from './products.service.js';

@Controller()
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Get('catalogue')
  @UseInterceptors(LayerCacheInterceptor)
  @HttpCache({ ttl: 30 })
  catalogue(): { titles: string[] } {
    return { titles: ['Keyboard', 'Mouse'] };
  }

  @Get('products/:id')
  product(@Param('id', ParseIntPipe) id: number): Promise<Product> {
    return this.products.findOne(id);
  }
}
