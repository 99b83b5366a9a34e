// Conditional GET answers alike on Express and Fastify: a matching If-None-Match is a 304 whatever the request's
// Cache-Control (no-cache, which Node's fetch adds to every conditional request, included); others get the body.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Inject, Injectable, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 30 })
@Controller('c')
class ConditionalController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('plain')
  plain() {
    return { run: ++this.runs.count };
  }

  @Get('not-found-cached')
  @HttpCode(404)
  @HttpCache({ ttl: 30, cacheableStatus: () => true })
  notFound() {
    return { run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('Conditional GET (%s)', (adapter) => {
  async function start() {
    const started = await startHttpApp(adapter, { controllers: [ConditionalController], providers: [Runs], clock: new FakeClock() });
    const first = await request(started.url).get('/c/plain');
    return { ...started, etag: String(first.headers.etag), runs: started.app.get(Runs) };
  }

  it.each([
    ['Cache-Control: no-cache', { 'Cache-Control': 'no-cache' }],
    ['Pragma: no-cache', { Pragma: 'no-cache' }],
    ['Cache-Control: max-age=0', { 'Cache-Control': 'max-age=0' }],
    ['no request directive', {}],
  ])('answers a matching If-None-Match with 304 from the cache, with %s', async (_case, headers) => {
    const { url, etag, runs } = await start();
    const answer = await request(url).get('/c/plain').set({ 'If-None-Match': etag, ...headers });
    expect([answer.status, answer.text, answer.headers.etag, answer.headers['x-cache'], runs.count]).toEqual([304, '', etag, 'HIT', 1]);
  });

  it('answers Node’s fetch (which adds Cache-Control: no-cache) with 304', async () => {
    const { url, etag } = await start();
    const answer = await fetch(`${url}/c/plain`, { headers: { 'If-None-Match': etag } });
    expect([answer.status, await answer.text(), answer.headers.get('x-cache')]).toEqual([304, '', 'HIT']);
  });

  it('answers a non-matching If-None-Match with the body, with or without no-cache', async () => {
    const { url } = await start();
    for (const headers of [{}, { 'Cache-Control': 'no-cache' }]) {
      const answer = await request(url).get('/c/plain').set({ 'If-None-Match': '"other"', ...headers });
      expect([answer.status, answer.body, answer.headers['x-cache']]).toEqual([200, { run: 1 }, 'HIT']);
    }
  });

  it('never turns a stored non-2xx response into a 304', async () => {
    const { url } = await start();
    const first = await request(url).get('/c/not-found-cached');
    const again = await request(url).get('/c/not-found-cached').set({ 'If-None-Match': String(first.headers.etag), 'Cache-Control': 'no-cache' });
    expect([first.status, again.status, again.headers['x-cache'], again.body]).toEqual([404, 404, 'HIT', { run: 2 }]);
  });
});
