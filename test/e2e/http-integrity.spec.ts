// What the cache holds for a route is checked before it is replayed (a malformed value is a miss, logged once and
// replaced), and an entry over the route's byte budget (body plus stored headers) is never stored.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, HttpCode, Inject, Injectable, Res } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor, MemoryLayer, type CacheStack } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { afterRevalidation, recordHttpWarnings, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

@Injectable()
class Runs {
  count = 0;
}

/** Express responses and Fastify replies both have `header(name, value)`. */
interface HeaderSetter {
  header(name: string, value: string): unknown;
}

@HttpCache({ ttl: 30 })
@Controller('i')
class IntegrityController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('plain')
  plain() {
    return { run: ++this.runs.count };
  }

  @Get('swr')
  @HttpCache({ ttl: 30, staleWhileRevalidate: 60 })
  swr() {
    return { run: ++this.runs.count };
  }

  @Get('big-headers')
  @HttpCache({ ttl: 30, maxBodySize: 100 })
  bigHeaders(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('X-Padding', 'p'.repeat(200));
    return { run: ++this.runs.count };
  }

  @Get('odd-status')
  @HttpCode(600) // Express sends it, Fastify refuses it
  @HttpCache({ ttl: 30, cacheableStatus: () => true })
  oddStatus() {
    return { run: ++this.runs.count };
  }

  @Get('within-budget')
  @HttpCache({ ttl: 30, maxBodySize: 400 })
  withinBudget(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('X-Padding', 'p'.repeat(200));
    return { run: ++this.runs.count };
  }
}

/** Well-formed stack values that are not responses the interceptor could replay. */
const MALFORMED: [string, unknown][] = [
  ['a header value with CRLF', { type: 'stored', status: 200, body: { run: 0 }, contentType: undefined, headers: [['x-evil', 'a\r\nSet-Cookie: stolen=1']], etag: '"e"', tags: [] }],
  ['a header name that is no token', { type: 'stored', status: 200, body: { run: 0 }, contentType: undefined, headers: [['x evil', 'a']], etag: '"e"', tags: [] }],
  ['a content type with LF', { type: 'stored', status: 200, body: { run: 0 }, contentType: 'text/html\nx: y', headers: [], etag: '"e"', tags: [] }],
  ['a stored response without an ETag', { type: 'stored', status: 200, body: { run: 0 }, contentType: undefined, headers: [], tags: [] }],
  ['a plain object', { hello: 'world' }],
  ['a string', 'not a response'],
  ['a cached 4xx outcome', { type: 'rejected', error: 'boom' }],
  ['a cached passthrough outcome', { type: 'passthrough', value: { run: 0 }, reason: 'status' }],
];

/** Starts an app whose interceptor is a provider (to read its counters), recording the keys the stack writes. */
async function startApp(adapter: (typeof ADAPTERS)[number], stack?: Parameters<typeof startHttpApp>[1]['stack']) {
  const clock = new FakeClock();
  const started = await startHttpApp(adapter, {
    controllers: [IntegrityController],
    providers: [Runs, LayerCacheInterceptor, { provide: APP_INTERCEPTOR, useExisting: LayerCacheInterceptor }],
    clock,
    ...(stack && { stack }),
  });
  const written: string[] = [];
  started.stack.on('set', ({ key }) => written.push(key));
  return { ...started, clock, runs: started.app.get(Runs), interceptor: started.app.get(LayerCacheInterceptor), written };
}

/** The key the route's first response was stored under. */
async function keyOf(url: string, path: string, written: string[]): Promise<string> {
  const first = await request(url).get(path);
  expect(first.headers['x-cache']).toBe('MISS');
  expect(written.length).toBe(1);
  return written[0] as string;
}

