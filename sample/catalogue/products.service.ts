import { Injectable } from '@nestjs/common';
import { Cacheable, CacheEvict, CacheTags } from '../../lib/index.js';
import { CatalogueRepository, type Product } from './catalogue.repository.js';

/**
 * Products read through the cache: fresh for 10 s, then served stale for up to a minute while one
 * background refresh runs, and for 5 more minutes if the database fails. Every entry carries the
 * `products` tag (class-level @CacheTags); a product also carries its own tag and its author's, so renaming
 * an author invalidates that author's products, without scanning keys.
 */
@Injectable()
@CacheTags('products')
export class ProductsService {
  constructor(private readonly repository: CatalogueRepository) {}

  @Cacheable({
    key: 'product:{0}',
    ttl: 10,
    staleWhileRevalidate: 60,
    staleIfError: '5m',
    negativeTtl: 5,
    tags: (args: [number], product: Product | null) => [`product:${args[0]}`, ...(product ? [`author:${product.authorId}`] : [])],
  })
  findOne(id: number): Promise<Product | null> {
    return this.repository.findProduct(id);
  }

  @Cacheable({ key: 'products:all', ttl: 10, staleWhileRevalidate: 60 })
  findAll(): Promise<Product[]> {
    return this.repository.findProducts();
  }

  /** After the update succeeds: the product's own entry and the list are invalidated. */
  @CacheEvict({ tags: (args: [number, number]) => [`product:${args[0]}`], keys: 'products:all' })
  updatePrice(id: number, price: number): Promise<Product | null> {
    return this.repository.updatePrice(id, price);
  }
}
