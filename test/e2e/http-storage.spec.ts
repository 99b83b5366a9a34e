import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Controller, Get, Header, HttpCode, Inject, Injectable, Post, Res, StreamableFile, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { rawBody, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

const NEST_MAJOR = Number((createRequire(import.meta.url)('@nestjs/core/package.json') as { version: string }).version.split('.')[0]);

@Injectable()
class Runs {
  count = 0;
}

/** Express responses and Fastify replies both have `header(name, value)`. */
interface HeaderSetter {
  header(name: string, value: string): unknown;
}

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 30 })
@Controller('n')
class StorageController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  private run(): number {
    return ++this.runs.count;
  }

  @Get('headers')
  headers(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('X-Custom', `run-${this.run()}`);
    res.header('Content-Type', 'application/vnd.test+json');
    return { ok: true };
  }

  @Get('cookie')
  cookie(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('Set-Cookie', 'session=abc');
    return { run: this.run() };
  }

  @Get('cookie-decorator')
  @Header('Set-Cookie', 'tracking=1')
  cookieDecorator() {
    return { run: this.run() };
  }

  @Get('no-store')
  noStore(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('Cache-Control', 'no-store');
    return { run: this.run() };
  }

  @Get('private')
  @HttpCache({ ttl: 30, shared: true })
  privateOnShared(@Res({ passthrough: true }) res: HeaderSetter) {
    res.header('Cache-Control', 'private, max-age=5');
    return { run: this.run() };
  }

  @Get('plain')
  plain() {
    return { run: this.run() };
  }

  @Get('streamable')
  streamable() {
    return new StreamableFile(Buffer.from(`file-${this.run()}`));
  }

  @Get('web-stream')
  webStream() {
    const text = `web-${this.run()}`;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
  }

  @Get('web-response')
  webResponse() {
    return new Response(`response-${this.run()}`);
  }

  @Get('iterable')
  iterable() {
    const run = this.run();
    return (async function* () {
      yield `iter-${run}`;
    })();
  }

  @Get('big')
  big() {
    return 'x'.repeat(1024 * 1024) + String(this.run());
  }

  @Get('small-cap')
  @HttpCache({ ttl: 30, maxBodySize: 10 })
  smallCap() {
    return { padding: 'more than ten bytes', run: this.run() };
  }

  @Get('created')
  @HttpCode(203)
  created() {
    return { run: this.run() };
  }

  @Get('only-200')
  @HttpCode(203)
  @HttpCache({ ttl: 30, cacheableStatus: (status) => status === 200 })
  only200() {
    return { run: this.run() };
  }

  @Post('plain')
  @HttpCache({ ttl: 30 })
  post() {
    return { run: this.run() };
  }

  @Get('sends-itself')
  sendsItself(@Res() res: { send?: (body: string) => unknown }) {
    const body = `self-${this.run()}`;
    res.send?.(body);
  }

  @Get('binary')
  @Header('Content-Type', 'application/octet-stream')
  binary() {
    this.run();
    return Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  }
}


