import 'reflect-metadata';
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  Put,
  Query,
  UseGuards,
  UseInterceptors,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import request from 'supertest';
import { CacheEvict, CacheStack, CacheTags, getCacheStackToken, HttpCache, LayerCacheInterceptor, SkipCache, type HttpCacheRequest } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Store {
  runs = 0;
  names: Record<string, string> = { '1': 'one', '2': 'two' };
}

/** Sets `req.user` from `Authorization: Bearer <name>`, as an auth guard would. */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: { id: string } }>();
    const match = /^Bearer (\w+)$/.exec(req.headers.authorization ?? '');
    if (match?.[1] !== undefined) req.user = { id: match[1] };
    return true;
  }
}

const userKey = (req: HttpCacheRequest) => (req.user as { id: string } | undefined)?.id;

@UseInterceptors(LayerCacheInterceptor)
@CacheTags('items')
@Controller('k')
class KeysController {
  constructor(@Inject(Store) private readonly store: Store) {}

  @Get('me')
  @UseGuards(BearerGuard)
  @HttpCache({ ttl: 30, identity: userKey })
  me() {
    this.store.runs++;
    return { runs: this.store.runs };
  }

  @Get('public')
  @HttpCache({ ttl: 30, shared: true, cacheControl: true })
  shared(@Query() query: Record<string, unknown>) {
    this.store.runs++;
    return { query, runs: this.store.runs };
  }

  @Get('lang')
  @HttpCache({ ttl: 30, vary: ['Accept-Language'], cacheControl: true })
  lang() {
    this.store.runs++;
    return { runs: this.store.runs };
  }

  @Get('items/:id')
  @CacheTags((args) => [`item:${String(args[0])}`])
  @HttpCache({ ttl: 30 })
  item(@Param('id') id: string) {
    this.store.runs++;
    return { id, name: this.store.names[id], runs: this.store.runs };
  }

  @Put('items/:id')
  @CacheEvict({ tags: (args) => [`item:${String(args[0])}`] })
  rename(@Param('id') id: string, @Query('name') name: string) {
    this.store.names[id] = name;
    return { id, name };
  }

  @Put('all')
  @CacheEvict({ tags: ['items'] })
  touchAll() {
    return { ok: true };
  }

  @Get('named')
  @HttpCache({ ttl: 30, stack: 'http' })
  named() {
    this.store.runs++;
    return { runs: this.store.runs };
  }
}

@Controller('g')
class GlobalController {
  constructor(@Inject(Store) private readonly store: Store) {}

  @Get('undecorated')
  undecorated() {
    return { runs: ++this.store.runs };
  }

  @Get('never')
  @SkipCache()
  never() {
    return { runs: ++this.store.runs };
  }
}

