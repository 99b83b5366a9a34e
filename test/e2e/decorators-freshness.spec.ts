import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Param } from '@nestjs/common';
import request from 'supertest';
import { Cacheable } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { initApp, memoryStack } from '../support/decorator-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Loads {
  count = 0;
}

@Controller('products')
class ProductsController {
  constructor(@Inject(Loads) private readonly loads: Loads) {}

  @Get('sliding/:id')
  @Cacheable({ key: 'sliding:{0}', ttl: 60, slidingTtl: true, maxTtl: 300 })
  sliding(@Param('id') id: string): { id: string; load: number } {
    return { id, load: ++this.loads.count };
  }

  @Get('adaptive/:id')
  @Cacheable({ key: 'adaptive:{0}', ttl: 60, adaptiveTtl: { max: 600, hits: 3, step: 120 } })
  adaptive(@Param('id') id: string): { id: string; load: number } {
    return { id, load: ++this.loads.count };
  }
}

describe.each(ADAPTERS)('@Cacheable with slidingTtl / adaptiveTtl in a Nest app (%s)', (adapter) => {
  async function setup() {
    const clock = new FakeClock();
    const stack = memoryStack({ clock });
    const app = await initApp({ controllers: [ProductsController], providers: [Loads] }, { stack }, adapter);
    return { clock, stack, app, loads: app.get(Loads) };
  }

  it('a sliding entry read every 40 s outlives its 60 s ttl, up to maxTtl; unread for a ttl it expires', async () => {
    const { clock, app, loads } = await setup();
    const server = app.getHttpServer();
    expect((await request(server).get('/products/sliding/1').expect(200)).body).toEqual({ id: '1', load: 1 });
    for (let i = 0; i < 6; i++) {
      await clock.advance(40_000); // 240 s: four ttls
      expect((await request(server).get('/products/sliding/1').expect(200)).body).toEqual({ id: '1', load: 1 });
    }
    await clock.advance(40_000); // 280 s: still fresh, but maxTtl (300 s) caps the extension
    expect((await request(server).get('/products/sliding/1').expect(200)).body).toEqual({ id: '1', load: 1 });
    await clock.advance(20_000); // 300 s after the write
    expect((await request(server).get('/products/sliding/1').expect(200)).body).toEqual({ id: '1', load: 2 });
    await clock.advance(60_000); // unread for one ttl
    expect((await request(server).get('/products/sliding/1').expect(200)).body).toEqual({ id: '1', load: 3 });
    expect(loads.count).toBe(3);
  });

  it('an adaptive entry read 3 times (after its load) within its ttl lives 180 s instead of 60 s', async () => {
    const { clock, stack, app } = await setup();
    const server = app.getHttpServer();
    for (let i = 0; i < 4; i++) expect((await request(server).get('/products/adaptive/1').expect(200)).body).toEqual({ id: '1', load: 1 });
    await clock.advance(170_000);
    expect((await request(server).get('/products/adaptive/1').expect(200)).body).toEqual({ id: '1', load: 1 });
    expect(stack.getMetrics().stack.adaptiveRaises).toBe(1);
    await clock.advance(10_000);
    expect((await request(server).get('/products/adaptive/1').expect(200)).body).toEqual({ id: '1', load: 2 });
  });
});
