/**
 * OpenTelemetry spans of the Redis layer's commands against a real redis-server, recorded by the real SDK
 * (in-memory exporter): reads with their hit attribute, the load's write, tag and lock commands, deletes,
 * and ERROR spans when the server is gone.
 */
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { onlySpan, parentId, spansNamed, useTracing } from '../support/otel.js';
import { startRedisServer } from '../support/redis-server.js';
import { testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';

const otel = useTracing();

function underSpan<T>(tracer: Tracer, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('outer', async (span) => {
    try {
      return await work();
    } finally {
      span.end();
    }
  });
}

describe('tracing on a real Redis', () => {
  const clients: Redis[] = [];
  const stacks: CacheStack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  });

  /** One "process": its own L1 and connection, Redis under `prefix`, traced by the test's tracer. */
  function instance(prefix: string, options: CacheStackOptions = {}, client: Redis = testRedisClient()) {
    clients.push(client);
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
      logger: new RecordingLogger(),
      tracing: { tracer: otel.tracer, name: 'catalog' },
      ...options,
    });
    stacks.push(stack);
    return stack;
  }

  const names = () => otel.exporter.getFinishedSpans().map((span) => span.name);

  it('a miss with tags: the Redis read, the read of its tags versions and the load under the caller, the write under the load', async () => {
    const stack = instance(uniquePrefix('otel-miss'));
    expect(await underSpan(otel.tracer, () => stack.get('k', () => 'v', { tags: ['t'] }))).toBe('v');
    const outer = onlySpan(otel.exporter, 'outer');
    const load = onlySpan(otel.exporter, 'layercache.load');
    const get = onlySpan(otel.exporter, 'layercache.redis.get');
    expect(parentId(get)).toBe(outer.spanContext().spanId);
    expect(get.attributes).toEqual({ 'cache.stack': 'catalog', 'cache.layer': 'redis', 'cache.operation': 'get', 'cache.hit': false });
    expect(get.status.code).toBe(SpanStatusCode.UNSET);
    expect(parentId(load)).toBe(outer.spanContext().spanId);
    expect(parentId(onlySpan(otel.exporter, 'layercache.redis.fetch'))).toBe(load.spanContext().spanId);
    const set = onlySpan(otel.exporter, 'layercache.redis.set');
    expect(parentId(set)).toBe(load.spanContext().spanId);
    expect(set.attributes).toEqual({ 'cache.stack': 'catalog', 'cache.layer': 'redis', 'cache.operation': 'set' });
  });

  it('another instance reads the value from Redis (cache.hit true, no load), getMany counts hits, delete and tag invalidation are spans', async () => {
    const prefix = uniquePrefix('otel-hit');
    await instance(prefix).set('a', 1, { tags: ['t'] });
    const reader = instance(prefix);
    otel.exporter.reset();
    expect(await reader.get('a', () => 2)).toBe(1);
    expect(onlySpan(otel.exporter, 'layercache.redis.get').attributes['cache.hit']).toBe(true);
    expect(spansNamed(otel.exporter, 'layercache.load')).toEqual([]);
    expect(await instance(prefix).getMany(['a', 'missing'])).toEqual([1, undefined]);
    expect(onlySpan(otel.exporter, 'layercache.redis.getMany').attributes['cache.hits']).toBe(1);
    otel.exporter.reset();
    await reader.delete('a');
    await reader.invalidateByTag('t');
    expect(names()).toEqual(expect.arrayContaining(['layercache.redis.delete', 'layercache.redis.invalidate']));
  });

  it('a stale read: the refresh takes the Redis revalidation lock, refreshes in its span and releases the lock', async () => {
    const clock = new FakeClock();
    const stack = instance(uniquePrefix('otel-swr'), { clock });
    const SWR = { ttl: 10, staleWhileRevalidate: 60 };
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    otel.exporter.reset();
    expect(await underSpan(otel.tracer, () => stack.get('k', () => 'new', SWR))).toBe('old');
    await stack.idle();
    const outer = onlySpan(otel.exporter, 'outer');
    const refresh = onlySpan(otel.exporter, 'layercache.refresh');
    expect(parentId(refresh)).toBe(outer.spanContext().spanId);
    expect(parentId(onlySpan(otel.exporter, 'layercache.redis.lock-acquire'))).toBe(outer.spanContext().spanId);
    expect(parentId(onlySpan(otel.exporter, 'layercache.load'))).toBe(refresh.spanContext().spanId);
    expect(names()).toContain('layercache.redis.lock-release');
    expect(await stack.get('k')).toBe('new');
  });

  it('Redis gone: ERROR command spans, and the caller still gets the loaded value', async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    const stack = instance(uniquePrefix('otel-down'), { layerTimeout: '200ms' }, client);
    await stack.set('warm', 1);
    await server.stop();
    otel.exporter.reset();
    expect(await stack.get('k', () => 'v')).toBe('v');
    const get = onlySpan(otel.exporter, 'layercache.redis.get');
    expect(get.status.code).toBe(SpanStatusCode.ERROR);
    expect(get.events.map((event) => event.name)).toEqual(['exception']);
    expect(onlySpan(otel.exporter, 'layercache.load').status.code).toBe(SpanStatusCode.UNSET);
    await stack.close();
    clients.splice(clients.indexOf(client), 1);
    client.disconnect(); // it would keep reconnecting to the stopped server
  });
});
