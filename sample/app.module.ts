import { Module } from '@nestjs/common';
import { LayerCacheModule, MemoryLayer } from '../lib/index.js';
import { AuthorsService } from './catalogue/authors.service.js';
import { CatalogueController } from './catalogue/catalogue.controller.js';
import { CatalogueRepository } from './catalogue/catalogue.repository.js';
import { ProductsService } from './catalogue/products.service.js';

/**
 * The embedded memory layer alone, or memory + Redis when REDIS_URL is set (the module opens that
 * connection and closes it on shutdown).
 */
@Module({
  imports: [
    LayerCacheModule.forRoot({
      layers: [() => new MemoryLayer({ maxSize: 10_000 })],
      ...(process.env['REDIS_URL'] ? { redis: process.env['REDIS_URL'], redisLayer: { prefix: 'sample:' } } : {}),
      ttl: 60,
    }),
  ],
  controllers: [CatalogueController],
  providers: [CatalogueRepository, ProductsService, AuthorsService],
})
export class AppModule {}
