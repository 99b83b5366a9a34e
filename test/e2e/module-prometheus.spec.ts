import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Header, Inject, Param } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Registry, register } from 'prom-client';
import request from 'supertest';
import { CacheStack, InvalidOptionError, LayerCacheModule, MemoryLayer } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const REGISTRY = Symbol('registry');

@Controller()
class AppController {
  loads = 0;
  constructor(
    @Inject(CacheStack) private readonly cache: CacheStack,
    @Inject(REGISTRY) private readonly registry: Registry,
  ) {}

  @Get('greetings/:name')
  async greet(@Param('name') name: string): Promise<{ text: string }> {
    return (await this.cache.get(`greeting:${name}`, () => ({ text: `hello ${name} (load ${++this.loads})` }))) as { text: string };
  }

  /** The app's own /metrics endpoint, as @willsoto/nestjs-prometheus would expose it. */
  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The value of the series `name{labels...}` in an exposition text (labels in any order), or undefined. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('LayerCacheModule metrics: { prometheus }', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe.each(ADAPTERS)('on %s', (adapter) => {
    let app: INestApplication | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('exposes layercache_* counters and real histograms on the app\'s /metrics after real cache traffic', async () => {
      const registry = new Registry();
      app = await startApp(
        {
          imports: [
            LayerCacheModule.forRoot({
              layers: [() => new MemoryLayer({ name: 'memory', ttl: 60 })],
              redis: server.url,
              redisLayer: { prefix: `prom:${randomUUID()}:` },
              ttl: 60,
              distributed: false, // no single-flight re-read: one Redis GET per miss
              metrics: { prometheus: { registry } },
            }),
          ],
          controllers: [AppController],
          providers: [{ provide: REGISTRY, useValue: registry }],
        },
        adapter,
      );
      for (let i = 0; i < 3; i++) await request(app.getHttpServer()).get('/greetings/ada').expect(200);
      await app.get(CacheStack).idle();
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      const text = res.text;
      expect(series(text, 'layercache_hits_total', { stack: 'default' })).toBe(2);
      expect(series(text, 'layercache_misses_total', { stack: 'default' })).toBe(1);
      expect(series(text, 'layercache_loads_total', { stack: 'default' })).toBe(1);
      expect(series(text, 'layercache_layer_set_attempts_total', { stack: 'default', layer: 'redis' })).toBe(1);
      expect(series(text, 'layercache_layer_sets_total', { stack: 'default', layer: 'redis' })).toBe(1);
      expect(series(text, 'layercache_layer_misses_total', { stack: 'default', layer: 'redis' })).toBe(1);
      expect(text).toContain('# TYPE layercache_layer_operation_duration_seconds histogram');
      // One real Redis GET (the miss) and one SET, timed: cumulative buckets end at _count.
      const redisGet = { stack: 'default', layer: 'redis', operation: 'get' };
      expect(series(text, 'layercache_layer_operation_duration_seconds_count', redisGet)).toBe(1);
      expect(series(text, 'layercache_layer_operation_duration_seconds_bucket', { ...redisGet, le: '+Inf' })).toBe(1);
      expect(series(text, 'layercache_layer_operation_duration_seconds_bucket', { ...redisGet, le: '5' })).toBe(1);
      expect(series(text, 'layercache_layer_operation_duration_seconds_sum', redisGet)).toBeGreaterThan(0);
      expect(series(text, 'layercache_loader_duration_seconds_count', { stack: 'default' })).toBe(1);
      expect(series(text, 'layercache_bus_lag_seconds_count', { stack: 'default' })).toBeUndefined(); // no bus: no series
      // No high-cardinality labels: never a key.
      expect(text).not.toContain('greeting');
      const labelNames = new Set([...text.matchAll(/(\w+)="/g)].map((m) => m[1]));
      expect([...labelNames].sort()).toEqual(['layer', 'le', 'operation', 'stack']);
    });

    it('prometheus: true registers in prom-client\'s default registry, and unregisters when the app closes', async () => {
      app = await startApp(
        {
          imports: [LayerCacheModule.forRoot({ layers: [() => new MemoryLayer({ name: 'memory' })], metrics: { prometheus: true } })],
          controllers: [AppController],
          providers: [{ provide: REGISTRY, useValue: register }],
        },
        adapter,
      );
      await request(app.getHttpServer()).get('/greetings/bob').expect(200);
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(series(res.text, 'layercache_misses_total', { stack: 'default' })).toBe(1);
      await app.close();
      app = undefined;
      expect(register.getSingleMetric('layercache_misses_total')).toBeUndefined();
    });
  });

  it('rejects unknown keys and bad values with an InvalidOptionError naming the option', () => {
    const bad = (metrics: unknown) => () => LayerCacheModule.forRoot({ metrics: metrics as never });
    expect(bad({ prometheus: true, statsd: true })).toThrow(InvalidOptionError);
    expect(bad({ prometheus: true, statsd: true })).toThrow(/metrics\.statsd/);
    expect(bad({ prometheus: { registery: new Registry() } })).toThrow(/metrics\.prometheus\.registery/);
    expect(bad({ prometheus: { prefix: '9bad-' } })).toThrow(/metrics\.prometheus\.prefix/);
    expect(bad({ prometheus: { registry: {} } })).toThrow(/metrics\.prometheus\.registry/);
    expect(bad({ prometheus: 'yes' })).toThrow(/metrics\.prometheus/);
  });
});
