// E2E test on Fastify: /catalogue answers MISS then HIT (interceptor), /products/:id is read once (@Cacheable).
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';
import { ProductsService } from '../src/products.service.js';

describe('nest12-esm on Fastify (e2e)', () => {
  let app: NestFastifyApplication;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterEach(async () => {
    await app.close();
  });

  it('GET /catalogue: MISS, then HIT with the same body', async () => {
    const first = await request(app.getHttpServer()).get('/catalogue').expect(200).expect('X-Cache', 'MISS');
    const second = await request(app.getHttpServer()).get('/catalogue').expect(200).expect('X-Cache', 'HIT');
    expect(second.body).toEqual(first.body);
    expect(first.body).toEqual({ titles: ['Keyboard', 'Mouse'] });
  });

  it('GET /products/:id: the @Cacheable method reads once', async () => {
    const first = await request(app.getHttpServer()).get('/products/7').expect(200).expect({ id: 7, title: 'Product #7', lookup: 1 });
    await request(app.getHttpServer()).get('/products/7').expect(200).expect({ id: 7, title: 'Product #7', lookup: 1 });
    expect(first.headers['x-cache']).toBeUndefined();
    expect(app.get(ProductsService).lookups).toBe(1);
  });
});
