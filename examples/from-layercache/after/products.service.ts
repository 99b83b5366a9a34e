/**
 * The service of the layercache example, "after": `cache.get(key, fetcher, { ttl, tags })` keeps its shape
 * (a loader instead of a fetcher, `undefined` instead of `null` for a miss without one), and the price change
 * invalidates by tag as `cache.invalidateByTag` did, through `@CacheEvict`.
 */
import { Injectable } from '@nestjs/common';
import { CacheEvict, CacheStack } from '../../../lib/index.js';
import { ProductsRepository, type Product } from '../products.repository.js';

@Injectable()
export class ProductsService {
  constructor(
    private readonly cache: CacheStack,
    private readonly repository: ProductsRepository,
  ) {}

  /** One product, read through the stack (60 s), tagged for the list and for itself. */
  findOne(id: number): Promise<Product & { loads: number }> {
    return this.cache.getOrSet(`product:${id}`, () => ({ ...this.repository.find(id), loads: this.repository.loads }), {
      ttl: 60,
      tags: ['products', `product:${id}`],
    });
  }

  /** Changes a price; then every entry tagged `products` (the HTTP responses and `findOne`'s) is invalidated. */
  @CacheEvict({ tags: ['products'] })
  async setPrice(id: number, price: number): Promise<Product> {
    return this.repository.setPrice(id, price);
  }
}
