import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, NotFoundException, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { deferred } from '../support/decorator-app.js';
import { FakeClock } from '../support/fake-clock.js';
import { afterRevalidation, recordHttpWarnings, startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

/** What the handlers do and how often they ran. */
@Injectable()
class Source {
  runs = 0;
  failWith: Error | undefined;
  gate: Promise<void> | undefined;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('r')
class RevalidationController {
  constructor(@Inject(Source) private readonly source: Source) {}

  private async produce(id: string): Promise<{ id: string; run: number }> {
    this.source.runs++;
    const run = this.source.runs;
    if (this.source.gate !== undefined) await this.source.gate;
    if (this.source.failWith !== undefined) throw this.source.failWith;
    return { id, run };
  }

  @Get('swr/:id')
  @HttpCache({ ttl: 10, staleWhileRevalidate: 20 })
  swr(@Param('id') id: string) {
    return this.produce(id);
  }

  @Get('plain/:id')
  @HttpCache({ ttl: 10 })
  plain(@Param('id') id: string) {
    return this.produce(id);
  }

  @Get('off/:id')
  @HttpCache({ ttl: 10, staleWhileRevalidate: 0 })
  off(@Param('id') id: string) {
    return this.produce(id);
  }

  @Get('sie/:id')
  @HttpCache({ ttl: 10, staleIfError: 60 })
  sie(@Param('id') id: string) {
    return this.produce(id);
  }
}

describe.each(ADAPTERS)('LayerCacheInterceptor revalidation (%s)', (adapter) => {
  async function start(stackOptions: { staleWhileRevalidate?: number } = {}) {
    const clock = new FakeClock();
    const started = await startHttpApp(adapter, { controllers: [RevalidationController], providers: [Source], clock, stack: stackOptions });
    return { ...started, clock, source: started.app.get(Source) };
  }

  it('walks the timeline: MISS, HIT with Age, STALE with one background run, HIT of the new entry, MISS beyond', async () => {
    const { url, clock, source, stack } = await start();
    const miss = await request(url).get('/r/swr/1');
    expect([miss.status, miss.headers['x-cache'], miss.body, miss.headers.age]).toEqual([200, 'MISS', { id: '1', run: 1 }, undefined]);

    await clock.advance(5_000);
    const hit = await request(url).get('/r/swr/1');
    expect([hit.headers['x-cache'], hit.body, hit.headers.age]).toEqual(['HIT', { id: '1', run: 1 }, '5']);
    expect(source.runs).toBe(1);

    await clock.advance(6_000); // 11 s: stale, inside the 20 s window
    const stale = await request(url).get('/r/swr/1');
    expect([stale.headers['x-cache'], stale.body, stale.headers.age]).toEqual(['STALE', { id: '1', run: 1 }, '11']);
    await afterRevalidation(stack);
    expect(source.runs).toBe(2);

    const refreshed = await request(url).get('/r/swr/1');
    expect([refreshed.headers['x-cache'], refreshed.body, refreshed.headers.age]).toEqual(['HIT', { id: '1', run: 2 }, '0']);

    await clock.advance(31_000); // past fresh + SWR of the new entry
    const expired = await request(url).get('/r/swr/1');
    expect([expired.headers['x-cache'], expired.body]).toEqual(['MISS', { id: '1', run: 3 }]);
  });

  it('starts one background run however many stale requests arrive', async () => {
    const { url, clock, source } = await start();
    await request(url).get('/r/swr/1');
    await clock.advance(11_000);
    source.gate = new Promise(() => {}); // the refresh hangs: every request meanwhile is stale
    const answers = await Promise.all(Array.from({ length: 5 }, () => request(url).get('/r/swr/1')));
    expect(answers.map((a) => a.headers['x-cache'])).toEqual(Array(5).fill('STALE'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.runs).toBe(2);
  });

  it('keeps SWR off unless enabled: a route without it is a MISS once stale', async () => {
    const { url, clock, source } = await start();
    await request(url).get('/r/plain/1');
    await clock.advance(11_000);
    const answer = await request(url).get('/r/plain/1');
    expect([answer.headers['x-cache'], answer.body]).toEqual(['MISS', { id: '1', run: 2 }]);
    expect(source.runs).toBe(2);
  });

  it('applies a module-wide SWR to routes without their own, and a route switches it off', async () => {
    const { url, clock, stack, source } = await start({ staleWhileRevalidate: 60 });
    await request(url).get('/r/plain/1');
    await request(url).get('/r/off/1');
    await clock.advance(11_000);
    const inherited = await request(url).get('/r/plain/1');
    expect([inherited.headers['x-cache'], inherited.body]).toEqual(['STALE', { id: '1', run: 1 }]);
    await afterRevalidation(stack);
    const switchedOff = await request(url).get('/r/off/1');
    expect([switchedOff.headers['x-cache'], switchedOff.body]).toEqual(['MISS', { id: '1', run: 4 }]);
    expect(source.runs).toBe(4); // plain, off, plain's refresh, off's reload
  });

  it('collapses 20 concurrent cold requests into one handler run; all get its status and body', async () => {
    const { url, source, stack } = await start();
    const gate = deferred<void>();
    source.gate = gate.promise;
    const pending = Array.from({ length: 20 }, () => request(url).get('/r/plain/7'));
    const answers = Promise.all(pending.map((test) => test.then((res) => res)));
    for (let i = 0; i < 200 && stack.getMetrics().stack.dedupes < 19; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    gate.resolve();
    const results = await answers;
    expect(source.runs).toBe(1);
    expect(new Set(results.map((r) => `${r.status} ${r.headers['x-cache']} ${JSON.stringify(r.body)}`))).toEqual(
      new Set(['200 MISS {"id":"7","run":1}']),
    );
  });

  it('shares a collapsed 4xx with every waiting request and stores nothing', async () => {
    const { url, source, stack } = await start();
    const gate = deferred<void>();
    source.gate = gate.promise;
    source.failWith = new NotFoundException('gone');
    const answers = Promise.all(Array.from({ length: 5 }, () => request(url).get('/r/plain/8').then((r) => r)));
    for (let i = 0; i < 200 && stack.getMetrics().stack.dedupes < 4; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    gate.resolve();
    expect((await answers).map((r) => r.status)).toEqual(Array(5).fill(404));
    expect(source.runs).toBe(1);
    source.failWith = undefined;
    source.gate = undefined;
    expect((await request(url).get('/r/plain/8')).headers['x-cache']).toBe('MISS');
  });

  it('logs one warning naming the route when a background run fails, and keeps serving stale', async () => {
    const warnings = recordHttpWarnings();
    const { url, clock, source, stack } = await start();
    await request(url).get('/r/swr/1');
    await clock.advance(11_000);
    source.failWith = new Error('database down');
    const stale = await request(url).get('/r/swr/1');
    expect([stale.status, stale.headers['x-cache'], stale.body]).toEqual([200, 'STALE', { id: '1', run: 1 }]);
    await afterRevalidation(stack);
    expect(warnings.filter((line) => line.includes('RevalidationController.swr'))).toHaveLength(1);
    expect(warnings[0]).toContain('database down');
    const again = await request(url).get('/r/swr/1');
    expect([again.status, again.headers['x-cache'], again.body]).toEqual([200, 'STALE', { id: '1', run: 1 }]);
  });

  it('serves stale on a 5xx or non-HTTP error within staleIfError, but a 4xx is authoritative', async () => {
    const { url, clock, source } = await start();
    await request(url).get('/r/sie/1');
    await clock.advance(11_000);
    source.failWith = new Error('boom');
    const rescued = await request(url).get('/r/sie/1');
    expect([rescued.status, rescued.headers['x-cache'], rescued.body]).toEqual([200, 'STALE', { id: '1', run: 1 }]);

    source.failWith = new NotFoundException();
    expect((await request(url).get('/r/sie/1')).status).toBe(404);
    source.failWith = new Error('boom again'); // the 404 dropped the entry: nothing stale to fall back on
    expect((await request(url).get('/r/sie/1')).status).toBe(500);
  });
});