describe.each(ADAPTERS)('HTTP entries are checked before replay (%s)', (adapter) => {
  it.each(MALFORMED)('treats %s under the real key as a miss, logs once, and stores the next response', async (_case, value) => {
    const warnings = recordHttpWarnings();
    const { url, stack, runs, written } = await startApp(adapter);
    const key = await keyOf(url, '/i/plain', written);
    await stack.set(key, value, { ttl: 30 });
    const answers = [await request(url).get('/i/plain'), await request(url).get('/i/plain')];
    expect(answers.map((a) => [a.status, a.headers['x-cache'], a.body])).toEqual([
      [200, 'MISS', { run: 2 }],
      [200, 'HIT', { run: 2 }],
    ]);
    expect(answers.every((a) => a.headers['set-cookie'] === undefined)).toBe(true);
    await stack.set(key, value, { ttl: 30 });
    expect((await request(url).get('/i/plain')).headers['x-cache']).toBe('MISS');
    expect(warnings.filter((line) => line.includes('IntegrityController.plain') && line.includes('not a valid stored response')).length).toBe(1);
    expect(runs.count).toBe(3);
  });

  it('treats a malformed stale entry as a miss: the handler runs once, for this request, and its response replaces it', async () => {
    const warnings = recordHttpWarnings();
    const { url, stack, runs, written, clock } = await startApp(adapter);
    const key = await keyOf(url, '/i/swr', written);
    await stack.set(key, MALFORMED[4]?.[1], { ttl: 1, staleWhileRevalidate: 60 });
    await clock.advance(2_000); // stale, inside its SWR window: the read that finds it also starts a refresh
    const replaced = await request(url).get('/i/swr');
    await afterRevalidation(stack);
    const again = await request(url).get('/i/swr');
    expect([replaced.status, replaced.headers['x-cache'], replaced.body]).toEqual([200, 'MISS', { run: 2 }]);
    expect([again.headers['x-cache'], again.body, runs.count]).toEqual(['HIT', { run: 2 }, 2]);
    expect(warnings.filter((line) => line.includes('IntegrityController.swr') && line.includes('not a valid stored response')).length).toBe(1);
  });

  it('never stores an entry whose headers take it over the byte budget, and counts it', async () => {
    const { url, runs, interceptor } = await startApp(adapter);
    const answers = [await request(url).get('/i/big-headers'), await request(url).get('/i/big-headers')];
    expect(answers.map((a) => [a.headers['x-cache'], a.body.run])).toEqual([
      ['BYPASS', 1],
      ['BYPASS', 2],
    ]);
    expect(interceptor.getNotStoredCounts()).toEqual({ 'over-budget': 2 });
    const within = [await request(url).get('/i/within-budget'), await request(url).get('/i/within-budget')];
    expect(within.map((a) => a.headers['x-cache'])).toEqual(['MISS', 'HIT']);
    expect(runs.count).toBe(3);
  });
});

describe('HTTP responses that could not be replayed (express)', () => {
  it('never stores them, and runs the handler once per request', async () => {
    const { url, runs, interceptor } = await startApp('express');
    const answers = [await request(url).get('/i/odd-status'), await request(url).get('/i/odd-status')];
    expect(answers.map((a) => [a.status, a.headers['x-cache'], a.body.run])).toEqual([
      [600, 'BYPASS', 1],
      [600, 'BYPASS', 2],
    ]);
    expect([runs.count, interceptor.getNotStoredCounts()]).toEqual([2, { 'not-replayable': 2 }]);
  });
});

describe.each(ADAPTERS)('HTTP entries from Redis are checked before replay (%s)', (adapter) => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('treats a malformed value another instance wrote to Redis as a miss, and overwrites it', async () => {
    recordHttpWarnings();
    const prefix = `http-${randomUUID()}:`;
    const options = { layers: [() => new MemoryLayer()], redis: server.url, redisLayer: { prefix } };
    const writer = await startApp(adapter, options);
    const reader = await startApp(adapter, options);
    const key = await keyOf(writer.url, '/i/plain', writer.written);
    await (writer.stack as CacheStack).set(key, MALFORMED[0]?.[1], { ttl: 30 });
    const fromRedis = await request(reader.url).get('/i/plain');
    expect([fromRedis.status, fromRedis.headers['x-cache'], fromRedis.body, fromRedis.headers['x-evil']]).toEqual([200, 'MISS', { run: 1 }, undefined]);
    const again = await request(reader.url).get('/i/plain');
    expect([again.headers['x-cache'], again.body]).toEqual(['HIT', { run: 1 }]);
  });
});
