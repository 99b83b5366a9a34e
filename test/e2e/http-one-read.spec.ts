// One stack call per HTTP request: the reads of the shared layer (a real RedisLayer on a real redis-server,
// counting its `get`/`getMany` calls) per request of a cached route, on Express and Fastify. A MISS reads it once
// (the read that misses also runs the handler), a STALE once (the background refresh is started by that same
// read), a fresh entry of the in-process layer not at all.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Injectable, Param, Res, UseInterceptors } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import type { CacheEntry } from '../../lib/core/entry.js';
import { HttpCache, LayerCacheInterceptor, MemoryLayer, RedisLayer } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { afterRevalidation, startHttpApp } from '../support/http-app.js';
import { ADAPTERS, type AdapterName } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** A real RedisLayer that counts the reads the stack asks of it, and can hold the answer of one. */
class CountingRedisLayer extends RedisLayer {
  reads = 0;
  private held: Promise<void> | undefined;

  override async get(key: string): Promise<CacheEntry | undefined> {
    this.reads++;
    const held = this.held;
    this.held = undefined;
    const entry = await super.get(key);
    await held; // what was read is of that moment; the caller hears it later
    return entry;
  }

  /** Holds the answer of the next `get` until the returned function is called. */
  holdNextRead(): () => void {
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    return release;
  }

  override getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    this.reads++;
    return super.getMany(keys);
  }
}

@Injectable()
class Runs {
  count = 0;
  /** Per run: whether the response had been sent when the handler ran. */
  sentWhenRun: boolean[] = [];
}

/** Express responses have `headersSent`, Fastify replies `sent`. */
interface SentFlags {
  headersSent?: boolean;
  sent?: boolean;
}

@UseInterceptors(LayerCacheInterceptor)
@Controller('one')
class OneReadController {
  constructor(@Inject(Runs) private readonly runs: Runs) {}

  @Get('swr/:id')
  @HttpCache({ ttl: 10, staleWhileRevalidate: 60 })
  swr(@Param('id') id: string, @Res({ passthrough: true }) res: SentFlags) {
    this.runs.sentWhenRun.push(res.headersSent === true || res.sent === true);
    return { id, run: ++this.runs.count };
  }
}

describe.each(ADAPTERS)('LayerCacheInterceptor reads the shared layer once per request (%s)', (adapter: AdapterName) => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.quit()));
    await server?.stop();
  });

  /** An app on memory + a counting RedisLayer; `revalidationLock: false` unless `lock`. */
  async function start(lock: boolean, clock = new FakeClock(), prefix = `one-${randomUUID()}:`) {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    clients.push(client);
    const shared = new CountingRedisLayer({ client, prefix });
    const started = await startHttpApp(adapter, {
      controllers: [OneReadController],
      providers: [Runs],
      clock,
      stack: { layers: [() => new MemoryLayer(), () => shared], ...(!lock && { revalidationLock: false }) },
    });
    return { ...started, clock, shared, runs: started.app.get(Runs) };
  }

  it('MISS 1 read, HIT from L1 0, STALE 1 (its refresh started by that read), refreshed HIT 0', async () => {
    const { url, clock, stack, shared, runs } = await start(false);
    const reads: Record<string, number> = {};
    const answers: unknown[] = [];
    const step = async (name: string, whileStale = false) => {
      const before = shared.reads;
      const answer = await request(url).get('/one/swr/1');
      if (whileStale) await afterRevalidation(stack); // the refresh's own reads count too
      answers.push([answer.headers['x-cache'], answer.body.run]);
      reads[name] = shared.reads - before;
    };
    await step('miss');
    await step('hit');
    await clock.advance(11_000); // stale, inside the SWR window
    await step('stale', true);
    await step('refreshed');
    expect(answers).toEqual([['MISS', 1], ['HIT', 1], ['STALE', 1], ['HIT', 2]]);
    expect(reads).toEqual({ miss: 1, hit: 0, stale: 1, refreshed: 0 });
    // The handler ran before its response was sent on the MISS, after the stale reply was under way on the refresh.
    expect([runs.count, runs.sentWhenRun]).toEqual([2, [false, true]]);
  });

  it('with the Redis revalidation lock: STALE 1 read, plus one by the refresh once it holds the lease', async () => {
    const { url, clock, stack, shared, runs } = await start(true);
    expect((await request(url).get('/one/swr/2')).headers['x-cache']).toBe('MISS');
    expect(shared.reads).toBe(1);
    await clock.advance(11_000);
    const stale = await request(url).get('/one/swr/2');
    await afterRevalidation(stack);
    expect([stale.headers['x-cache'], stale.body, runs.count, shared.reads]).toEqual(['STALE', { id: '2', run: 1 }, 2, 3]);
    expect(runs.sentWhenRun).toEqual([false, true]);
  });

  it('a refresh that got the lease after a peer refreshed serves the peer\'s response: once per cluster', async () => {
    const clock = new FakeClock();
    const prefix = `one-${randomUUID()}:`;
    const a = await start(true, clock, prefix);
    const b = await start(true, clock, prefix);
    expect((await request(a.url).get('/one/swr/3')).headers['x-cache']).toBe('MISS');
    await clock.advance(11_000);
    // b reads the stale entry, and hears of it only after a has refreshed it and given the lease back.
    const release = b.shared.holdNextRead();
    const fromB = request(b.url).get('/one/swr/3').then((res) => res);
    for (let i = 0; i < 200 && b.shared.reads === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const fromA = await request(a.url).get('/one/swr/3');
    await afterRevalidation(a.stack);
    release();
    const staleB = await fromB;
    await afterRevalidation(b.stack);
    expect([fromA.headers['x-cache'], staleB.headers['x-cache'], staleB.body]).toEqual(['STALE', 'STALE', { id: '3', run: 1 }]);
    expect([a.runs.count, b.runs.count]).toEqual([2, 0]);
    const after = await request(b.url).get('/one/swr/3');
    expect([after.headers['x-cache'], after.body]).toEqual(['HIT', { id: '3', run: 2 }]);
  });
});
