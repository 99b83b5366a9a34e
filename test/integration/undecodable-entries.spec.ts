import type { Redis } from 'ioredis';
import { encodeEntry } from '../../lib/core/entry-codec.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { UNDECODABLE_LOG_INTERVAL_MS } from '../../lib/stack/undecodable-entries.js';
import { FakeClock } from '../support/fake-clock.js';
import { makeEntry } from '../support/layer-contract.js';
import { uniquePrefix, useRedisStacks } from '../support/redis-test-client.js';
import { RecordingLogger } from '../support/stack-builder.js';

/**
 * Bad bytes under an entry's real key in a real Redis (garbage, another envelope version, a truncated
 * entry): a miss, counted in the layer's `undecodable` metric, logged once per burst, replaced by the next
 * write; never a failure of the layer.
 */
describe('undecodable entries in Redis', () => {
  let client: Redis;
  const stacks = useRedisStacks((opened) => (client = opened));
  const clock = new FakeClock();
  const valid = encodeEntry(makeEntry({ user: 'alice' }, clock.now(), { freshUntil: clock.now() + 3_600_000 }), new MsgpackSerializer());
  const garbage: [string, Buffer, RegExp][] = [
    ['garbage', Buffer.from('definitely not an entry'), /not an entry of this library/],
    ['another envelope version', Buffer.concat([Buffer.from([0x4c, 0x43, 0x07, 0x00]), valid.subarray(4)]), /another format version/],
    ['a truncated entry', valid.subarray(0, valid.length - 3), /serializer cannot decode/],
  ];


  function instance(prefix: string) {
    const logger = new RecordingLogger();
    const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], { logger, clock });
    stacks.push(stack);
    return { stack, logger };
  }

  it.each(garbage)('%s: a miss, counted, logged with its key and reason, then replaced by the next write', async (_, bytes, reason) => {
    const prefix = uniquePrefix('undecodable');
    const { stack, logger } = instance(prefix);
    await client.set(`${prefix}user:1`, bytes);
    // Later than the bad entry's write: a truncated entry keeps its header, and so its write version, which
    // fences the load's write ("only over an older copy") as for any entry.
    await clock.advance(1);
    expect(await stack.get('user:1', () => 'loaded')).toBe('loaded');
    const redis = stack.getMetrics().layers['redis'];
    expect(redis).toMatchObject({ undecodable: 1, misses: 1, errors: 0, skipped: 0 });
    const lines = logger.lines.filter((l) => l.message.includes('undecodable'));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toContain('Layer "redis" holds undecodable data under "user:1"');
    expect(lines[0]?.message).toMatch(reason);
    // The loaded value replaced the bad bytes: another instance reads it from Redis.
    const other = instance(prefix);
    expect(await other.stack.get('user:1')).toBe('loaded');
    expect(other.stack.getMetrics().layers['redis']).toMatchObject({ hits: 1, undecodable: 0 });
  });

  it('another Redis type under the key (a hash): a miss counted as undecodable, not a layer failure, and overwritten', async () => {
    const prefix = uniquePrefix('undecodable-type');
    const { stack, logger } = instance(prefix);
    await client.hset(`${prefix}user:1`, 'field', 'value');
    expect(await stack.get('user:1', () => 'loaded')).toBe('loaded');
    expect(stack.getMetrics().layers['redis']).toMatchObject({ undecodable: 1, misses: 1, errors: 0, skipped: 0 });
    const lines = logger.lines.filter((l) => l.message.includes('undecodable'));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toMatch(/another Redis type/);
    expect(await client.type(`${prefix}user:1`)).toBe('string'); // the load's write replaced the hash
    const other = instance(prefix);
    expect(await other.stack.get('user:1')).toBe('loaded');
    expect(other.stack.getMetrics().layers['redis']).toMatchObject({ hits: 1, errors: 0 });
  });

  it('bulk reads count each undecodable entry; a burst is logged once, and again after a quiet minute', async () => {
    const prefix = uniquePrefix('undecodable-burst');
    const { stack, logger } = instance(prefix);
    const keys = ['a', 'b', 'c', 'd'];
    for (const key of keys) await client.set(`${prefix}${key}`, Buffer.from(`bad ${key}`));
    await client.set(`${prefix}ok`, valid);
    expect(await stack.getMany([...keys, 'ok'])).toEqual([undefined, undefined, undefined, undefined, { user: 'alice' }]);
    for (const key of keys) expect(await stack.get(key)).toBeUndefined();
    expect(stack.getMetrics().layers['redis']).toMatchObject({ undecodable: 8, errors: 0 });
    const undecodableLines = () => logger.lines.filter((l) => l.message.includes('undecodable data'));
    expect(undecodableLines()).toHaveLength(1);

    await clock.advance(UNDECODABLE_LOG_INTERVAL_MS);
    expect(await stack.get('a')).toBeUndefined();
    expect(undecodableLines()).toHaveLength(2);
    expect(undecodableLines()[1]?.message).toContain('7 more since the last such line');
    expect(stack.getMetrics().layers['redis']?.undecodable).toBe(9);
  });

  it('undecodable data never opens the back-off window: the layer keeps answering', async () => {
    const prefix = uniquePrefix('undecodable-guard');
    const { stack } = instance(prefix);
    await client.set(`${prefix}bad`, Buffer.from('bad'));
    await client.set(`${prefix}good`, valid);
    expect(await stack.get('bad')).toBeUndefined();
    expect(await stack.get('good')).toEqual({ user: 'alice' });
    expect(stack.getMetrics().layers['redis']).toMatchObject({ hits: 1, undecodable: 1, errors: 0, skipped: 0 });
  });
});
