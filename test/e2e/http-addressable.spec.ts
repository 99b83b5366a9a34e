import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Controller, Get, Head, Inject, Injectable, Logger, Param, Put, Query } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import request from 'supertest';
import { CacheEvict, HttpCache, InvalidOptionError, LayerCacheInterceptor, LayerCacheModule, type HttpCacheRequest } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

/** Declared route keys (`@HttpCache({ key })`) reached by the stack's own calls, and ttls computed per request. */

@Injectable()
class Store {
  runs = 0;
  names: Record<string, string> = { '1': 'one', '2': 'two' };
}

const idOf = (req: HttpCacheRequest) => (req.params as { id?: string } | undefined)?.id;

@Controller('items')
class ItemsController {
  constructor(@Inject(Store) private readonly store: Store) {}

  @Get()
  @HttpCache({ key: 'items:all', ttl: 30, cacheControl: true })
  all() {
    this.store.runs++;
    return { names: { ...this.store.names }, runs: this.store.runs };
  }

  @Head('probe')
  @Get('probe')
  @HttpCache({ key: 'items:probe', ttl: 30 })
  probe() {
    this.store.runs++;
    return { runs: this.store.runs };
  }

  @Get('by-query')
  @HttpCache({ key: (req) => ((req.query as { k?: string }).k === undefined ? undefined : `q:${(req.query as { k: string }).k}`), ttl: 30 })
  byQuery(@Query('k') k: string) {
    this.store.runs++;
    return { k, runs: this.store.runs };
  }

  @Get('constant/:id')
  @HttpCache({ key: 'constant', ttl: 30 })
  constant(@Param('id') id: string) {
    this.store.runs++;
    return { id };
  }

  @Get('prices/:id')
  @HttpCache({ key: (req) => `price:${idOf(req) ?? ''}`, ttl: (_req, body) => ((body as { final: boolean }).final ? '1h' : 10), cacheControl: true, shared: true })
  price(@Param('id') id: string) {
    this.store.runs++;
    return { id, final: id === 'final', runs: this.store.runs };
  }

  @Get('broken-ttl')
  @HttpCache({
    ttl: () => {
      throw new Error('no ttl today');
    },
  })
  brokenTtl() {
    this.store.runs++;
    return { runs: this.store.runs };
  }

  @Get(':id')
  @HttpCache({ key: (req) => `items:${idOf(req) ?? ''}`, ttl: 30 })
  one(@Param('id') id: string) {
    this.store.runs++;
    return { id, name: this.store.names[id], runs: this.store.runs };
  }

  @Put(':id')
  @CacheEvict({ keys: ['items:all', 'items:{0}'] })
  rename(@Param('id') id: string, @Query('name') name: string) {
    this.store.names[id] = name;
    return { id, name };
  }
}

