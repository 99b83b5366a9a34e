/**
 * A Nest app run through tsx (esbuild: no decorator metadata) by test/e2e/no-metadata.spec.ts: the module,
 * the binder and a decorated provider must start and cache without `design:*` metadata.
 */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cacheable, CacheStack, LayerCacheModule } from '../../lib/index.js';

@Injectable()
class CountingService {
  runs = 0;
  constructor(@Inject(CacheStack) readonly cache: CacheStack) {}

  @Cacheable({ key: 'answer' })
  async answer(): Promise<number> {
    this.runs++;
    return 42;
  }
}

@Module({ imports: [LayerCacheModule.forRoot()], providers: [CountingService] })
class NoMetadataModule {}

const app = await NestFactory.createApplicationContext(NoMetadataModule, { logger: false });
const service = app.get(CountingService);
await service.answer();
await service.answer();
console.log(JSON.stringify({ runs: service.runs, metadata: Reflect.getMetadata('design:returntype', CountingService.prototype, 'answer') !== undefined }));
await app.close();
