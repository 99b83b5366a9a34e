import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Controller, Get, Inject, Param, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import request from 'supertest';
import {
  CacheStack,
  InjectCacheHealthIndicator,
  InvalidOptionError,
  LayerCacheHealthIndicator,
  LayerCacheModule,
  MemoryLayer,
} from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: LayerCacheHealthIndicator,
    @InjectCacheHealthIndicator('sessions') private readonly sessions: LayerCacheHealthIndicator,
  ) {}

  /** Liveness-style: a degraded cache is reported, the check passes. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache'), () => this.sessions.isHealthy('sessions')]);
  }

  /** Readiness that fails while the cache is degraded. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.cache.isHealthy('cache', { whenDegraded: 'down', timeout: '300ms' })]);
  }

  /** Terminus 12's own degraded status. */
  @Get('degraded')
  @HealthCheck()
  degraded() {
    return this.health.check([() => this.cache.isHealthy('cache', { whenDegraded: 'degraded' })]);
  }
}

@Controller('items')
class ItemsController {
  loads = 0;
  constructor(@Inject(CacheStack) private readonly cache: CacheStack) {}

  @Get(':id')
  async item(@Param('id') id: string): Promise<{ id: string; load: number }> {
    return (await this.cache.get(`item:${id}`, () => ({ id, load: ++this.loads }))) as { id: string; load: number };
  }
}

/** The installed @nestjs/terminus major version (12 has a `degraded` status of its own, 11 does not). */
const TERMINUS_MAJOR = Number((JSON.parse(readFileSync('node_modules/@nestjs/terminus/package.json', 'utf8')) as { version: string }).version.split('.')[0]);

describe.each(ADAPTERS)('LayerCacheHealthIndicator in a Terminus app, on %s', (adapter) => {
  let server: RedisServerHandle;
  let app: INestApplication;
  beforeAll(async () => {
    server = await startRedisServer();
    app = await startApp(
      {
        imports: [
          TerminusModule.forRoot({ logger: false }),
          LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], redis: server.url, redisLayer: { prefix: `e2e:${randomUUID()}:` }, logger: silentLogger }),
          LayerCacheModule.forRoot({ name: 'sessions', layers: [() => new MemoryLayer()], logger: silentLogger }),
        ],
        controllers: [HealthController, ItemsController],
      },
      adapter,
    );
  });
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('healthy: each layer pinged with its latency, the bus subscribed; the named stack has its own indicator', async () => {
    const { body } = await request(app.getHttpServer()).get('/health').expect(200);
    expect(body.status).toBe('ok');
    expect(body.details.cache).toMatchObject({
      status: 'up',
      state: 'up',
      stack: 'default',
      layers: [
        { name: 'memory', shared: false, status: 'up', ping: 'get', backoff: false },
        { name: 'redis', shared: true, status: 'up', ping: 'probe', backoff: false },
      ],
      bus: { subscription: 'subscribed' },
    });
    expect(body.details.cache.problems).toBeUndefined();
    for (const layer of body.details.cache.layers) expect(typeof layer.latencyMs).toBe('number');
    expect(body.details.sessions).toMatchObject({ status: 'up', state: 'up', stack: 'sessions', layers: [{ name: 'memory', status: 'up' }] });
    expect(body.details.sessions.bus).toBeUndefined();
    await request(app.getHttpServer()).get('/health/ready').expect(200);
  });

  it('Redis down: degraded with details, the app still serves cached routes; readiness fails when asked', async () => {
    expect((await request(app.getHttpServer()).get('/items/a').expect(200)).body).toEqual({ id: 'a', load: 1 });
    await server.stop();
    try {
      const { body } = await request(app.getHttpServer()).get('/health').expect(200);
      expect(body.status).toBe('ok');
      expect(body.details.cache).toMatchObject({ status: 'up', state: 'degraded', bus: { subscription: 'interrupted' } });
      expect(body.details.cache.layers[0]).toMatchObject({ name: 'memory', status: 'up' });
      expect(body.details.cache.layers[1]).toMatchObject({ name: 'redis', status: 'down' });
      expect(body.details.cache.layers[1].error).toEqual(expect.any(String));
      expect(body.details.cache.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^layer "redis" is down/), expect.stringMatching(/invalidation bus is interrupted/)]));

      // The app still serves: the cached route from L1, a new one through its loader.
      expect((await request(app.getHttpServer()).get('/items/a').expect(200)).body).toEqual({ id: 'a', load: 1 });
      expect((await request(app.getHttpServer()).get('/items/b').expect(200)).body).toEqual({ id: 'b', load: 2 });

      const ready = await request(app.getHttpServer()).get('/health/ready').expect(503);
      expect(ready.body.status).toBe('error');
      expect(ready.body.error.cache).toMatchObject({ status: 'down', state: 'degraded' });

      const degraded = await request(app.getHttpServer()).get('/health/degraded').expect(200);
      if (TERMINUS_MAJOR >= 12) {
        expect(degraded.body.status).toBe('degraded');
        expect(degraded.body.details.cache).toMatchObject({ status: 'degraded', state: 'degraded' });
      } else {
        expect(degraded.body.status).toBe('ok'); // as documented: Terminus 11 ignores an indicator whose status is degraded
        expect(degraded.body.details.cache).toBeUndefined();
      }
    } finally {
      await server.restart();
    }
    // Back: healthy again once the bus has resubscribed and the layer answers.
    const deadline = Date.now() + 10_000;
    let body: { details: { cache: { state: string } } };
    do {
      body = (await request(app.getHttpServer()).get('/health')).body;
      if (body.details.cache.state === 'up') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < deadline);
    expect(body.details.cache.state).toBe('up');
    await request(app.getHttpServer()).get('/health/ready').expect(200);
  });

  it('bad options of isHealthy are an InvalidOptionError naming them', async () => {
    const indicator = app.get(LayerCacheHealthIndicator);
    await expect(indicator.isHealthy('cache', { whenDegraded: 'fail' as never })).rejects.toThrow(InvalidOptionError);
    await expect(indicator.isHealthy('cache', { whenDegraded: 'fail' as never })).rejects.toThrow(/whenDegraded/);
    await expect(indicator.isHealthy('cache', { failWhenDegraded: true } as never)).rejects.toThrow(/options\.failWhenDegraded/);
    await expect(indicator.isHealthy('cache', { timeout: -1 })).rejects.toThrow(/timeout/);
  });
});

describe('LayerCacheHealthIndicator after close', () => {
  it('a closed stack is down whatever whenDegraded says', async () => {
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer()], logger: silentLogger })] });
    const indicator = app.get(LayerCacheHealthIndicator);
    expect(await indicator.isHealthy('cache')).toMatchObject({ cache: { status: 'up', state: 'up' } });
    await app.close();
    expect(await indicator.isHealthy('cache')).toMatchObject({ cache: { status: 'down', state: 'down', problems: ['the stack is closed'] } });
  });
});
