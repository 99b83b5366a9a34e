/**
 * Upstream protection on HTTP routes, in real apps on both adapters with the stack's injected clock: a route's
 * circuit breaker (one circuit per route) answers 503 with Retry-After without running a failing handler, and a
 * rate-limited route answers 503 instead of queueing past `maxWait`.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { HttpCache, LayerCacheInterceptor } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';
import { eventually } from '../support/wait.js';

@Injectable()
class Upstream {
  runs = 0;
  down = false;
  gate: Promise<void> | undefined;
}

const BREAKER = { failureThreshold: 2, window: 60, cooldown: 30 };

@UseInterceptors(LayerCacheInterceptor)
@Controller('p')
class ProtectedController {
  constructor(@Inject(Upstream) private readonly upstream: Upstream) {}

  @Get('items/:id')
  @HttpCache({ ttl: 10, circuitBreaker: BREAKER })
  item(@Param('id') id: string) {
    this.upstream.runs++;
    if (this.upstream.down) throw new Error('upstream down');
    return { id };
  }

  @Get('other/:id')
  @HttpCache({ ttl: 10, circuitBreaker: BREAKER })
  other(@Param('id') id: string) {
    this.upstream.runs++;
    return { id };
  }

  @Get('limited/:id')
  @HttpCache({ ttl: 10, loaderRateLimit: { concurrency: 1, maxWait: '50ms', scope: 'namespace' } })
  async limited(@Param('id') id: string) {
    this.upstream.runs++;
    await this.upstream.gate;
    return { id };
  }
}

describe.each(ADAPTERS)('upstream protection on HTTP routes (%s)', (adapter) => {
  async function start() {
    const clock = new FakeClock();
    const started = await startHttpApp(adapter, { controllers: [ProtectedController], providers: [Upstream], clock });
    return { ...started, clock, upstream: started.app.get(Upstream) };
  }

  it('after the threshold a failing route answers 503 with Retry-After without running its handler, then recovers', async () => {
    const { url, clock, upstream, stack } = await start();
    upstream.down = true;
    expect((await request(url).get('/p/items/1')).status).toBe(500);
    expect((await request(url).get('/p/items/2')).status).toBe(500);
    expect(upstream.runs).toBe(2);

    const open = await request(url).get('/p/items/3');
    expect([open.status, open.headers['retry-after'], open.body.code]).toEqual([503, '30', 'CIRCUIT_OPEN']);
    expect(upstream.runs).toBe(2);
    // Another route has its own circuit.
    expect((await request(url).get('/p/other/1')).status).toBe(200);
    expect(stack.getMetrics().stack.circuitOpens).toBe(1);

    upstream.down = false;
    await clock.advance(30_000);
    const probe = await request(url).get('/p/items/3');
    expect([probe.status, probe.headers['x-cache']]).toEqual([200, 'MISS']);
    expect((await request(url).get('/p/items/4')).status).toBe(200);
  });

  it('a rate-limited route answers 503 once a load waited maxWait for its turn', async () => {
    const { url, clock, upstream, stack } = await start();
    let open!: () => void;
    upstream.gate = new Promise<void>((resolve) => (open = resolve));
    const first = request(url).get('/p/limited/1').then((r) => r);
    await eventually(() => expect(upstream.runs).toBe(1));
    const second = request(url).get('/p/limited/2').then((r) => r);
    await eventually(() => expect(stack.getMetrics().stack.rateLimitWaits).toBe(1));
    await clock.advance(50); // maxWait, on the stack's clock
    const limited = await second;
    expect([limited.status, limited.body.code, limited.headers['retry-after']]).toEqual([503, 'RATE_LIMITED', '1']);
    open();
    expect((await first).status).toBe(200);
    expect(upstream.runs).toBe(1);
  });
});
