import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../../sample/app.module.js';

/** The sample app, for real, through @nestjs/testing + supertest, on both HTTP adapters. */
describe.each(['express', 'fastify'] as const)('sample catalogue on %s (memory layer only)', (adapter) => {
  let app: INestApplication;

  beforeEach(async () => {
    delete process.env['REDIS_URL'];
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    if (adapter === 'fastify') {
      app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
      await app.init();
      await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    } else {
      app = moduleRef.createNestApplication();
      await app.init();
    }
  });
  afterEach(async () => {
    await app.close();
  });

  it('serves the second read from the cache and reloads after a price change evicts it', async () => {
    const server = app.getHttpServer();
    const first = await request(server).get('/products/1').expect(200);
    const second = await request(server).get('/products/1').expect(200);
    expect(second.body.data).toEqual(first.body.data);
    expect((await request(server).get('/cache/metrics')).body).toMatchObject({ databaseQueries: 1, stack: { hits: 1, misses: 1 } });

    await request(server).put('/products/1/price').send({ price: 42 }).expect(200);
    const third = await request(server).get('/products/1').expect(200);
    expect(third.body.data.price).toBe(42);
    expect((await request(server).get('/cache/metrics')).body.databaseQueries).toBe(3);
  });

  it("renaming an author invalidates that author's products by tag, and only those", async () => {
    const server = app.getHttpServer();
    await request(server).get('/products/1').expect(200); // author 1
    await request(server).get('/products/2').expect(200); // author 2
    await request(server).put('/authors/1').send({ name: 'Renamed' }).expect(200);
    const queries = async () => (await request(server).get('/cache/metrics')).body.databaseQueries as number;
    const before = await queries();
    await request(server).get('/products/2').expect(200);
    expect(await queries()).toBe(before); // still cached
    await request(server).get('/products/1').expect(200);
    expect(await queries()).toBe(before + 1); // reloaded
  });

  it('the interceptor-cached catalogue route answers MISS then HIT with the same body', async () => {
    const server = app.getHttpServer();
    const first = await request(server).get('/catalogue').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await request(server).get('/catalogue').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
  });

  it('caches "not found" briefly (negative caching) and answers 404', async () => {
    const server = app.getHttpServer();
    await request(server).get('/products/999').expect(404);
    await request(server).get('/products/999').expect(404);
    expect((await request(server).get('/cache/metrics')).body.databaseQueries).toBe(1);
  });
});
