import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Header, Inject, Injectable, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor, MemoryLayer } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { afterRevalidation, closeHttpApp, rawBody, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('shared')
class SharedController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('json/:id')
  @HttpCache({ ttl: 10, staleWhileRevalidate: 60 })
  json(@Param('id') id: string) {
    this.runs.count++;
    return { id, at: new Date(Date.UTC(2026, 0, 1)), nested: { list: [1, null, 'x'] } };
  }

  @Get('binary')
  @HttpCache({ ttl: 10 })
  @Header('Content-Type', 'application/octet-stream')
  binary() {
    this.runs.count++;
    return Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
  }
}


describe.each(ADAPTERS)('LayerCacheInterceptor on Redis (%s)', (adapter) => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function start(clock: FakeClock | undefined, prefix: string) {
    const started = await startHttpApp(adapter, {
      controllers: [SharedController],
      providers: [Runs],
      clock,
      stack: { layers: [() => new MemoryLayer()], redis: server.url, redisLayer: { prefix } },
    });
    return { ...started, runs: started.app.get(Runs) };
  }

  it('shares entries between two app instances; a stale entry is revalidated once across both', async () => {
    const clock = new FakeClock();
    const prefix = `http-${randomUUID()}:`;
    const a = await start(clock, prefix);
    const b = await start(clock, prefix);
    const first = await request(a.url).get('/shared/json/1');
    const fromB = await request(b.url).get('/shared/json/1');
    expect([first.headers['x-cache'], fromB.headers['x-cache'], a.runs.count, b.runs.count]).toEqual(['MISS', 'HIT', 1, 0]);
    expect(fromB.text).toBe(first.text);
    expect(fromB.headers.etag).toBe(first.headers.etag);

    await clock.advance(11_000);
    const staleAnswers = await Promise.all([...Array(3)].flatMap(() => [request(a.url).get('/shared/json/1'), request(b.url).get('/shared/json/1')]));
    // Stale, or fresh again once a refresh reached Redis; never a MISS, never a wait for the handler.
    expect(staleAnswers.every((r) => r.headers['x-cache'] === 'STALE' || r.headers['x-cache'] === 'HIT')).toBe(true);
    expect(staleAnswers.every((r) => r.text === first.text)).toBe(true);
    await Promise.all([afterRevalidation(a.stack), afterRevalidation(b.stack)]);
    // One background run in the whole "cluster": the Redis revalidation lock lets one instance refresh.
    expect(a.runs.count - 1 + b.runs.count).toBe(1);
    const after = await request(b.url).get('/shared/json/1');
    expect(after.headers['x-cache']).toMatch(/^(HIT|STALE)$/);
  });

  it('replays binary bodies from Redis byte-identical', async () => {
    const clock = new FakeClock();
    const prefix = `http-${randomUUID()}:`;
    const a = await start(clock, prefix);
    const b = await start(clock, prefix);
    const miss = await request(a.url).get('/shared/binary').buffer(true).parse(rawBody);
    const fromRedis = await request(b.url).get('/shared/binary').buffer(true).parse(rawBody);
    expect([miss.headers['x-cache'], fromRedis.headers['x-cache'], b.runs.count]).toEqual(['MISS', 'HIT', 0]);
    expect(Buffer.compare(fromRedis.body as Buffer, miss.body as Buffer)).toBe(0);
    expect(fromRedis.headers['content-type']).toBe(miss.headers['content-type']);
  });

  it('answers every request while Redis is stopped', async () => {
    const a = await start(undefined, `http-${randomUUID()}:`);
    expect((await request(a.url).get('/shared/json/1')).headers['x-cache']).toBe('MISS');
    await server.stop();
    try {
      const cached = await request(a.url).get('/shared/json/1');
      const cold = await request(a.url).get('/shared/json/2');
      const coldAgain = await request(a.url).get('/shared/json/2');
      expect([cached.status, cached.headers['x-cache']]).toEqual([200, 'HIT']);
      expect([cold.status, coldAgain.status, cold.body.id]).toEqual([200, 200, '2']);
      expect(['MISS', 'BYPASS', 'HIT']).toContain(coldAgain.headers['x-cache']);
    } finally {
      await closeHttpApp(a.app);
      await server.restart();
    }
  });
});
