// A `DiskLayer` as one of the module's `layers` (a factory) in a real Nest app, on Express and Fastify: a response
// cached by one app is served by the next app started on the same directory (a restart), without running the
// handler; the new app's DiskLayer backfills its memory layer.
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Inject, Injectable, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { CacheStack, DiskLayer, HttpCache, LayerCacheInterceptor, LayerCacheModule, MemoryLayer } from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('items')
class ItemsController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get(':id')
  @HttpCache({ ttl: 60 })
  item(@Param('id') id: string) {
    return { id, run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('DiskLayer in LayerCacheModule (%s)', (adapter: AdapterName) => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'lc-disk-e2e-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const start = () =>
    startApp(
      {
        imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer(), () => new DiskLayer({ directory, maxFiles: 1000 })], logger: silentLogger })],
        controllers: [ItemsController],
        providers: [Runs],
      },
      adapter,
    );

  it('serves after a restart what the previous app cached, without running the handler', async () => {
    const first = await start();
    try {
      expect((await request(first.getHttpServer()).get('/items/1').expect(200)).body).toEqual({ id: '1', run: 1 });
      expect((await request(first.getHttpServer()).get('/items/1').expect(200)).body).toEqual({ id: '1', run: 1 });
    } finally {
      await first.close();
    }
    const second = await start();
    try {
      expect((await request(second.getHttpServer()).get('/items/1').expect(200)).body).toEqual({ id: '1', run: 1 });
      expect(second.get(Runs).count).toBe(0);
      const layers = second.get(CacheStack).getMetrics().layers;
      expect(layers.disk).toMatchObject({ hits: 1 });
      expect(layers.memory).toMatchObject({ backfills: 1 });
      expect((await request(second.getHttpServer()).get('/items/2').expect(200)).body).toEqual({ id: '2', run: 1 });
    } finally {
      await second.close();
    }
  });
});
