// L1 is bounded in bytes with the default options: hundreds of 1 MB responses under distinct URLs of a real
// Nest app (Express and Fastify) leave the heap bounded by the memory layer's budget, not by its entry count.
// The heap is measured after a full GC (`gc` is exposed at run time through V8 flags), and the layer's own
// byte count is checked beside it. Also: the module's `memory` option configures the default layer.
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Controller, Get, Query, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import {
  CACHE_MISS,
  CacheStack,
  DEFAULT_MEMORY_LAYER_OPTIONS,
  HttpCache,
  InvalidOptionError,
  LayerCacheInterceptor,
  LayerCacheModule,
  MemoryLayer,
  type LayerCacheModuleOptions,
  type LayerCacheModuleRootOptions,
} from '../../lib/index.js';
import { silentLogger } from '../support/decorator-app.js';
import { startHttpApp } from '../support/http-app.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';

/** Bytes of each response body (one-byte characters: 1 MB on the wire and in the heap). */
const BODY = 1_000_000;
/** Distinct URLs driven through the app: 400 MB of bodies, enough to show an entry-bounded L1. */
const URLS = 400;
const MiB = 1024 * 1024;
const SLOW = 120_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The heap in use after full collections. */
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

@UseInterceptors(LayerCacheInterceptor)
@HttpCache({ ttl: 600 })
@Controller('big')
class BigController {
  @Get()
  big(@Query('u') u: string): string {
    // A fresh 1 MB string per request (never one shared instance).
    return `${u}:`.padEnd(BODY, 'x');
  }
}

/** GETs `/big?u=<i>` for every `i` of `ids`, in order; returns the X-Cache header of each answer. */
async function drive(url: string, ids: Iterable<number>): Promise<string[]> {
  const statuses: string[] = [];
  for (const i of ids) {
    const res = await request(url).get(`/big?u=${i}`).expect(200);
    expect(res.text.length).toBe(BODY);
    expect(res.text.startsWith(`${i}:x`)).toBe(true);
    statuses.push(String(res.headers['x-cache']));
  }
  return statuses;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe.each(ADAPTERS)('memory bounded in bytes with the default options (%s)', (adapter) => {
  it('keeps the heap bounded through hundreds of 1 MB responses under distinct URLs', async () => {
    // No `layers`: the module's own default MemoryLayer, as an app configured with defaults gets it.
    const { url } = await startHttpApp(adapter, { controllers: [BigController], stack: { layers: undefined } });
    await drive(url, [0]); // warm up the app's code paths before the baseline
    const before = heapAfterGc();
    expect(await drive(url, range(1, URLS))).toEqual(range(1, URLS).map(() => 'MISS'));
    const grown = heapAfterGc() - before;
    // The layer keeps about maxBytes / 2 MB entries (strings are estimated at 2 bytes a character): about
    // 32 MB of bodies under the 64 MiB default. Without a byte bound all 400 MB stay (10,000-entry limit).
    expect(grown).toBeLessThan(DEFAULT_MEMORY_LAYER_OPTIONS.maxBytes + 32 * MiB);
    // The most recent URLs are still served from L1; the oldest were evicted and run the handler again.
    expect(await drive(url, range(URLS - 10, URLS))).toEqual(range(0, 10).map(() => 'HIT'));
    expect(await drive(url, range(1, 11))).toEqual(range(0, 10).map(() => 'MISS'));
  }, SLOW);

  it('keeps a default MemoryLayer within its byte budget, evicting the least recently used', async () => {
    let layer: MemoryLayer | undefined;
    const { url } = await startHttpApp(adapter, { controllers: [BigController], stack: { layers: [() => (layer = new MemoryLayer())] } });
    const urls = 100; // 100 MB of bodies, estimated at 200 MB: well over the 64 MiB default
    await drive(url, range(0, urls));
    const stats = (layer as MemoryLayer).stats();
    expect(stats.maxBytes).toBe(DEFAULT_MEMORY_LAYER_OPTIONS.maxBytes);
    expect(stats.bytes).toBeLessThanOrEqual(stats.maxBytes);
    // Full: no room left for one more response (each is estimated at just over 2 MB).
    expect(stats.bytes).toBeGreaterThan(stats.maxBytes - 2 * (BODY * 2 + 4096));
    expect(stats.entries).toBe(urls - stats.evictions);
    expect(stats.entries).toBeLessThanOrEqual(Math.floor(stats.maxBytes / (2 * BODY)));
    expect(stats.oversized).toBe(0);
  }, SLOW);
});

@Controller('memory')
class StackController {
  constructor(private readonly stack: CacheStack) {}

  @Get()
  async fill(): Promise<{ kept: boolean[] }> {
    // Three 1,000-character values (about 2.2 kB each with the envelope) in a 5,000-byte layer: the first goes.
    for (const key of ['a', 'b', 'c']) await this.stack.set(key, 'v'.repeat(1000));
    return { kept: ['a', 'b', 'c'].map((key) => this.stack.peek(key) !== CACHE_MISS) };
  }
}

describe('LayerCacheModule memory option', () => {
  it('configures the default memory layer', async () => {
    const app = await startApp({
      imports: [LayerCacheModule.forRoot({ memory: { maxBytes: 5000, maxEntryBytes: 5000 }, logger: silentLogger })],
      controllers: [StackController],
    });
    try {
      const res = await request(app.getHttpServer()).get('/memory').expect(200);
      expect(res.body).toEqual({ kept: [false, true, true] });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['a non-positive maxBytes', { memory: { maxBytes: 0 } }, 'memory.maxBytes'],
    ['a NaN maxBytes', { memory: { maxBytes: Number.NaN } }, 'memory.maxBytes'],
    ['a maxBytes that is not a number', { memory: { maxBytes: '64mb' } }, 'memory.maxBytes'],
    ['a maxEntryBytes over maxBytes', { memory: { maxBytes: 10, maxEntryBytes: 11 } }, 'memory.maxEntryBytes'],
    ['an unknown memory option', { memory: { maxEntries: 5 } }, 'memory.maxEntries'],
    ['memory that is not an object', { memory: 64 }, 'memory'],
    ['memory beside layers', { memory: { maxBytes: 1000 }, layers: [() => new MemoryLayer()] }, 'memory'],
  ])('forRoot rejects %s, naming the option', (_label, options, option) => {
    let error: unknown;
    try {
      LayerCacheModule.forRoot(options as unknown as LayerCacheModuleRootOptions);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', option });
    expect((error as Error).message).toContain(`"${option}"`);
  });

  it('forRootAsync rejects a bad memory option when the app starts', async () => {
    const started = startApp({
      imports: [LayerCacheModule.forRootAsync({ useFactory: () => ({ memory: { maxBytes: -1 } }) as LayerCacheModuleOptions })],
    });
    await expect(started).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(started).rejects.toMatchObject({ option: 'memory.maxBytes' });
  });
});
