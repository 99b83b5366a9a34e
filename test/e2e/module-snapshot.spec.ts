/**
 * The module's `snapshot: { file }` option in real Nest apps on Express and Fastify: an app closed and started
 * again on a new instance answers its first request from the restored in-process layer (a HIT, the handler not
 * run); a missing file is a cold start, a bad one is logged and never stops the app; the option is checked eagerly.
 */
import 'reflect-metadata';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Param, UseInterceptors, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, InvalidOptionError, LayerCacheInterceptor, LayerCacheModule, MemoryLayer, type CacheLogger } from '../../lib/index.js';
import { ADAPTERS, startApp, type AdapterName } from '../support/nest-app.js';

/** Handler runs, across app instances. */
let runs = 0;

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 300 })
@Controller('items')
class ItemsController {
  @Get(':id')
  item(@Param('id') id: string): { id: string; run: number } {
    return { id, run: ++runs };
  }
}

class Lines implements CacheLogger {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  error(message: string): void {
    this.errors.push(message);
  }
}

function start(adapter: AdapterName, file: string, logger: CacheLogger = new Lines()): Promise<INestApplication> {
  return startApp({ imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], logger, snapshot: { file } })], controllers: [ItemsController] }, adapter);
}

describe.each(ADAPTERS)('LayerCacheModule snapshot (%s)', (adapter) => {
  let dir: string;
  const apps: INestApplication[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lc-snapshot-e2e-'));
    runs = 0;
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('restores at startup what the previous instance wrote at shutdown: the first request is a HIT', async () => {
    const file = join(dir, 'cache.snapshot');
    const first = await start(adapter, file);
    const miss = await request(first.getHttpServer()).get('/items/7').expect(200);
    expect(miss.body).toEqual({ id: '7', run: 1 });
    expect(miss.headers['x-cache']).toBe('MISS');
    await first.close();

    const second = await start(adapter, file);
    apps.push(second);
    const hit = await request(second.getHttpServer()).get('/items/7').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ id: '7', run: 1 });
    expect(runs).toBe(1);
  });

  it('starts cold without a file, and logs a bad file without stopping the app', async () => {
    const cold = await start(adapter, join(dir, 'none'));
    apps.push(cold);
    expect((await request(cold.getHttpServer()).get('/items/1').expect(200)).headers['x-cache']).toBe('MISS');

    const bad = join(dir, 'bad.snapshot');
    await writeFile(bad, 'garbage');
    const logger = new Lines();
    const app = await start(adapter, bad, logger);
    apps.push(app);
    expect(logger.errors.join('\n')).toMatch(/not restored: SnapshotError/);
    await request(app.getHttpServer()).get('/items/2').expect(200);
  });
});

describe('LayerCacheModule snapshot option checks', () => {
  it.each([[{ file: '' }, 'snapshot.file'], [{ file: 'x', every: 1 }, 'snapshot.every'], ['x', 'snapshot']])('rejects %j naming %s', (snapshot, name) => {
    expect(() => LayerCacheModule.forRoot({ snapshot: snapshot as never })).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ snapshot: snapshot as never })).toThrow(name);
  });
});
