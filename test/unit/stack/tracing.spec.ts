/**
 * OpenTelemetry spans of a stack (`tracing`), recorded by the real SDK (BasicTracerProvider, InMemorySpanExporter,
 * the async-hooks context manager): which spans a miss, a refresh and a shared layer's commands make, their
 * parents under the caller's active span, their attributes and error statuses, and that nothing is recorded
 * without the option.
 */
import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { InvalidOptionError } from '../../../lib/core/errors.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import type { CacheStackOptions } from '../../../lib/stack/cache-stack.options.js';
import { onlySpan, parentId, spansNamed, useTracing } from '../../support/otel.js';
import { buildStack, buildTwoLayerStack } from '../../support/stack-builder.js';

const otel = useTracing();
const SWR = { ttl: 10, staleWhileRevalidate: 60 };

/** Runs `work` inside an active span named `outer` of `tracer`, ended when the work settles. */
function underSpan<T>(tracer: Tracer, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('outer', async (span) => {
    try {
      return await work();
    } finally {
      span.end();
    }
  });
}

function traced(options: CacheStackOptions['tracing'] = { tracer: otel.tracer }) {
  return buildTwoLayerStack({ tracing: options });
}

describe('tracing (OpenTelemetry spans)', () => {
  it('a miss under an active span: a load span child of it, the loader\'s spans and the store children of the load', async () => {
    const { stack } = traced();
    const value = await underSpan(otel.tracer, () =>
      stack.get('k', () => otel.tracer.startActiveSpan('db.query', async (span) => (span.end(), 'v'))),
    );
    expect(value).toBe('v');
    const outer = onlySpan(otel.exporter, 'outer');
    const load = onlySpan(otel.exporter, 'layercache.load');
    expect(parentId(load)).toBe(outer.spanContext().spanId);
    expect(load.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(parentId(onlySpan(otel.exporter, 'db.query'))).toBe(load.spanContext().spanId);
    expect(load.attributes).toEqual({ 'cache.stack': 'default', 'cache.operation': 'load', 'cache.background': false, 'cache.stale': false });
    expect(load.status.code).toBe(SpanStatusCode.UNSET);
    // The shared layer (ChaosLayer "l2"): its read is the caller's, its write the load's.
    const get = onlySpan(otel.exporter, 'layercache.l2.get');
    expect(parentId(get)).toBe(outer.spanContext().spanId);
    expect(get.attributes).toEqual({ 'cache.stack': 'default', 'cache.layer': 'l2', 'cache.operation': 'get', 'cache.hit': false });
    expect(parentId(onlySpan(otel.exporter, 'layercache.l2.set'))).toBe(load.spanContext().spanId);
  });

  it('an L1 hit records no span; an L2 hit records the layer read with cache.hit true and no load', async () => {
    const { stack, l1 } = traced();
    await stack.set('k', 'v');
    otel.exporter.reset();
    expect(await stack.get('k', () => 'never')).toBe('v');
    expect(otel.exporter.getFinishedSpans()).toEqual([]);
    await l1.delete(['k']);
    expect(await stack.get('k', () => 'never')).toBe('v');
    expect(onlySpan(otel.exporter, 'layercache.l2.get').attributes['cache.hit']).toBe(true);
    expect(spansNamed(otel.exporter, 'layercache.load')).toEqual([]);
  });

  it('a failing loader: the load span has ERROR status and the exception; every caller of the flight shares one span', async () => {
    const { stack } = traced();
    const boom = () => Promise.reject(new Error('source down'));
    const results = await Promise.allSettled([stack.get('k', boom), stack.get('k', boom)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const load = onlySpan(otel.exporter, 'layercache.load');
    expect(load.status).toEqual({ code: SpanStatusCode.ERROR, message: 'source down' });
    expect(load.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([['exception', 'source down']]);
  });

  it('a loader timeout is an ERROR load span too', async () => {
    const { stack, clock } = traced();
    const read = stack.get('k', () => new Promise<string>(() => undefined), { loaderTimeout: 1 });
    const settled = read.catch((error: unknown) => error);
    await clock.advance(1_000);
    expect(await settled).toMatchObject({ name: 'LoaderTimeoutError' });
    expect(onlySpan(otel.exporter, 'layercache.load').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a background refresh: a refresh span child of the stale read\'s span, its load (background) a child of it', async () => {
    const { stack, clock } = traced();
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    otel.exporter.reset();
    expect(await underSpan(otel.tracer, () => stack.get('k', () => 'new', SWR))).toBe('old');
    await stack.idle();
    const outer = onlySpan(otel.exporter, 'outer');
    const refresh = onlySpan(otel.exporter, 'layercache.refresh');
    const load = onlySpan(otel.exporter, 'layercache.load');
    expect(parentId(refresh)).toBe(outer.spanContext().spanId);
    expect(parentId(load)).toBe(refresh.spanContext().spanId);
    expect(refresh.attributes).toMatchObject({ 'cache.operation': 'refresh', 'cache.background': true, 'cache.stale': true, 'cache.refresh.landed': false });
    expect(load.attributes).toMatchObject({ 'cache.background': true, 'cache.stale': true });
    expect(await stack.get('k')).toBe('new');
  });

  it('a failing refresh: ERROR on the refresh span and its load; the stale value is still served', async () => {
    const { stack, clock } = traced();
    await stack.set('k', 'old', SWR);
    await clock.advance(11_000);
    otel.exporter.reset();
    expect(await stack.get('k', () => Promise.reject(new Error('nope')), SWR)).toBe('old');
    await stack.idle();
    expect(onlySpan(otel.exporter, 'layercache.refresh').status).toEqual({ code: SpanStatusCode.ERROR, message: 'nope' });
    expect(onlySpan(otel.exporter, 'layercache.load').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a failing shared layer: its command span is ERROR (the failure, then the back-off skip); the caller gets its value', async () => {
    const { stack, l2 } = traced();
    l2.fail(new Error('l2 down'));
    expect(await stack.get('a', () => 'va')).toBe('va');
    expect(await stack.get('b', () => 'vb')).toBe('vb');
    const gets = spansNamed(otel.exporter, 'layercache.l2.get');
    expect(gets.map((span) => span.status)).toEqual([
      { code: SpanStatusCode.ERROR, message: 'l2 down' },
      { code: SpanStatusCode.ERROR, message: expect.stringContaining('l2') as unknown as string },
    ]);
    expect(spansNamed(otel.exporter, 'layercache.load').map((span) => span.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
  });

  it('a namespace and the key attribute: none by default, hashed or raw on request, never in span names', async () => {
    const plain = traced().stack.namespace('users');
    await plain.get('alice@example.com', () => 1);
    const load = onlySpan(otel.exporter, 'layercache.load');
    expect(load.attributes['cache.namespace']).toBe('users');
    expect(load.attributes).not.toHaveProperty('cache.key');
    otel.exporter.reset();
    await traced({ tracer: otel.tracer, keys: 'hashed', name: 'accounts' }).stack.namespace('a').namespace('b').get('alice@example.com', () => 1);
    const hashed = onlySpan(otel.exporter, 'layercache.load');
    expect(hashed.attributes).toMatchObject({ 'cache.stack': 'accounts', 'cache.namespace': 'a/b', 'cache.key': 'sha256:ff8d9819fc0e12bf' });
    otel.exporter.reset();
    await traced({ tracer: otel.tracer, keys: 'raw' }).stack.get('alice@example.com', () => 1);
    expect(onlySpan(otel.exporter, 'layercache.load').attributes['cache.key']).toBe('alice@example.com');
    expect(otel.exporter.getFinishedSpans().map((span) => span.name).filter((name) => name.includes('alice'))).toEqual([]);
  });

  it('tracing: true uses the global provider of @opentelemetry/api', async () => {
    const { stack } = traced(true);
    await underSpan(trace.getTracer('app'), () => stack.get('k', () => 'v'));
    expect(parentId(onlySpan(otel.exporter, 'layercache.load'))).toBe(onlySpan(otel.exporter, 'outer').spanContext().spanId);
    expect(onlySpan(otel.exporter, 'layercache.load').instrumentationScope.name).toBe('nestjs-layercache');
  });

  it('without tracing (absent or false), nothing is recorded, though a provider is registered', async () => {
    for (const options of [{}, { tracing: false }] satisfies CacheStackOptions[]) {
      const { stack, clock, l2 } = buildTwoLayerStack(options);
      await underSpan(otel.tracer, () => stack.get('k', () => 'v', SWR));
      await clock.advance(11_000);
      await stack.get('k', () => 'w', SWR);
      await stack.idle();
      l2.fail();
      await stack.get('other', () => Promise.reject(new Error('x'))).catch(() => undefined);
    }
    expect(otel.exporter.getFinishedSpans().map((span) => span.name)).toEqual(['outer', 'outer']);
  });

  it('a tracer that throws does not fail the cache call', async () => {
    const broken = { startActiveSpan: () => { throw new Error('tracer bug'); } };
    const { stack } = buildStack([new MemoryLayer()], { tracing: { tracer: broken } });
    expect(await stack.get('k', () => 'v')).toBe('v');
    expect(await stack.get('k')).toBe('v');
  });

  it('rejects bad tracing options with an InvalidOptionError naming the option', () => {
    const cases: [unknown, string][] = [
      ['yes', 'tracing'],
      [null, 'tracing'],
      [{ tracer: otel.tracer, sampler: 1 }, 'tracing.sampler'],
      [{ tracer: {} }, 'tracing.tracer'],
      [{ tracer: otel.tracer, name: '' }, 'tracing.name'],
      [{ tracer: otel.tracer, keys: 'all' }, 'tracing.keys'],
    ];
    for (const [tracing, option] of cases) {
      let thrown: unknown;
      try {
        buildStack([new MemoryLayer()], { tracing: tracing as CacheStackOptions['tracing'] });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(option);
    }
  });

  it('an OpenTelemetry Tracer fits the tracer option as a type', () => {
    const options: CacheStackOptions = { tracing: { tracer: trace.getTracer('typed') } };
    expect(options.tracing).toBeDefined();
  });
});