describe.each(ADAPTERS)('LayerCacheInterceptor keys and security (%s)', (adapter) => {
  async function start(global = false) {
    const clock = new FakeClock();
    const started = await startHttpApp(adapter, {
      controllers: global ? [GlobalController] : [KeysController],
      providers: [Store],
      clock,
      named: ['http'],
      global,
    });
    return { ...started, clock, store: started.app.get(Store) };
  }

  it('keeps two users apart on a per-user route, and marks their responses private', async () => {
    const { url, store } = await start();
    const as = (user: string) => request(url).get('/k/me').set('Authorization', `Bearer ${user}`);
    const answers = [await as('alice'), await as('bob'), await as('alice'), await as('bob')];
    expect(answers.map((a) => [a.headers['x-cache'], a.body.runs])).toEqual([
      ['MISS', 1],
      ['MISS', 2],
      ['HIT', 1],
      ['HIT', 2],
    ]);
    expect(answers.every((a) => a.headers['cache-control'] === 'private')).toBe(true);
    const anonymous = await request(url).get('/k/me');
    expect([anonymous.headers['x-cache'], store.runs]).toEqual(['BYPASS', 3]);
  });

  it('bypasses requests with Authorization or Cookie on routes without a per-user key', async () => {
    const { url, store } = await start();
    await request(url).get('/k/public');
    const withAuth = await request(url).get('/k/public').set('Authorization', 'Bearer mallory');
    const withCookie = await request(url).get('/k/public').set('Cookie', 'sid=1');
    expect([withAuth.headers['x-cache'], withCookie.headers['x-cache'], store.runs]).toEqual(['BYPASS', 'BYPASS', 3]);
    expect(withAuth.headers['cache-control']).toBeUndefined();
  });

  it('keys the canonical query (order-independent) and emits public Cache-Control with the freshness left', async () => {
    const { url, clock, store } = await start();
    const first = await request(url).get('/k/public?a=1&b=2');
    expect(first.headers['cache-control']).toBe('public, max-age=30');
    await clock.advance(10_000);
    const reordered = await request(url).get('/k/public?b=2&a=1');
    expect([reordered.headers['x-cache'], reordered.headers['cache-control'], store.runs]).toEqual(['HIT', 'public, max-age=20', 1]);
    const other = await request(url).get('/k/public?a=1&b=3');
    expect([other.headers['x-cache'], other.body.query]).toEqual(['MISS', { a: '1', b: '3' }]);
    const injected = await request(url).get('/k/public?a=1%26b%3D2');
    expect(injected.headers['x-cache']).toBe('MISS');
  });

  it('keys declared vary headers, sends Vary, and private Cache-Control on a non-shared route', async () => {
    const { url, store } = await start();
    const en = await request(url).get('/k/lang').set('Accept-Language', 'en');
    const fr = await request(url).get('/k/lang').set('Accept-Language', 'fr');
    const enAgain = await request(url).get('/k/lang').set('Accept-Language', 'en');
    expect([en.headers['x-cache'], fr.headers['x-cache'], enAgain.headers['x-cache'], enAgain.body.runs, store.runs]).toEqual(['MISS', 'MISS', 'HIT', 1, 2]);
    expect(enAgain.headers.vary).toBe('accept-language');
    expect(enAgain.headers['cache-control']).toBe('private, max-age=30');
  });

  it('invalidates route entries by tag through @CacheEvict on a mutating route (from params and static)', async () => {
    const { url, store } = await start();
    await request(url).get('/k/items/1');
    await request(url).get('/k/items/2');
    expect((await request(url).get('/k/items/1')).headers['x-cache']).toBe('HIT');
    await request(url).put('/k/items/1?name=uno');
    const one = await request(url).get('/k/items/1');
    const two = await request(url).get('/k/items/2');
    expect([one.headers['x-cache'], one.body.name, two.headers['x-cache']]).toEqual(['MISS', 'uno', 'HIT']);
    await request(url).put('/k/all');
    expect((await request(url).get('/k/items/2')).headers['x-cache']).toBe('MISS');
    expect(store.runs).toBe(4);
  });

  it('uses the named stack a route asks for', async () => {
    const { url, app } = await start();
    await request(url).get('/k/named');
    expect((await request(url).get('/k/named')).headers['x-cache']).toBe('HIT');
    const named = app.get<CacheStack>(getCacheStackToken('http'));
    await named.clear();
    expect((await request(url).get('/k/named')).headers['x-cache']).toBe('MISS');
  });

  it('as APP_INTERCEPTOR caches undecorated GET routes, and @SkipCache opts one out', async () => {
    const { url, store } = await start(true);
    const cached = [await request(url).get('/g/undecorated'), await request(url).get('/g/undecorated')];
    const never = [await request(url).get('/g/never'), await request(url).get('/g/never')];
    expect(cached.map((r) => r.headers['x-cache'])).toEqual(['MISS', 'HIT']);
    expect(never.map((r) => [r.headers['x-cache'], r.body.runs])).toEqual([
      ['BYPASS', 2],
      ['BYPASS', 3],
    ]);
    expect(store.runs).toBe(3);
  });
});
