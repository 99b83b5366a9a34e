// Products read through the cache with @Cacheable; `lookups` counts the (pretend) database reads.
import { Injectable } from '@nestjs/common';
import { Cacheable } from 'nestjs-layercache';

export interface Product {
  id: number;
  title: string;
  lookup: number;
}

@Injectable()
export class ProductsService {
  lookups = 0;

  @Cacheable({ key: 'product:{0}' })
  async findOne(id: number): Promise<Product> {
    this.lookups += 1;
    return { id, title: `Product #${id}`, lookup: this.lookups };
  }
}
