import 'reflect-metadata';
import { BadGatewayException, Controller, Get, Inject, Injectable, Param, ServiceUnavailableException } from '@nestjs/common';
import request from 'supertest';
import { Cacheable, CircuitOpenError, InvalidOptionError, LayerCacheModule, RateLimitError } from '../../lib/index.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

/** The upstream the cached methods call: up or down, counting its calls. */
@Injectable()
class Upstream {
  up = true;
  calls = 0;
  /** Calls that have not answered yet (a slow upstream), released by `release()`. */
  held: (() => void)[] = [];
  hold = false;

  async fetch(what: string): Promise<string> {
    this.calls++;
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (!this.up) throw new Error('upstream down');
    return `${what}@${this.calls}`;
  }

  release(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }
}

const breaker = { failureThreshold: 2, window: 60, cooldown: 30 };

@Injectable()
class Prices {
  constructor(@Inject(Upstream) private readonly upstream: Upstream) {}

  @Cacheable({ key: 'price:{0}', ttl: 10, staleIfError: 600, circuitBreaker: breaker })
  async price(id: string): Promise<string> {
    return this.upstream.fetch(`price ${id}`);
  }

  @Cacheable({ key: 'stock:{0}', ttl: 10, circuitBreaker: breaker })
  async stock(id: string): Promise<string> {
    return this.upstream.fetch(`stock ${id}`);
  }

  @Cacheable({ key: 'report:{0}', ttl: 10, loaderRateLimit: { concurrency: 1, maxWait: 5, scope: 'global' } })
  async report(id: string): Promise<string> {
    return this.upstream.fetch(`report ${id}`);
  }

  /** No option of its own: the module's defaults apply. */
  @Cacheable({ key: 'plain:{0}', ttl: 10 })
  async plain(id: string): Promise<string> {
    return this.upstream.fetch(`plain ${id}`);
  }
}

/** Maps the cache's refusals to 503 (with the code), the upstream's failures to 502. */
async function answer(read: () => Promise<string>): Promise<{ value: string }> {
  try {
    return { value: await read() };
  } catch (error) {
    if (error instanceof CircuitOpenError || error instanceof RateLimitError) {
      throw new ServiceUnavailableException({ code: error.code, retryAfter: error instanceof CircuitOpenError ? error.retryAfter : undefined });
    }
    throw new BadGatewayException((error as Error).message);
  }
}

@Controller()
class PricesController {
  constructor(@Inject(Prices) private readonly prices: Prices) {}

  @Get('price/:id')
  price(@Param('id') id: string) {
    return answer(() => this.prices.price(id));
  }

  @Get('stock/:id')
  stock(@Param('id') id: string) {
    return answer(() => this.prices.stock(id));
  }

  @Get('report/:id')
  report(@Param('id') id: string) {
    return answer(() => this.prices.report(id));
  }

  @Get('plain/:id')
  plain(@Param('id') id: string) {
    return answer(() => this.prices.plain(id));
  }
}

describe.each(ADAPTERS)('@Cacheable protecting its upstream in a Nest app (%s)', (adapter) => {
  async function setup(stack = {}) {
    const clock = new FakeClock();
    const { app, url, stack: cache } = await startHttpApp(adapter, { controllers: [PricesController], providers: [Upstream, Prices], clock, stack });
    return { clock, url, cache, upstream: app.get(Upstream) };
  }

  it('a circuitBreaker method whose upstream fails is no longer called after the threshold; it recovers after the cooldown', async () => {
    const { clock, url, cache, upstream } = await setup();
    upstream.up = false;
    await request(url).get('/stock/1').expect(502);
    await request(url).get('/stock/2').expect(502); // second failure within the window: the circuit opens
    const refused = await request(url).get('/stock/3').expect(503);
    expect(refused.body).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfter: 30_000 });
    expect(upstream.calls).toBe(2);
    // One circuit per decorated method: another method of the same upstream still calls it.
    await request(url).get('/price/1').expect(502);
    expect(upstream.calls).toBe(3);

    upstream.up = true;
    await clock.advance(29_000);
    await request(url).get('/stock/3').expect(503);
    expect(upstream.calls).toBe(3);
    await clock.advance(1_000); // cooldown over: the next call is the probe, and it succeeds
    expect((await request(url).get('/stock/3').expect(200)).body).toEqual({ value: 'stock 3@4' });
    expect((await request(url).get('/stock/4').expect(200)).body).toEqual({ value: 'stock 4@5' });
    expect(cache.getMetrics().stack).toMatchObject({ circuitOpens: 1, openCircuits: 0, circuitRejections: 2 });
  });

  it('while the circuit is open a key with a stale-if-error value is answered with it', async () => {
    const { clock, url, upstream } = await setup();
    expect((await request(url).get('/price/1').expect(200)).body).toEqual({ value: 'price 1@1' });
    upstream.up = false;
    await clock.advance(11_000); // past freshness, inside staleIfError
    await request(url).get('/price/2').expect(502);
    await request(url).get('/price/3').expect(502); // open
    expect((await request(url).get('/price/1').expect(200)).body).toEqual({ value: 'price 1@1' });
    expect(upstream.calls).toBe(3);
    await request(url).get('/price/4').expect(503);
  });

  it('as a module default (LayerCacheModule.forRoot): decorated methods without their own option share the namespace circuit', async () => {
    const { url, upstream } = await setup({ circuitBreaker: breaker });
    upstream.up = false;
    await request(url).get('/plain/1').expect(502);
    await request(url).get('/plain/2').expect(502);
    expect((await request(url).get('/plain/3').expect(503)).body).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(upstream.calls).toBe(2);
  });

  it('a loaderRateLimit method runs one load at a time; a load that waits past maxWait gets RateLimitError', async () => {
    const { clock, url, cache, upstream } = await setup();
    upstream.hold = true;
    const first = request(url).get('/report/1').then((r) => r);
    while (upstream.held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = request(url).get('/report/2').then((r) => r);
    while (cache.getMetrics().stack.rateLimitWaits === 0) await new Promise((resolve) => setImmediate(resolve)); // it waits for the slot
    await flushMicrotasks();
    expect(upstream.calls).toBe(1);
    await clock.advance(5_000);
    const refused = await second;
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    upstream.release();
    expect((await first).body).toEqual({ value: 'report 1@1' });
    upstream.hold = false;
    expect((await request(url).get('/report/2').expect(200)).body).toEqual({ value: 'report 2@2' });
  });
});

describe('LayerCacheModule checks the protection options', () => {
  it('rejects a bad circuitBreaker or loaderRateLimit at forRoot, naming the option', () => {
    expect(() => LayerCacheModule.forRoot({ circuitBreaker: { failureThreshold: 0, window: 1, cooldown: 1 } })).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ circuitBreaker: { failureThreshold: 0, window: 1, cooldown: 1 } })).toThrow('"circuitBreaker.failureThreshold"');
    expect(() => LayerCacheModule.forRoot({ loaderRateLimit: { concurrency: 1, scope: 'everywhere' as 'global' } })).toThrow('"loaderRateLimit.scope"');
  });

  it('rejects a bad circuitBreaker on @Cacheable when the class is defined', () => {
    expect(() => {
      class Bad {
        @Cacheable({ circuitBreaker: { failureThreshold: 1, window: 1, cooldown: 1, tries: 3 } as never })
        async m(): Promise<number> {
          return 1;
        }
      }
      return Bad;
    }).toThrow('"circuitBreaker.tries"');
  });
});
