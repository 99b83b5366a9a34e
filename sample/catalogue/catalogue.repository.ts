import { Injectable } from '@nestjs/common';

/** A product of the sample catalogue. */
export interface Product {
  id: number;
  name: string;
  price: number;
  authorId: number;
  updatedAt: Date;
}

/** The author (maker) of products. */
export interface Author {
  id: number;
  name: string;
}

/** How long the pretend database takes to answer, so that caching is visible. */
export const SLOW_QUERY_MS = 300;

/** A slow in-memory "database" of products and authors. */
@Injectable()
export class CatalogueRepository {
  private readonly authors = new Map<number, Author>([
    [1, { id: 1, name: 'Keychron' }],
    [2, { id: 2, name: 'Logitech' }],
  ]);
  private readonly products = new Map<number, Product>(
    [
      { id: 1, name: 'Mechanical keyboard', price: 129, authorId: 1 },
      { id: 2, name: 'Trackball', price: 79, authorId: 2 },
      { id: 3, name: 'Wireless mouse', price: 49, authorId: 2 },
    ].map((p) => [p.id, { ...p, updatedAt: new Date() }]),
  );
  /** Queries run, for the metrics endpoint. */
  queries = 0;

  async findProduct(id: number): Promise<Product | null> {
    await this.slow();
    return this.products.get(id) ?? null;
  }

  async findProducts(): Promise<Product[]> {
    await this.slow();
    return [...this.products.values()];
  }

  async findAuthor(id: number): Promise<Author | null> {
    await this.slow();
    return this.authors.get(id) ?? null;
  }

  async updatePrice(id: number, price: number): Promise<Product | null> {
    await this.slow();
    const product = this.products.get(id);
    if (product === undefined) return null;
    product.price = price;
    product.updatedAt = new Date();
    return product;
  }

  async renameAuthor(id: number, name: string): Promise<Author | null> {
    await this.slow();
    const author = this.authors.get(id);
    if (author === undefined) return null;
    author.name = name;
    return author;
  }

  private slow(): Promise<void> {
    this.queries++;
    return new Promise((resolve) => setTimeout(resolve, SLOW_QUERY_MS));
  }
}
