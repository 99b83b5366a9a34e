import { Inject, Injectable } from '@nestjs/common';
import { CacheStack } from '../../lib/index.js';
import { ProductRepository, type Product } from './product.repository.js';

/**
 * Reads through the cache: fresh for 10 s, then served stale for up to 60 s while one background refresh
 * runs, and kept for 5 minutes more if the database fails. Writes invalidate by tag.
 * (The next version of the sample uses @Cacheable / @CacheEvict from the module.)
 */
@Injectable()
export class ProductsService {
  private readonly options = { ttl: 10, staleWhileRevalidate: 60, staleIfError: 300 };

  constructor(
    @Inject(CacheStack) private readonly cache: CacheStack,
    @Inject(ProductRepository) private readonly repository: ProductRepository,
  ) {}

  findOne(id: number): Promise<Product | null | undefined> {
    return this.cache.get(`product:${id}`, () => this.repository.findOne(id), {
      ...this.options,
      negativeTtl: 5,
      tags: ['products', `product:${id}`],
    });
  }

  findAll(): Promise<Product[] | undefined> {
    return this.cache.get('products:all', () => this.repository.findAll(), { ...this.options, tags: ['products'] });
  }

  async updatePrice(id: number, price: number): Promise<Product | null> {
    const product = await this.repository.updatePrice(id, price);
    await this.cache.invalidateByTags([`product:${id}`, 'products']);
    return product;
  }
}
