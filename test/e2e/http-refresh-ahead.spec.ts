/**
 * Freshness policies on HTTP routes, in real apps on both adapters with the stack's injected clock: refresh-ahead
 * (a request past the point is a HIT that re-runs the handler once in the background) and sliding expiry (each HIT
 * keeps the response fresh).
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { Cacheable, HttpCache, InvalidOptionError, LayerCacheInterceptor } from '../../lib/index.js';
import { checkHttpCacheOptions } from '../../lib/http/http-cache.checks.js';
import { FakeClock } from '../support/fake-clock.js';
import { afterRevalidation, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Source {
  runs = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('f')
class FreshnessController {
  constructor(@Inject(Source) private readonly source: Source) {}

  @Get('ahead/:id')
  @HttpCache({ ttl: 10, refreshAhead: 0.8 })
  ahead(@Param('id') id: string) {
    return { id, run: ++this.source.runs };
  }

  @Get('sliding/:id')
  @HttpCache({ ttl: 10, slidingTtl: true, maxTtl: 60 })
  sliding(@Param('id') id: string) {
    return { id, run: ++this.source.runs };
  }
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('d')
class DefaultsController {
  constructor(@Inject(Source) private readonly source: Source) {}

  @Get('route/:id')
  @HttpCache({ ttl: 10 })
  route(@Param('id') id: string) {
    return { id, run: ++this.source.runs };
  }
}

/** A service method cached by `@Cacheable` (no interceptor): refresh-ahead through the decorator's peek-then-get. */
@Controller('m')
class MethodController {
  constructor(@Inject(Source) private readonly source: Source) {}

  @Get(':id')
  @Cacheable({ key: 'm:{0}', ttl: 10, refreshAhead: 0.8 })
  method(@Param('id') id: string) {
    return { id, run: ++this.source.runs };
  }
}

describe.each(ADAPTERS)('freshness policies on HTTP routes (%s)', (adapter) => {
  async function start(stack: Record<string, unknown> = {}) {
    const clock = new FakeClock();
    const started = await startHttpApp(adapter, { controllers: [FreshnessController, DefaultsController, MethodController], providers: [Source], clock, stack });
    return { ...started, clock, source: started.app.get(Source) };
  }

  it('refreshAhead: a request past 80% of the ttl is a HIT and re-runs the handler once in the background', async () => {
    const { url, clock, source, stack } = await start();
    expect((await request(url).get('/f/ahead/1')).headers['x-cache']).toBe('MISS');
    await clock.advance(7_000);
    expect((await request(url).get('/f/ahead/1')).headers['x-cache']).toBe('HIT');
    expect(source.runs).toBe(1);
    await clock.advance(1_500);
    const due = await request(url).get('/f/ahead/1');
    expect([due.headers['x-cache'], due.body.run]).toEqual(['HIT', 1]);
    await afterRevalidation(stack);
    expect(source.runs).toBe(2);
    const refreshed = await request(url).get('/f/ahead/1');
    expect([refreshed.headers['x-cache'], refreshed.body.run, refreshed.headers.age]).toEqual(['HIT', 2, '0']);
    // Past the first entry's ttl: still the refreshed entry, no MISS.
    await clock.advance(2_000);
    expect((await request(url).get('/f/ahead/1')).headers['x-cache']).toBe('HIT');
    expect(stack.getMetrics().stack.misses).toBe(1);
  });

  it('a module-wide refreshAhead default reaches a route that sets only its ttl', async () => {
    const { url, clock, source, stack } = await start({ refreshAhead: 0.8 });
    expect((await request(url).get('/d/route/1')).headers['x-cache']).toBe('MISS');
    await clock.advance(9_000);
    expect((await request(url).get('/d/route/1')).body.run).toBe(1);
    await afterRevalidation(stack);
    expect(source.runs).toBe(2);
    expect(stack.getMetrics().stack.refreshesAhead).toBe(1);
  });

  it('@Cacheable({ refreshAhead }) refreshes a method past the point while its callers get the cached result', async () => {
    const { url, clock, source, stack } = await start();
    expect((await request(url).get('/m/1')).body.run).toBe(1);
    await clock.advance(7_000);
    expect((await request(url).get('/m/1')).body.run).toBe(1);
    expect(source.runs).toBe(1);
    await clock.advance(1_000);
    expect((await request(url).get('/m/1')).body.run).toBe(1);
    await stack.idle();
    expect(source.runs).toBe(2);
    expect((await request(url).get('/m/1')).body.run).toBe(2);
    expect(stack.getMetrics().stack.misses).toBe(1);
  });

  it('slidingTtl: a route requested every 9 s stays a HIT, up to maxTtl', async () => {
    const { url, clock, source } = await start();
    expect((await request(url).get('/f/sliding/1')).headers['x-cache']).toBe('MISS');
    for (let i = 0; i < 6; i++) {
      await clock.advance(9_000);
      expect((await request(url).get('/f/sliding/1')).headers['x-cache']).toBe('HIT');
    }
    expect(source.runs).toBe(1);
    // 54 s + 9 s passes maxTtl (60 s after the write): the entry ends at 60 s.
    await clock.advance(9_000);
    expect((await request(url).get('/f/sliding/1')).headers['x-cache']).toBe('MISS');
    expect(source.runs).toBe(2);
  });
});

describe('route freshness options are checked eagerly', () => {
  it.each([
    [{ refreshAhead: 1.5 }, 'refreshAhead'],
    [{ slidingTtl: 'yes' }, 'slidingTtl'],
    [{ adaptiveTtl: { hits: 3 } }, 'adaptiveTtl.max'],
  ])('%p → InvalidOptionError naming %s', (options, name) => {
    const check = () => checkHttpCacheOptions('@HttpCache on C.m', options as never);
    expect(check).toThrow(InvalidOptionError);
    expect(check).toThrow(`@HttpCache on C.m.${name}`);
  });
});
