import 'reflect-metadata';
import { Controller, Get, Header, Inject, Injectable, Req, UseGuards, UseInterceptors, type CanActivate, type ExecutionContext } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor, type HttpCacheRequest } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { recordHttpWarnings, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

/**
 * Cookie-session apps: shared routes cached while ignoring named cookies (`ignoreCookies`), per route and app-wide;
 * responses setting a cookie never stored; handlers that can read cookies keep them; identities stay private.
 * The session cookie is what express-session sends (`connect.sid=s%3A<id>.<signature>`); the guard plays its part
 * of creating a session (a `Set-Cookie`) for a request that has none, as `saveUninitialized: true` does.
 */

const SESSION = 'connect.sid=s%3AAbC123.sIgNaTuRe';
const ANALYTICS = '_ga=GA1.2.3.4';

@Injectable()
class Runs {
  count = 0;
}

/** Sets a session cookie on a request without one, as a session middleware creating sessions would. */
@Injectable()
class SessionStartGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (!(req.headers.cookie ?? '').includes('connect.sid=')) {
      context.switchToHttp().getResponse<{ header(name: string, value: string): unknown }>().header('Set-Cookie', 'connect.sid=s%3Anew.sig; Path=/; HttpOnly');
    }
    return true;
  }
}

const sessionOf = (req: HttpCacheRequest) => /connect\.sid=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];

