import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Controller, Get, Inject, Injectable, UseInterceptors } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor, MemoryLayer } from '../../lib/index.js';
import { cliJson, runCliProcess } from '../support/cli-process.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

jest.setTimeout(60_000);

/**
 * A declared HTTP key on Redis: two app instances share the entry, `inspect` reads it from Redis, and the admin CLI
 * (a real child process) inspects and deletes it by the key the route declares; the instances' L1 copies drop
 * through the invalidation bus. System clock: the CLI reports states at the real time.
 */

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('items')
class ItemsController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get()
  @HttpCache({ key: 'items:all', ttl: 300, tags: ['items'] })
  all() {
    return { runs: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('declared HTTP keys on Redis, reached by inspect and the admin CLI (%s)', (adapter) => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const start = (prefix: string) =>
    startHttpApp(adapter, {
      controllers: [ItemsController],
      providers: [Runs],
      stack: { layers: [() => new MemoryLayer()], redis: server.url, redisLayer: { prefix }, distributed: true },
    });

  it('shares the entry, inspects it in Redis, and drops it everywhere with the CLI', async () => {
    const prefix = `http-key-${randomUUID()}:`;
    const a = await start(prefix);
    const b = await start(prefix);
    await Promise.all([a.stack.ready(), b.stack.ready()]);
    expect((await request(a.url).get('/items')).headers['x-cache']).toBe('MISS');
    await a.stack.idle();
    const fromB = await b.stack.inspect('items:all');
    expect(fromB).toMatchObject({ state: 'fresh', layer: 'redis', tags: ['items'] });
    expect(fromB.remaining.fresh).toBeGreaterThan(290);
    expect((await request(b.url).get('/items')).headers['x-cache']).toBe('HIT');

    const client = new Redis(server.url);
    try {
      expect(await client.exists(`${prefix}items:all`)).toBe(1);
      const cli = (args: string[]) => runCliProcess([...args, '--redis', server.url, '--prefix', prefix, '--json']);
      const inspected = await cli(['inspect', 'items:all']);
      expect(inspected.code).toBe(0);
      expect(cliJson(inspected)).toMatchObject({ key: 'items:all', state: 'fresh', tags: expect.arrayContaining([expect.objectContaining({ tag: 'items' })]) });
      const deleted = await cli(['invalidate', '--key', 'items:all']);
      expect(deleted.code).toBe(0);
      expect(await client.exists(`${prefix}items:all`)).toBe(0);
    } finally {
      await client.quit();
    }
    for (const app of [a, b]) {
      const since = performance.now();
      while ((await app.stack.inspect('items:all')).state !== 'absent') {
        if (performance.now() - since > 5_000) throw new Error('an instance still holds items:all in L1');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const again = await request(b.url).get('/items');
    expect([again.headers['x-cache'], again.body.runs]).toEqual(['MISS', 1]); // B's own handler, run for the first time
    expect([a.app.get(Runs).count, b.app.get(Runs).count]).toEqual([1, 1]);
  });
});