describe.each(ADAPTERS)('declared route keys and per-request ttls (%s)', (adapter) => {
  async function start() {
    const clock = new FakeClock();
    const started = await startHttpApp(adapter, {
      controllers: [ItemsController],
      providers: [Store, LayerCacheInterceptor, { provide: APP_INTERCEPTOR, useExisting: LayerCacheInterceptor }],
      clock,
    });
    return { ...started, clock, store: started.app.get(Store), interceptor: started.app.get(LayerCacheInterceptor) };
  }

  it('stores a route under its declared key: GET, HEAD, any query string and Accept share it, and cache.delete drops it', async () => {
    const { url, stack, store } = await start();
    const first = await request(url).get('/items');
    const variants = [
      await request(url).get('/items?utm_source=mail'),
      await request(url).get('/items').set('Accept', 'text/html'),
      await request(url).get('/items').set('Accept-Language', 'fr'),
    ];
    expect([first.headers['x-cache'], ...variants.map((r) => r.headers['x-cache']), store.runs]).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 1]);
    expect(await stack.get('items:all')).toMatchObject({ type: 'stored', body: { runs: 1 } });
    expect(await stack.ttl('items:all')).toBe(30);
    expect(await stack.inspect('items:all')).toMatchObject({ state: 'fresh', layer: 'memory' });

    await stack.delete('items:all');
    expect(await stack.inspect('items:all')).toMatchObject({ state: 'absent' });
    const after = [await request(url).get('/items?utm_source=x'), await request(url).get('/items'), await request(url).get('/items').set('Accept', 'text/html')];
    expect(after.map((r) => [r.headers['x-cache'], r.body.runs])).toEqual([
      ['MISS', 2],
      ['HIT', 2],
      ['HIT', 2],
    ]);
  });

  it('answers HEAD from the GET entry of the declared key, and cache.delete drops both', async () => {
    const { url, stack } = await start();
    await request(url).get('/items/probe');
    expect((await request(url).head('/items/probe')).headers['x-cache']).toBe('HIT');
    await stack.delete('items:probe');
    expect((await request(url).head('/items/probe')).headers['x-cache']).toBe('MISS');
    expect((await request(url).get('/items/probe')).headers['x-cache']).toBe('HIT');
  });

  it('builds the key from the request with a function, and @CacheEvict({ keys }) on a mutation reaches it', async () => {
    const { url, stack, store } = await start();
    await request(url).get('/items');
    await request(url).get('/items/1');
    await request(url).get('/items/2');
    expect((await stack.inspect('items:1')).state).toBe('fresh');
    expect((await request(url).get('/items/1')).headers['x-cache']).toBe('HIT');
    await request(url).put('/items/1?name=uno');
    const [all, one, two] = [await request(url).get('/items'), await request(url).get('/items/1'), await request(url).get('/items/2')];
    expect([all.headers['x-cache'], all.body.names['1'], one.headers['x-cache'], one.body.name, two.headers['x-cache']]).toEqual(['MISS', 'uno', 'MISS', 'uno', 'HIT']);
    expect(store.runs).toBe(5);
  });

  it('bypasses a request whose key function gives no key', async () => {
    const { url, store, stack } = await start();
    const keyed = [await request(url).get('/items/by-query?k=a'), await request(url).get('/items/by-query?k=a&other=1')];
    const none = [await request(url).get('/items/by-query'), await request(url).get('/items/by-query')];
    expect([...keyed, ...none].map((r) => r.headers['x-cache'])).toEqual(['MISS', 'HIT', 'BYPASS', 'BYPASS']);
    expect([store.runs, await stack.ttl('q:a')]).toEqual([3, 30]);
  });

  it('refuses a constant key on a handler reading @Param: the route is not cached and the error names it', async () => {
    const errors: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => void errors.push(String(message)));
    try {
      const { url, store } = await start();
      const answers = [await request(url).get('/items/constant/1'), await request(url).get('/items/constant/2')];
      expect(answers.map((r) => [r.headers['x-cache'], r.body.id])).toEqual([
        ['BYPASS', '1'],
        ['BYPASS', '2'],
      ]);
      expect(store.runs).toBe(2);
      expect(errors.join('\n')).toMatch(/ItemsController\.constant\.key.*"constant" cannot describe @Param\(\)/);
    } finally {
      spy.mockRestore();
    }
  });

  it('computes the ttl per response: Cache-Control max-age and the entry expiry follow it', async () => {
    const { url, stack, clock, store } = await start();
    const draft = await request(url).get('/items/prices/draft');
    const final = await request(url).get('/items/prices/final');
    expect([draft.headers['cache-control'], final.headers['cache-control']]).toEqual(['public, max-age=10', 'public, max-age=3600']);
    expect([await stack.ttl('price:draft'), await stack.ttl('price:final')]).toEqual([10, 3600]);
    await clock.advance(4_000);
    const draftHit = await request(url).get('/items/prices/draft');
    expect([draftHit.headers['x-cache'], draftHit.headers['cache-control']]).toEqual(['HIT', 'public, max-age=6']);
    await clock.advance(7_000); // 11 s: the draft has expired, the final one has not
    const [draftAgain, finalAgain] = [await request(url).get('/items/prices/draft'), await request(url).get('/items/prices/final')];
    expect([draftAgain.headers['x-cache'], finalAgain.headers['x-cache'], finalAgain.headers['cache-control']]).toEqual(['MISS', 'HIT', 'public, max-age=3589']);
    expect(store.runs).toBe(3);
  });

  it('does not store a response whose ttl function throws, and counts it', async () => {
    const { url, store, interceptor } = await start();
    const warnings: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    try {
      const answers = [await request(url).get('/items/broken-ttl'), await request(url).get('/items/broken-ttl')];
      expect([...answers.map((r) => r.headers['x-cache']), store.runs]).toEqual(['BYPASS', 'BYPASS', 2]);
      expect(interceptor.getNotStoredCounts()).toEqual({ 'ttl-failed': 2 });
      expect(warnings.join('\n')).toMatch(/The ttl function of ItemsController\.brokenTtl failed.*no ttl today/);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('declared keys and per-request ttls: option checks', () => {
  it('refuses combinations one declared key cannot honour, and bad keys, naming the option', () => {
    expect(() => HttpCache({ key: 'a', vary: ['Accept-Language'] })).toThrow(/"@HttpCache.vary".*declared key names one entry/);
    expect(() => HttpCache({ key: () => 'a', identity: () => 'u' })).toThrow(/"@HttpCache.identity".*every user/);
    expect(() => HttpCache({ key: '' })).toThrow(/"@HttpCache.key".*empty/);
    expect(() => HttpCache({ key: 'a\nb' })).toThrow(/"@HttpCache.key".*control character/);
    expect(() => HttpCache({ key: 5 as never })).toThrow(/"@HttpCache.key".*now `identity`/);
    expect(() => HttpCache({ identity: 'user' as never })).toThrow(/"@HttpCache.identity"/);
    expect(() => HttpCache({ shared: true, identity: () => 'u' })).toThrow(/"@HttpCache.shared"/);
    expect(HttpCache({ key: 'items:all', ttl: (_req, body) => (body === null ? 1 : '1m') })).toBeInstanceOf(Function);
    expect(() => {
      @HttpCache({ key: 'one-for-all' })
      class Shared {}
      return Shared;
    }).toThrow(/"@HttpCache.key".*all its routes one entry/);
  });

  it('rejects unknown route and app-wide option names with the closest known one', () => {
    expect(() => HttpCache({ staleWhileRevalidte: 5 } as never)).toThrow(/"@HttpCache.staleWhileRevalidte".*did you mean "staleWhileRevalidate"/);
    expect(() => HttpCache({ perUserKey: () => 'u' } as never)).toThrow(/"@HttpCache.perUserKey".*identity: \(req\) => req.user.id/);
    expect(() => HttpCache({ ignoreCookie: ['sid'] } as never)).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ http: { ignoreCookie: ['sid'] } as never })).toThrow(/"http.ignoreCookie".*did you mean "ignoreCookies"/);
    expect(() => LayerCacheModule.forRoot({ http: { defaults: { tll: 5 } } as never })).toThrow(/"http.defaults.tll".*did you mean "ttl"/);
    expect(() => LayerCacheModule.forRoot({ http: { defaults: { key: 'x' } } as never })).toThrow(/"http.defaults.key".*per route/);
  });
});
