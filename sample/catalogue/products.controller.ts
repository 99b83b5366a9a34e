import { Body, Controller, Get, Inject, NotFoundException, Param, ParseIntPipe, Put } from '@nestjs/common';
import { CacheStack } from '../../lib/index.js';
import { ProductRepository } from './product.repository.js';
import { ProductsService } from './products.service.js';

@Controller()
export class ProductsController {
  constructor(
    @Inject(ProductsService) private readonly products: ProductsService,
    @Inject(ProductRepository) private readonly repository: ProductRepository,
    @Inject(CacheStack) private readonly cache: CacheStack,
  ) {}

  @Get('products')
  async findAll() {
    return this.timed(() => this.products.findAll());
  }

  @Get('products/:id')
  async findOne(@Param('id', ParseIntPipe) id: number) {
    const result = await this.timed(() => this.products.findOne(id));
    if (result.data == null) throw new NotFoundException(`No product ${id}`);
    return result;
  }

  @Put('products/:id/price')
  async updatePrice(@Param('id', ParseIntPipe) id: number, @Body() body: { price: number }) {
    const product = await this.products.updatePrice(id, Number(body.price));
    if (product === null) throw new NotFoundException(`No product ${id}`);
    return product;
  }

  @Get('cache/metrics')
  metrics() {
    return { databaseQueries: this.repository.queries, ...this.cache.getMetrics() };
  }

  /** Wraps a result with how long it took: ~300 ms from the database, well under 1 ms from the cache. */
  private async timed<T>(read: () => Promise<T>): Promise<{ data: T; tookMs: number }> {
    const started = performance.now();
    const data = await read();
    return { data, tookMs: Math.round((performance.now() - started) * 100) / 100 };
  }
}
