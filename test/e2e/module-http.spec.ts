import 'reflect-metadata';
import { Controller, Get, UseInterceptors } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HttpCache, InvalidOptionError, LayerCacheInterceptor, LayerCacheModule, MemoryLayer } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';

let runs = 0;

@UseInterceptors(LayerCacheInterceptor)
@Controller()
class ClockController {
  @Get('decorated')
  @HttpCache({})
  decorated() {
    runs++;
    return { runs };
  }

  @Get('undecorated')
  undecorated() {
    runs++;
    return { runs };
  }
}

/** The interceptor's app-wide options through `LayerCacheModule.forRoot({ http })`, and its clock from the stack. */
describe('LayerCacheModule http option', () => {
  it('gives route defaults to the interceptor and ages hits on the stack clock', async () => {
    runs = 0;
    const clock = new FakeClock();
    const moduleRef = await Test.createTestingModule({
      imports: [
        LayerCacheModule.forRoot({
          layers: [() => new MemoryLayer()],
          clock,
          http: { defaults: { ttl: 10 }, cacheUndecoratedRoutes: false },
        }),
      ],
      controllers: [ClockController],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    try {
      const server = app.getHttpServer();
      expect((await request(server).get('/decorated')).headers['x-cache']).toBe('MISS');
      await clock.advance(4_000);
      const hit = await request(server).get('/decorated');
      expect([hit.headers['x-cache'], hit.headers['age']]).toEqual(['HIT', '4']); // the stack's fake clock
      await clock.advance(6_000); // ttl 10 s from the module's http.defaults
      expect((await request(server).get('/decorated')).headers['x-cache']).toBe('MISS');
      const first = await request(server).get('/undecorated');
      const second = await request(server).get('/undecorated');
      expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']); // cacheUndecoratedRoutes: false
      expect(second.body.runs).toBe(first.body.runs + 1);
    } finally {
      await app.close();
    }
  });

  it('rejects a bad http option, naming it', () => {
    expect(() => LayerCacheModule.forRoot({ http: 'yes' as never })).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ http: { cacheUndecoratedRoutes: 'no' as never } })).toThrow('http.cacheUndecoratedRoutes');
    expect(() => LayerCacheModule.forRoot({ http: { defaults: { ttl: -1 } } })).toThrow(/ttl/);
  });
});
