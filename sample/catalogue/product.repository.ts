import { Injectable } from '@nestjs/common';

/** A product of the sample catalogue. */
export interface Product {
  id: number;
  name: string;
  price: number;
  updatedAt: Date;
}

/** How long the pretend database takes to answer, so that caching is visible. */
export const SLOW_QUERY_MS = 300;

/** A slow in-memory "database". */
@Injectable()
export class ProductRepository {
  private readonly products = new Map<number, Product>(
    [
      { id: 1, name: 'Mechanical keyboard', price: 129 },
      { id: 2, name: 'Trackball', price: 79 },
      { id: 3, name: 'USB-C dock', price: 199 },
    ].map((p) => [p.id, { ...p, updatedAt: new Date() }]),
  );
  /** Queries run, for the metrics endpoint. */
  queries = 0;

  async findOne(id: number): Promise<Product | null> {
    await this.slow();
    return this.products.get(id) ?? null;
  }

  async findAll(): Promise<Product[]> {
    await this.slow();
    return [...this.products.values()];
  }

  async updatePrice(id: number, price: number): Promise<Product | null> {
    await this.slow();
    const product = this.products.get(id);
    if (product === undefined) return null;
    product.price = price;
    product.updatedAt = new Date();
    return product;
  }

  private slow(): Promise<void> {
    this.queries++;
    return new Promise((resolve) => setTimeout(resolve, SLOW_QUERY_MS));
  }
}