describe.each(ADAPTERS)('LayerCacheInterceptor storage (%s)', (adapter) => {
  async function start() {
    const started = await startHttpApp(adapter, { controllers: [StorageController], providers: [Runs], clock: new FakeClock() });
    return { ...started, runs: started.app.get(Runs) };
  }

  it('replays the content type and the headers the handler set, without running it', async () => {
    const { url, runs } = await start();
    const first = await request(url).get('/n/headers');
    const second = await request(url).get('/n/headers');
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(second.headers['x-custom']).toBe('run-1');
    expect(second.headers['content-type']).toMatch(/^application\/vnd\.test\+json/);
    expect(second.body).toEqual({ ok: true });
    expect(runs.count).toBe(1);
  });

  it.each([
    ['Set-Cookie set by the handler', '/n/cookie', { run: 2 }],
    ['Set-Cookie from @Header', '/n/cookie-decorator', { run: 2 }],
    ['Cache-Control: no-store', '/n/no-store', { run: 2 }],
    ['Cache-Control: private on a shared route', '/n/private', { run: 2 }],
    ['a body over maxBodySize', '/n/small-cap', { padding: 'more than ten bytes', run: 2 }],
    ['a status the route does not store', '/n/only-200', { run: 2 }],
  ])('never stores a response with %s (BYPASS, the handler runs each time)', async (_case, path, secondBody) => {
    const { url, runs } = await start();
    const first = await request(url).get(path);
    const second = await request(url).get(path);
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
    expect(second.body).toEqual(secondBody);
    expect(runs.count).toBe(2);
  });

  // Nest 12 streams web ReadableStreams, web Responses and async iterables returned by a handler; Nest 11
  // serializes them (as `{}` on Express): there only the BYPASS and the runs are this library's to assert.
  const streamsWebBodies = NEST_MAJOR >= 12;

  it.each([
    ['a StreamableFile', '/n/streamable', 'file-'],
    ['a web ReadableStream', '/n/web-stream', 'web-'],
    ['a web Response', '/n/web-response', 'response-'],
    ['an async iterable', '/n/iterable', 'iter-'],
  ])('never stores %s, and every response still streams whole', async (_case, path, prefix) => {
    const { url, runs } = await start();
    for (const run of [1, 2]) {
      const res = await request(url).get(path).buffer(true).parse(rawBody);
      expect([res.status, res.headers['x-cache']]).toEqual([200, 'BYPASS']);
      if (streamsWebBodies || path === '/n/streamable') expect((res.body as Buffer).toString('utf8')).toBe(`${prefix}${run}`);
    }
    expect(runs.count).toBe(2);
  });

  it('never stores a body over the default 1 MiB cap', async () => {
    const { url, runs } = await start();
    await request(url).get('/n/big');
    const second = await request(url).get('/n/big');
    expect([second.headers['x-cache'], second.text.length, runs.count]).toEqual(['BYPASS', 1024 * 1024 + 1, 2]);
  });

  it('stores other 2xx statuses of the route (@HttpCode) and replays them', async () => {
    const { url, runs } = await start();
    await request(url).get('/n/created');
    const second = await request(url).get('/n/created');
    expect([second.status, second.headers['x-cache'], second.body, runs.count]).toEqual([203, 'HIT', { run: 1 }, 1]);
  });

  it('bypasses Range requests and never serves or stores POST', async () => {
    const { url, runs } = await start();
    const ranged = await request(url).get('/n/plain').set('Range', 'bytes=0-3');
    expect(ranged.headers['x-cache']).toBe('BYPASS');
    await request(url).get('/n/plain'); // now cached for GET
    const posts = [await request(url).post('/n/plain'), await request(url).post('/n/plain')];
    expect(posts.map((p) => [p.status, p.headers['x-cache'], p.body])).toEqual([
      [201, 'BYPASS', { run: 3 }],
      [201, 'BYPASS', { run: 4 }],
    ]);
    expect((await request(url).get('/n/plain').set('Range', 'bytes=0-3')).headers['x-cache']).toBe('BYPASS');
    expect(runs.count).toBe(5);
  });

  it('leaves alone a handler that sends the response itself (@Res() without passthrough)', async () => {
    const { url, runs } = await start();
    const answers = [await request(url).get('/n/sends-itself'), await request(url).get('/n/sends-itself')];
    expect(answers.map((a) => [a.status, a.text, a.headers['x-cache']])).toEqual([
      [200, 'self-1', undefined],
      [200, 'self-2', undefined],
    ]);
    expect(runs.count).toBe(2);
  });

  it('answers If-None-Match with 304 from the stored ETag, and other tags with the body', async () => {
    const { url, runs } = await start();
    const first = await request(url).get('/n/plain');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const notModified = await request(url).get('/n/plain').set('If-None-Match', etag);
    expect([notModified.status, notModified.text, notModified.headers.etag, notModified.headers['x-cache']]).toEqual([304, '', etag, 'HIT']);
    const weak = await request(url).get('/n/plain').set('If-None-Match', `"other", W/${etag}`);
    expect(weak.status).toBe(304);
    const other = await request(url).get('/n/plain').set('If-None-Match', '"something-else"');
    expect([other.status, other.body]).toEqual([200, { run: 1 }]);
    expect(runs.count).toBe(1);
  });

  it('answers HEAD from the GET entry without a body, and a cold HEAD fills it', async () => {
    const { url, runs } = await start();
    await request(url).get('/n/plain');
    const head = await request(url).head('/n/plain');
    expect([head.status, head.headers['x-cache'], head.text ?? '', runs.count]).toEqual([200, 'HIT', '', 1]);
    const coldHead = await request(url).head('/n/created');
    expect(coldHead.headers['x-cache']).toBe('MISS');
    const get = await request(url).get('/n/created');
    expect([get.headers['x-cache'], get.body, runs.count]).toEqual(['HIT', { run: 2 }, 2]);
  });

  it('replays binary bodies byte-identical to what the route sends uncached', async () => {
    const { url, runs } = await start();
    const miss = await request(url).get('/n/binary').buffer(true).parse(rawBody);
    const hit = await request(url).get('/n/binary').buffer(true).parse(rawBody);
    expect([miss.headers['x-cache'], hit.headers['x-cache'], runs.count]).toEqual(['MISS', 'HIT', 1]);
    expect(Buffer.compare(hit.body as Buffer, miss.body as Buffer)).toBe(0);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    // Fastify sends a Buffer as it is; Nest's Express adapter serializes it as JSON (cached or not).
    const expected = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    if (adapter === 'fastify') expect(Buffer.compare(hit.body as Buffer, expected)).toBe(0);
    else expect(JSON.parse((hit.body as Buffer).toString('utf8'))).toEqual({ type: 'Buffer', data: [...expected] });
  });
});