@UseInterceptors(LayerCacheInterceptor)
@Controller('c')
class CookiesController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('news')
  @HttpCache({ ttl: 30, ignoreCookies: ['connect.sid', '_ga'] })
  news() {
    return { runs: ++this.runs.count };
  }

  @Get('catalog')
  @HttpCache({ ttl: 30, ignoreCookies: true, shared: true, cacheControl: true })
  catalog() {
    return { runs: ++this.runs.count };
  }

  @Get('plain')
  @HttpCache({ ttl: 30 })
  plain() {
    return { runs: ++this.runs.count };
  }

  @Get('sets-cookie')
  @Header('Set-Cookie', 'seen=1')
  @HttpCache({ ttl: 30, ignoreCookies: true })
  setsCookie() {
    return { runs: ++this.runs.count };
  }

  @Get('session-start')
  @UseGuards(SessionStartGuard)
  @HttpCache({ ttl: 30, ignoreCookies: ['connect.sid'] })
  sessionStart() {
    return { runs: ++this.runs.count };
  }

  @Get('reads-request')
  @HttpCache({ ttl: 30, ignoreCookies: ['connect.sid'] })
  readsRequest(@Req() req: { headers: Record<string, string | undefined> }) {
    return { cookie: req.headers.cookie ?? null, runs: ++this.runs.count };
  }

  @Get('mine')
  @HttpCache({ ttl: 30, identity: sessionOf, cacheControl: true })
  mine() {
    return { runs: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('cookie-session apps (%s)', (adapter) => {
  async function start(http?: Parameters<typeof startHttpApp>[1]['http']) {
    const started = await startHttpApp(adapter, { controllers: [CookiesController], providers: [Runs, SessionStartGuard], clock: new FakeClock(), ...(http && { http }) });
    return { ...started, runs: started.app.get(Runs) };
  }
  const get = (url: string, path: string, cookie?: string) => (cookie === undefined ? request(url).get(path) : request(url).get(path).set('Cookie', cookie));

  it('caches requests whose only cookies are ignored as cookieless ones, and bypasses any other cookie or Authorization', async () => {
    const { url, runs } = await start();
    const answers = [
      await get(url, '/c/news'),
      await get(url, '/c/news', SESSION),
      await get(url, '/c/news', `${SESSION}; ${ANALYTICS}`),
      await get(url, '/c/news', `${ANALYTICS};${SESSION}`),
    ];
    expect(answers.map((r) => [r.headers['x-cache'], r.body.runs])).toEqual([
      ['MISS', 1],
      ['HIT', 1],
      ['HIT', 1],
      ['HIT', 1],
    ]);
    const other = await get(url, '/c/news', `${SESSION}; theme=dark`);
    const cased = await get(url, '/c/news', 'Connect.sid=x'); // cookie names are case-sensitive
    const auth = await get(url, '/c/news', SESSION).set('Authorization', 'Bearer alice');
    expect([other.headers['x-cache'], cased.headers['x-cache'], auth.headers['x-cache'], runs.count]).toEqual(['BYPASS', 'BYPASS', 'BYPASS', 4]);
  });

  it('ignores every cookie on a route declaring ignoreCookies: true, and keeps bypassing them elsewhere', async () => {
    const { url, runs } = await start();
    const catalog = [await get(url, '/c/catalog', 'a=1'), await get(url, '/c/catalog', 'b=2; c=3')];
    expect(catalog.map((r) => [r.headers['x-cache'], r.headers['cache-control']])).toEqual([
      ['MISS', 'public, max-age=30'],
      ['HIT', 'public, max-age=30'],
    ]);
    const plain = [await get(url, '/c/plain'), await get(url, '/c/plain', SESSION)];
    expect([...plain.map((r) => r.headers['x-cache']), runs.count]).toEqual(['MISS', 'BYPASS', 3]);
  });

  it('never stores a response setting a cookie, from the handler or from a session guard', async () => {
    const { url, runs, stack } = await start();
    const sets = [await get(url, '/c/sets-cookie', SESSION), await get(url, '/c/sets-cookie')];
    expect(sets.map((r) => r.headers['x-cache'])).toEqual(['BYPASS', 'BYPASS']);
    // The first visit gets a session (Set-Cookie): not stored; visits carrying the session are cached.
    const first = await get(url, '/c/session-start');
    expect([first.headers['x-cache'], String(first.headers['set-cookie'])]).toEqual(['BYPASS', expect.stringContaining('connect.sid=s%3Anew.sig')]);
    const later = [await get(url, '/c/session-start', SESSION), await get(url, '/c/session-start', 'connect.sid=s%3Aother.sig')];
    expect(later.map((r) => [r.headers['x-cache'], r.headers['set-cookie']])).toEqual([
      ['MISS', undefined],
      ['HIT', undefined],
    ]);
    expect(runs.count).toBe(4);
    expect(stack.getMetrics().stack.hits).toBeGreaterThan(0);
  });

  it('does not apply ignoreCookies to a handler that can read the cookies (@Req()): one warning, requests with cookies bypass', async () => {
    const warnings = recordHttpWarnings();
    const { url, runs } = await start();
    const answers = [await get(url, '/c/reads-request'), await get(url, '/c/reads-request'), await get(url, '/c/reads-request', SESSION), await get(url, '/c/reads-request', SESSION)];
    expect(answers.map((r) => [r.headers['x-cache'], r.body.cookie])).toEqual([
      ['MISS', null],
      ['HIT', null],
      ['BYPASS', SESSION],
      ['BYPASS', SESSION],
    ]);
    expect(runs.count).toBe(3);
    expect(warnings.filter((line) => line.includes('CookiesController.readsRequest takes @Req()'))).toHaveLength(1);
  });

  it('applies the app-wide ignoreCookies of forRoot({ http }) to routes without their own list', async () => {
    const { url, runs } = await start({ ignoreCookies: ['_ga'] });
    const plain = [await get(url, '/c/plain', ANALYTICS), await get(url, '/c/plain'), await get(url, '/c/plain', SESSION)];
    expect(plain.map((r) => r.headers['x-cache'])).toEqual(['MISS', 'HIT', 'BYPASS']);
    // A route's own list replaces the app-wide one.
    const news = [await get(url, '/c/news', SESSION), await get(url, '/c/news', ANALYTICS)];
    expect(news.map((r) => r.headers['x-cache'])).toEqual(['MISS', 'HIT']);
    expect(runs.count).toBe(3);
  });

  it('keeps per-session responses apart and private on a route whose identity is the session', async () => {
    const { url } = await start({ ignoreCookies: true });
    const answers = [await get(url, '/c/mine', SESSION), await get(url, '/c/mine', 'connect.sid=s%3Aother.sig'), await get(url, '/c/mine', SESSION)];
    expect(answers.map((r) => [r.headers['x-cache'], r.body.runs, r.headers['cache-control']])).toEqual([
      ['MISS', 1, 'private, max-age=30'],
      ['MISS', 2, 'private, max-age=30'],
      ['HIT', 1, 'private, max-age=30'],
    ]);
    expect((await get(url, '/c/mine')).headers['x-cache']).toBe('BYPASS'); // no session, no identity
  });
});
