import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Param, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { Cacheable, CacheStack, HttpCache, InvalidOptionError, LayerCacheInterceptor, LayerCacheModule } from '../../lib/index.js';
import { checkHttpCacheOptions } from '../../lib/http/http-cache.checks.js';
import { cacheTestingModule, initContext, memoryStack } from '../support/decorator-app.js';
import { FakeClock } from '../support/fake-clock.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS } from '../support/nest-app.js';

@Injectable()
class Runs {
  count = 0;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('fresh')
class FreshnessController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('daily')
  @HttpCache({ ttl: 'until-midnight', cacheControl: true })
  daily() {
    return { run: ++this.runs.count };
  }

  @Get('hourly')
  @HttpCache({ ttl: 'next-hour', timeZone: 'Asia/Kolkata', shared: true, cacheControl: true })
  hourly() {
    return { run: ++this.runs.count };
  }

  @Get('jittered/:id')
  @HttpCache({ ttl: 60, ttlJitter: 0.2, cacheControl: true })
  jittered(@Param('id') id: string) {
    return { id, run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('calendar and jittered route ttls (%s)', (adapter) => {
  async function start(startAt: string) {
    const clock = new FakeClock(Date.parse(startAt));
    // The module-wide timeZone is the route's (the route gives only the calendar ttl).
    const app = await startHttpApp(adapter, { controllers: [FreshnessController], providers: [Runs], clock, stack: { timeZone: 'Asia/Tokyo' } });
    return { ...app, clock, runs: app.app.get(Runs) };
  }

  it("an 'until-midnight' route answers a max-age counting down to local midnight, then a new day's response", async () => {
    // 13:00 UTC = 22:00 in Tokyo: midnight JST (15:00 UTC) is two hours away.
    const { url, clock, runs } = await start('2026-06-01T13:00:00.000Z');
    const first = await request(url).get('/fresh/daily');
    expect([first.headers['x-cache'], first.headers['cache-control'], first.body]).toEqual(['MISS', 'private, max-age=7200', { run: 1 }]);
    await clock.advance(20 * 60_000);
    const later = await request(url).get('/fresh/daily');
    expect([later.headers['x-cache'], later.headers['cache-control'], later.headers.age]).toEqual(['HIT', 'private, max-age=6000', '1200']);
    await clock.advance(99 * 60_000 + 30_000); // 23:59:30 JST
    const almost = await request(url).get('/fresh/daily');
    expect([almost.headers['x-cache'], almost.headers['cache-control'], runs.count]).toEqual(['HIT', 'private, max-age=30', 1]);
    await clock.advance(30_000); // midnight: a new day, fresh for 24 h
    const next = await request(url).get('/fresh/daily');
    expect([next.headers['x-cache'], next.headers['cache-control'], next.body]).toEqual(['MISS', 'private, max-age=86400', { run: 2 }]);
  });

  it("a 'next-hour' route in its own timeZone (+05:30) counts down to that zone's top of the hour", async () => {
    // 10:10 UTC = 15:40 in Kolkata: the next hour starts at 10:30 UTC.
    const { url, clock } = await start('2026-06-01T10:10:00.000Z');
    expect((await request(url).get('/fresh/hourly')).headers['cache-control']).toBe('public, max-age=1200');
    await clock.advance(5 * 60_000 + 500);
    expect((await request(url).get('/fresh/hourly')).headers['cache-control']).toBe('public, max-age=899') // 899.5 s left: floored;
  });

  it('a jittered route answers each entry its own max-age, within ±20% of the ttl, counting down', async () => {
    const { url, clock, stack } = await start('2026-06-01T10:00:00.000Z');
    const maxAges: number[] = [];
    for (let id = 0; id < 40; id++) {
      const response = await request(url).get(`/fresh/jittered/${id}`);
      expect(response.headers['x-cache']).toBe('MISS');
      maxAges.push(Number(/max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1]));
    }
    expect(Math.min(...maxAges)).toBeGreaterThanOrEqual(48);
    expect(Math.max(...maxAges)).toBeLessThanOrEqual(72);
    expect(new Set(maxAges).size).toBeGreaterThan(10);
    await clock.advance(10_000);
    const again = await request(url).get('/fresh/jittered/0');
    expect([again.headers['x-cache'], again.headers['cache-control']]).toEqual(['HIT', `private, max-age=${(maxAges[0] as number) - 10}`]);
    expect(stack).toBeInstanceOf(CacheStack);
  });
});

@UseInterceptors(LayerCacheInterceptor)
@Controller('capped')
class CappedController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get()
  @HttpCache({ ttl: '2h', cacheControl: true })
  capped() {
    return { run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)("a fixed route ttl beyond the stack's maxLifetime (%s)", (adapter) => {
  it('announces the freshness the entry has (capped at maxLifetime), not the route ttl, and reloads at the cap', async () => {
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const { url, app } = await startHttpApp(adapter, { controllers: [CappedController], providers: [Runs], clock, stack: { maxLifetime: '1h' } });
    const first = await request(url).get('/capped');
    expect([first.headers['x-cache'], first.headers['cache-control']]).toEqual(['MISS', 'private, max-age=3600']);
    await clock.advance(50 * 60_000);
    const later = await request(url).get('/capped');
    expect([later.headers['x-cache'], later.headers['cache-control'], later.headers.age]).toEqual(['HIT', 'private, max-age=600', '3000']);
    await clock.advance(10 * 60_000);
    const reloaded = await request(url).get('/capped');
    expect([reloaded.headers['x-cache'], reloaded.body, app.get(Runs).count]).toEqual(['MISS', { run: 2 }, 2]);
  });
});

describe('route and module validation of the freshness options', () => {
  it('rejects a ttl function, a bad jitter or time zone on a route, naming the option', () => {
    expect(checkHttpCacheOptions('@HttpCache on C.m', { ttl: () => 5 })).toBeDefined(); // a per-request ttl (http-addressable.spec.ts)
    expect(() => checkHttpCacheOptions('@HttpCache on C.m', { ttlJitter: 2 })).toThrow(/"@HttpCache on C.m.ttlJitter".*write '2s'/);
    expect(() => checkHttpCacheOptions('@HttpCache on C.m', { ttl: 'next-hour', timeZone: 'Nowhere/Land' })).toThrow(/"@HttpCache on C.m.timeZone"/);
    expect(() => checkHttpCacheOptions('http.defaults', { ttl: 'tomorrow' as never })).toThrow(/"http.defaults.ttl"/);
    expect(checkHttpCacheOptions('@HttpCache', { ttl: 'until-midnight', ttlJitter: '5m', timeZone: 'Europe/Paris' })).toBeDefined();
  });

  it('LayerCacheModule.forRoot accepts the options as stack defaults and rejects bad ones eagerly', () => {
    expect(() => LayerCacheModule.forRoot({ ttl: 'until-midnight', timeZone: 'Asia/Tokyo', ttlJitter: 0.1 })).not.toThrow();
    expect(() => LayerCacheModule.forRoot({ ttlJitter: 3 })).toThrow(InvalidOptionError);
    expect(() => LayerCacheModule.forRoot({ timeZone: 'Mars/Olympus' })).toThrow(/timeZone/);
    expect(() => LayerCacheModule.forRoot({ http: { defaults: { ttlJitter: 1.5 } } })).toThrow(/http.defaults.ttlJitter/);
  });
});

@Injectable()
class Prices {
  runs = 0;

  @Cacheable({ key: 'price:{0}', ttl: 100, ttlJitter: 0.2 })
  async price(id: number): Promise<number> {
    this.runs++;
    return id * 10;
  }

  @Cacheable({ key: 'daily:{0}', ttl: 'until-midnight', timeZone: 'UTC' })
  async daily(id: number): Promise<number> {
    this.runs++;
    return id;
  }

  @Cacheable({ key: 'sized:{0}', ttl: (value: number[], key: string) => (key.endsWith(':big') ? '1h' : value.length) })
  async sized(name: string): Promise<number[]> {
    this.runs++;
    return name === 'big' ? [] : [1, 2, 3];
  }
}

describe('@Cacheable with write-time freshness', () => {
  async function setup() {
    const clock = new FakeClock(Date.parse('2026-06-01T10:00:00.000Z'));
    const stack = memoryStack({ clock });
    const moduleRef = await initContext(cacheTestingModule({ providers: [Prices] }, { stack }));
    return { clock, stack, prices: moduleRef.get(Prices) };
  }

  it('a ttlJitter: 0.2 method stores entries with varied deadlines within ±20%', async () => {
    const { clock, stack, prices } = await setup();
    for (let id = 0; id < 50; id++) await prices.price(id);
    const ttls = await Promise.all(Array.from({ length: 50 }, async (_, id) => ((await stack.getDetailed(`price:${id}`)).freshUntil as number) - clock.now()));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(80_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(120_000);
    expect(new Set(ttls).size).toBeGreaterThan(40);
    expect(await prices.price(3)).toBe(30);
    expect(prices.runs).toBe(50);
  });

  it('a calendar ttl and a ttl function of (value, key) set each entry its own deadline', async () => {
    const { clock, stack, prices } = await setup();
    await prices.daily(1);
    await prices.sized('small');
    await prices.sized('big');
    const until = async (key: string) => new Date((await stack.getDetailed(key)).freshUntil as number).toISOString();
    expect(await until('daily:1')).toBe('2026-06-02T00:00:00.000Z');
    expect(await until('sized:small')).toBe(new Date(clock.now() + 3_000).toISOString());
    expect(await until('sized:big')).toBe(new Date(clock.now() + 3_600_000).toISOString());
  });
});
