import type { Redis } from 'ioredis';
import { gunzipSync } from 'node:zlib';
import { JsonSerializer } from '../../lib/core/json.serializer.js';
import { decodeEntry, undecodableReason } from '../../lib/core/entry-codec.js';
import { zstdAvailable } from '../../lib/core/entry-compression.js';
import { InvalidOptionError } from '../../lib/core/errors.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer, type RedisLayerOptions } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { FakeClock } from '../support/fake-clock.js';
import { jsonDocument } from '../support/json-document.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';
import { keysUnder, testRedisClient, uniquePrefix } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';

const FLAG_COMPRESSED = 8;
let client: Redis;

beforeAll(() => {
  client = testRedisClient();
});
afterAll(async () => {
  await client.quit();
});

/** The flags byte of the envelope stored under `redisKey`. */
async function storedFlags(redisKey: string): Promise<number | undefined> {
  return (await client.getBuffer(redisKey))?.[3];
}

// Every value compressed (threshold 0): the whole layer contract, tags, versions, touch and clear included.
describeLayerContract('RedisLayer with gzip compression', () => {
  const prefix = uniquePrefix('gzip-contract');
  const layer = new RedisLayer({ client, prefix, compression: { algorithm: 'gzip', threshold: 0 } });
  return {
    layer,
    now: () => Date.now(),
    async expectLifetime(key, ttlMs) {
      const pttl = await client.pttl(prefix + key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(ttlMs);
    },
    async teardown() {
      await layer.clear(undefined);
      expect(await keysUnder(client, prefix)).toEqual([]);
    },
  };
});

describe('RedisLayer compression on a real Redis', () => {
  const stacks: CacheStack[] = [];
  const doc = jsonDocument(20_000);
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
  });

  function instance(prefix: string, layerOptions: Omit<RedisLayerOptions, 'client' | 'prefix'>, options: CacheStackOptions = {}) {
    const logger = new RecordingLogger();
    const l2 = new RedisLayer({ client, prefix, ...layerOptions });
    const stack = new CacheStack([new MemoryLayer(), l2], { logger, ...options });
    stacks.push(stack);
    return { stack, l2, logger };
  }

  it('a 20 KB JSON document takes far fewer bytes in Redis (STRLEN) with gzip and brotli', async () => {
    const prefix = uniquePrefix('strlen');
    const sizes: Record<string, number> = {};
    for (const compression of [undefined, 'gzip', 'brotli'] as const) {
      const { stack } = instance(prefix, compression === undefined ? {} : { compression });
      const key = `doc:${compression ?? 'none'}`;
      await stack.set(key, doc);
      const flags = await storedFlags(`${prefix}${key}`);
      expect(flags).toBe(compression === undefined ? 0 : FLAG_COMPRESSED);
      sizes[key] = await client.strlen(`${prefix}${key}`);
    }
    expect(sizes['doc:none']).toBeGreaterThan(10_000); // msgpack of 20 KB of JSON
    expect(sizes['doc:gzip']).toBeLessThan((sizes['doc:none'] as number) / 4);
    expect(sizes['doc:brotli']).toBeLessThan((sizes['doc:none'] as number) / 4);
  });

  it('a stack writing with gzip and another without, on one prefix, read each other’s entries from L2', async () => {
    const prefix = uniquePrefix('mixed');
    const gzip = instance(prefix, { compression: 'gzip' });
    const plain = instance(prefix, {});
    await gzip.stack.set('from-gzip', doc);
    await plain.stack.set('from-plain', doc);
    expect(await storedFlags(`${prefix}from-gzip`)).toBe(FLAG_COMPRESSED);
    expect(await storedFlags(`${prefix}from-plain`)).toBe(0);
    // Fresh instances (empty L1s): both answers come from Redis.
    const readerGzip = instance(prefix, { compression: 'brotli' });
    const readerPlain = instance(prefix, {});
    for (const reader of [readerGzip, readerPlain]) {
      expect(await reader.stack.get('from-gzip')).toEqual(doc);
      expect(await reader.stack.get('from-plain')).toEqual(doc);
      expect(reader.stack.getMetrics().layers['redis']).toMatchObject({ hits: 2, undecodable: 0 });
    }
  });

  it('set-if-newer compares the version of a compressed entry without decoding it', async () => {
    const prefix = uniquePrefix('ifnewer');
    const layer = new RedisLayer({ client, prefix, compression: { algorithm: 'gzip', threshold: 0 } });
    const now = Date.now();
    await layer.set('k', makeEntry({ doc, v: 5 }, now, { version: 5_000 }), 60_000, true);
    expect(await storedFlags(`${prefix}k`)).toBe(FLAG_COMPRESSED);
    await layer.set('k', makeEntry({ doc, v: 4 }, now, { version: 4_000 }), 60_000, true);
    expect(((await layer.get('k'))?.value as { v: number }).v).toBe(5);
    await layer.set('k', makeEntry({ doc, v: 6 }, now, { version: 6_000 }), 60_000, true);
    expect(((await layer.get('k'))?.value as { v: number }).v).toBe(6);
  });

  it('a sliding ttl extends a compressed entry in Redis in place (the Lua touch), read by another instance', async () => {
    const prefix = uniquePrefix('slide');
    const clock = new FakeClock();
    const options = { slidingTtl: true, ttl: 60, clock };
    const a = instance(prefix, { compression: 'gzip' }, options);
    await a.stack.set('k', doc);
    const before = await client.getBuffer(`${prefix}k`);
    expect(before?.[3]).toBe(1 | 2 | FLAG_COMPRESSED); // extension, sliding, compressed
    for (let i = 0; i < 6; i++) {
      await clock.advance(30_000);
      expect(await a.stack.get('k')).toEqual(doc);
      await a.stack.idle();
    }
    const after = await client.getBuffer(`${prefix}k`);
    // Only the deadlines moved: the compressed value is the same bytes.
    expect(after?.subarray(60)).toEqual(before?.subarray(60));
    expect((await a.l2.get('k'))?.freshUntil).toBe(clock.now() + 60_000);
    const b = instance(prefix, {}, options);
    expect(await b.stack.get('k')).toEqual(doc);
    expect(b.stack.getMetrics().layers['redis']).toMatchObject({ hits: 1 });
  });

  it('a compressed entry larger than the reader’s maxInflatedBytes is a miss, counted as undecodable and logged', async () => {
    const prefix = uniquePrefix('bound');
    const writer = instance(prefix, { compression: 'gzip' });
    await writer.stack.set('k', doc);
    const reader = instance(prefix, { maxInflatedBytes: 4096 });
    expect(await reader.stack.get('k', () => 'loaded')).toBe('loaded');
    expect(reader.stack.getMetrics().layers['redis']).toMatchObject({ undecodable: 1, errors: 0 });
    const lines = reader.logger.lines.filter((line) => line.message.includes('undecodable'));
    expect(lines).toHaveLength(1);
    // The loaded value replaced it (plain: 'loaded' is below the threshold).
    expect(decodeEntry(await client.getBuffer(`${prefix}k`), new MsgpackSerializer())?.value).toBe('loaded');
    expect(undecodableReason(await new RedisLayer({ client, prefix: uniquePrefix('x') }).get('k'))).toBeUndefined();
  });

  it('JsonSerializer: another language reads the value as JSON after the header (gunzipped when compressed)', async () => {
    const prefix = uniquePrefix('json');
    for (const compression of [undefined, 'gzip'] as const) {
      const { stack } = instance(prefix, { serializer: new JsonSerializer(), ...(compression !== undefined && { compression }) });
      const key = `doc:${compression ?? 'none'}`;
      await stack.set(key, { ...doc, at: new Date(0) });
      const raw = (await client.getBuffer(`${prefix}${key}`)) as Buffer;
      const payload = raw.subarray(56); // no extension, no tags
      const text = compression === undefined ? payload.toString('utf8') : gunzipSync(payload.subarray(5)).toString('utf8');
      expect(JSON.parse(text)).toEqual({ ...doc, at: { $date: '1970-01-01T00:00:00.000Z' } });
      const other = instance(prefix, { serializer: new JsonSerializer() });
      expect(await other.stack.get(key)).toEqual({ ...doc, at: new Date(0) });
    }
  });

  it('validates its options, unknown ones included', () => {
    expect(() => new RedisLayer({ client, compression: 'lz4' as never })).toThrow(/Invalid option "RedisLayer.compression"/);
    expect(() => new RedisLayer({ client, compression: { algorithm: 'gzip', level: 0 } })).toThrow(/"RedisLayer.compression.level"/);
    expect(() => new RedisLayer({ client, maxInflatedBytes: 0 })).toThrow(/"RedisLayer.maxInflatedBytes"/);
    const unknown = { client, compresion: 'gzip' } as RedisLayerOptions;
    expect(() => new RedisLayer(unknown)).toThrow(InvalidOptionError);
    expect(() => new RedisLayer(unknown)).toThrow(/"RedisLayer.compresion": unknown option/);
    if (!zstdAvailable()) {
      expect(() => new RedisLayer({ client, compression: 'zstd' })).toThrow(/"RedisLayer.compression": zstd needs Node 22.15\+ or 23.8\+/);
    }
  });
});
