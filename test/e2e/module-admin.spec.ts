/**
 * The module's `admin: { path, guard }` in real Nest apps on Express and Fastify: the page and the JSON are mounted
 * at the chosen path behind the guard (403 without credentials), the JSON carries the metrics, derived hit ratios and
 * a time series sampled on the stack's (fake) clock and bounded by `history`; named stacks mount their own admin;
 * the sampler's timer stops with the app; an app-wide interceptor never caches the stats; bad options fail `forRoot`.
 */
import 'reflect-metadata';
import { Injectable, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import request from 'supertest';
import {
  CacheStack,
  getCacheStackToken,
  InvalidOptionError,
  LayerCacheInterceptor,
  LayerCacheModule,
  MemoryLayer,
  type LayerCacheAdminStats,
} from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { FakeClock } from '../support/fake-clock.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';

/** Lets a request through when it carries `x-admin-token: secret`. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const headers = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers;
    return headers['x-admin-token'] === 'secret';
  }
}

const AUTH = { 'x-admin-token': 'secret' };

describe.each(ADAPTERS)('LayerCacheModule admin (%s)', (adapter) => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function start(clock: FakeClock, extra: object = {}): Promise<INestApplication> {
    const app = await startApp(
      {
        imports: [
          LayerCacheModule.forRoot({ layers: [() => new MemoryLayer({ name: 'l1' })], clock, logger: silentLogger, admin: { path: '/admin/cache/', guard: TokenGuard, interval: '10s', history: 3 } }),
          LayerCacheModule.forRoot({ name: 'sessions', layers: [() => new MemoryLayer()], clock, logger: silentLogger, admin: { path: 'admin/sessions', guard: new TokenGuard() } }),
        ],
        ...extra,
      },
      adapter,
    );
    apps.push(app);
    return app;
  }

  it('serves the page and the JSON behind the guard, with strict headers', async () => {
    const app = await start(new FakeClock());
    const server = app.getHttpServer();
    await request(server).get('/admin/cache').expect(403);
    await request(server).get('/admin/cache/stats').expect(403);
    await request(server).get('/admin/cache/stats').set('x-admin-token', 'wrong').expect(403);

    const page = await request(server).get('/admin/cache').set(AUTH).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('<svg id="chart"');
    expect(page.text).toContain('data-interval="10000"');
    expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|(src|href)="https?:/);

    const stats = await request(server).get('/admin/cache/stats').set(AUTH).expect(200);
    expect(stats.headers['content-type']).toMatch(/^application\/json/);
    expect(stats.headers['cache-control']).toBe('no-store');
    const body = stats.body as LayerCacheAdminStats;
    expect(body).toMatchObject({ name: 'default', intervalMs: 10_000, derived: { hitRatio: null, layers: { l1: { hitRatio: null } } }, series: [] });
    expect(body.metrics.stack.hits).toBe(0);
  });

  it('counts the traffic and samples a time series on the stack clock, bounded by history', async () => {
    const clock = new FakeClock();
    const app = await start(clock);
    const stack = app.get(CacheStack);
    const get = async (): Promise<LayerCacheAdminStats> => (await request(app.getHttpServer()).get('/admin/cache/stats').set(AUTH).expect(200)).body as LayerCacheAdminStats;

    await stack.get('a', () => 1); // miss + load
    await stack.get('a', () => 1); // hit
    await stack.get('a', () => 1); // hit
    await stack.get('b', () => { throw new Error('down'); }).catch(() => undefined); // miss + load error
    let stats = await get();
    expect(stats.metrics.stack).toMatchObject({ hits: 2, misses: 2, loads: 2, loadErrors: 1 });
    expect(stats.derived.hitRatio).toBe(0.5);
    expect(stats.series).toEqual([]);

    await clock.advance(10_000);
    stats = await get();
    expect(stats.series).toEqual([{ at: clock.now(), hitRatio: 0.5, reads: 4, loads: 2, loadErrors: 1, layerErrors: 0 }]);

    await stack.get('a'); // hit
    await clock.advance(10_000);
    await clock.advance(10_000); // no reads: no ratio
    await clock.advance(10_000);
    stats = await get();
    expect(stats.series.map((point) => [point.hitRatio, point.reads])).toEqual([[1, 1], [null, 0], [null, 0]]);
    expect(stats.now).toBe(clock.now());
  });

  it('mounts a named stack\'s admin of its own', async () => {
    const app = await start(new FakeClock());
    await app.get<CacheStack>(getCacheStackToken('sessions')).set('s', 1);
    await app.get<CacheStack>(getCacheStackToken('sessions')).get('s');
    await request(app.getHttpServer()).get('/admin/sessions/stats').expect(403);
    const stats = (await request(app.getHttpServer()).get('/admin/sessions/stats').set(AUTH).expect(200)).body as LayerCacheAdminStats;
    expect(stats.name).toBe('sessions');
    expect(stats.metrics.stack.hits).toBe(1);
    expect(((await request(app.getHttpServer()).get('/admin/cache/stats').set(AUTH)).body as LayerCacheAdminStats).metrics.stack.hits).toBe(0);
  });

  it('is never cached by an app-wide interceptor caching undecorated routes', async () => {
    const app = await startApp(
      {
        imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], logger: silentLogger, http: { cacheUndecoratedRoutes: true }, admin: { path: 'admin', guard: TokenGuard } })],
        providers: [{ provide: APP_INTERCEPTOR, useClass: LayerCacheInterceptor }],
      },
      adapter,
    );
    apps.push(app);
    const first = await request(app.getHttpServer()).get('/admin/stats').set(AUTH).expect(200);
    await app.get(CacheStack).get('x', () => 1);
    const second = await request(app.getHttpServer()).get('/admin/stats').set(AUTH).expect(200);
    expect(second.headers['x-cache']).toBe('BYPASS');
    expect((second.body as LayerCacheAdminStats).metrics.stack.misses).toBe((first.body as LayerCacheAdminStats).metrics.stack.misses + 1);
  });

  it('mounts from forRootAsync too (admin is static there)', async () => {
    const app = await startApp(
      { imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ layers: [new MemoryLayer()], logger: silentLogger }), admin: { path: 'async-admin', guard: TokenGuard } })] },
      adapter,
    );
    apps.push(app);
    await request(app.getHttpServer()).get('/async-admin').expect(403);
    const stats = (await request(app.getHttpServer()).get('/async-admin/stats').set(AUTH).expect(200)).body as LayerCacheAdminStats;
    expect(stats.metrics.layers).toHaveProperty('memory');
  });

  it('stops its sampling timer when the app closes', async () => {
    const clock = new FakeClock();
    const app = await start(clock);
    expect(clock.pendingTimers).toBeGreaterThanOrEqual(2);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('LayerCacheModule admin options', () => {
  const root = (admin: unknown) => () => LayerCacheModule.forRoot({ layers: [new MemoryLayer()], admin: admin as never });

  it('refuses admin routes without a guard, naming admin.guard', () => {
    expect(root({ path: '/admin' })).toThrow(InvalidOptionError);
    expect(root({ path: '/admin' })).toThrow(/"admin\.guard": is required/);
    expect(root({ path: '/admin', guard: {} })).toThrow(/"admin\.guard"/);
    expect(root({ path: '/admin', guard: class NotAGuard {} })).toThrow(/"admin\.guard"/);
    expect(() => LayerCacheModule.forRootAsync({ useFactory: () => ({}), admin: { path: '/admin' } as never })).toThrow(/"admin\.guard"/);
  });

  it('names a wrong path, interval, history or an unknown key', () => {
    expect(root({ path: '/', guard: TokenGuard })).toThrow(/"admin\.path"/);
    expect(root({ path: '/admin/:id', guard: TokenGuard })).toThrow(/"admin\.path"/);
    expect(root({ path: '/admin/*', guard: TokenGuard })).toThrow(/"admin\.path"/);
    expect(root({ path: '/a/../b', guard: TokenGuard })).toThrow(/"admin\.path"/);
    expect(root({ path: 42, guard: TokenGuard })).toThrow(/"admin\.path"/);
    expect(root({ path: '/a', guard: TokenGuard, interval: '10ms' })).toThrow(/"admin\.interval"/);
    expect(root({ path: '/a', guard: TokenGuard, history: 0 })).toThrow(/"admin\.history"/);
    expect(root({ path: '/a', guard: TokenGuard, guards: [] })).toThrow(/"admin\.guards": unknown option/);
    expect(root('yes')).toThrow(/"admin"/);
  });
});
