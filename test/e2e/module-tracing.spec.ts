/**
 * `tracing` through `LayerCacheModule.forRoot`, in a real Nest app on Express and Fastify: a cached route's
 * handler runs inside the `layercache.load` span (its own spans are children of it), a HIT records no span, and
 * a bad `tracing` option fails `forRoot` with an InvalidOptionError naming it.
 */
import 'reflect-metadata';
import { Controller, Get, Param, UseInterceptors } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import request from 'supertest';
import { HttpCache, InvalidOptionError, LayerCacheInterceptor, LayerCacheModule } from '../../lib/index.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';
import { onlySpan, parentId, useTracing } from '../support/otel.js';

const otel = useTracing();

@UseInterceptors(LayerCacheInterceptor)
@Controller('t')
class TracedController {
  @Get(':id')
  @HttpCache({ ttl: 60 })
  read(@Param('id') id: string) {
    // The app's own instrumentation: a span of the handler's work, under whatever span is active.
    return trace.getTracer('app').startActiveSpan('handler.work', (span) => {
      span.end();
      return { id };
    });
  }
}

describe.each(ADAPTERS)('LayerCacheModule tracing (%s)', (adapter) => {
  it('a MISS runs the handler inside the layercache.load span; a HIT records nothing', async () => {
    const { url } = await startHttpApp(adapter, { controllers: [TracedController], stack: { tracing: { tracer: otel.tracer, name: 'http' } } });
    const miss = await request(url).get('/t/1');
    expect([miss.status, miss.headers['x-cache'], miss.body]).toEqual([200, 'MISS', { id: '1' }]);
    const load = onlySpan(otel.exporter, 'layercache.load');
    expect(load.attributes).toMatchObject({ 'cache.stack': 'http', 'cache.operation': 'load', 'cache.background': false });
    expect(parentId(onlySpan(otel.exporter, 'handler.work'))).toBe(load.spanContext().spanId);
    otel.exporter.reset();
    const hit = await request(url).get('/t/1');
    expect([hit.status, hit.headers['x-cache']]).toEqual([200, 'HIT']);
    expect(otel.exporter.getFinishedSpans()).toEqual([]);
  });

  it('without tracing, the same app records only the handler\'s own span', async () => {
    const { url } = await startHttpApp(adapter, { controllers: [TracedController] });
    expect((await request(url).get('/t/2')).headers['x-cache']).toBe('MISS');
    expect(otel.exporter.getFinishedSpans().map((span) => span.name)).toEqual(['handler.work']);
    expect(parentId(onlySpan(otel.exporter, 'handler.work'))).toBeUndefined();
  });
});

describe('LayerCacheModule tracing options', () => {
  it('forRoot rejects an unknown tracing key and a bad value, naming the option', () => {
    for (const [tracing, option] of [
      [{ sampler: 1 }, 'tracing.sampler'],
      [{ keys: 'everything' }, 'tracing.keys'],
      ['on', 'tracing'],
    ] as const) {
      let thrown: unknown;
      try {
        LayerCacheModule.forRoot({ tracing: tracing as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(option);
    }
  });
});
