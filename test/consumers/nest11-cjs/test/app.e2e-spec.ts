// E2E test (the scaffold's, extended): the interceptor-cached route answers MISS then HIT, and the
// @Cacheable route serves the cached value (the method ran once).
import { Test, TestingModule } from '@nestjs/testing';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { App } from 'supertest/types';
import { AppModule } from './../src/app.module';
import { AppService } from './../src/app.service';

describe('AppController (e2e)', () => {
  let app: INestApplication<App>;

  beforeEach(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();

    app = moduleFixture.createNestApplication();
    await app.init();
  });

  it('/ (GET): MISS, then HIT', async () => {
    await request(app.getHttpServer()).get('/').expect(200).expect('X-Cache', 'MISS').expect('Hello World!');
    await request(app.getHttpServer()).get('/').expect(200).expect('X-Cache', 'HIT').expect('Hello World!');
  });

  it('/greetings/:name (GET): the @Cacheable method runs once', async () => {
    const expected = { name: 'ada', text: 'Hello ada!', run: 1 };
    await request(app.getHttpServer()).get('/greetings/ada').expect(200).expect(expected);
    await request(app.getHttpServer()).get('/greetings/ada').expect(200).expect(expected);
    expect(app.get(AppService).runs).toBe(1);
  });

  afterEach(async () => {
    await app.close();
  });
});
