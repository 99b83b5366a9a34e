import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env['PORT'] ?? 3000);
  await app.listen(port);
  const base = `http://localhost:${port}`;
  console.log(`Sample catalogue on ${base} (cache: memory${process.env['REDIS_URL'] ? ' + Redis' : ' only'})
  curl ${base}/products/1      # first call ~300 ms (database), then < 1 ms (cache)
  curl -i ${base}/catalogue    # X-Cache: MISS, then HIT; STALE after 5 s (refreshed in the background)
  curl -X PUT -H 'content-type: application/json' -d '{"price": 99}' ${base}/products/1/price
  curl -X PUT -H 'content-type: application/json' -d '{"name": "Keychron Labs"}' ${base}/authors/1
  curl ${base}/cache/metrics`);
}

void bootstrap();
