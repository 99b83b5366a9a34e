/**
 * The "database" of the layercache migration example (docs/migration/from-layercache.md): products with a price,
 * counting the reads that reach it (`loads`), so a response shows whether it came from the cache. A migration
 * changes the caching, not the data layer.
 */
import { Injectable, NotFoundException } from '@nestjs/common';

export interface Product {
  readonly id: number;
  readonly name: string;
  readonly price: number;
}

@Injectable()
export class ProductsRepository {
  /** Reads that reached the database (a cached response does not count). */
  loads = 0;
  private readonly products = new Map<number, Product>([
    [1, { id: 1, name: 'Keyboard', price: 89 }],
    [2, { id: 2, name: 'Trackball', price: 59 }],
  ]);

  list(): Product[] {
    this.loads++;
    return [...this.products.values()];
  }

  find(id: number): Product {
    this.loads++;
    const product = this.products.get(id);
    if (product === undefined) throw new NotFoundException(`no product ${id}`);
    return product;
  }

  setPrice(id: number, price: number): Product {
    const product = { ...this.find(id), price };
    this.products.set(id, product);
    return product;
  }
}
