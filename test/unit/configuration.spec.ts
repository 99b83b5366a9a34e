/**
 * Strict and forgiving configuration (docs/configuration.md): every options object a user writes rejects an unknown
 * name with an `InvalidOptionError` naming `<Object>.<option>` and the closest known option (or the direction for a
 * name from layercache / @nestjs/cache-manager); durations without a unit are seconds; a ttl that looks like
 * milliseconds is logged once per stack. The module's side is in test/e2e/module-configuration.spec.ts.
 */
import 'reflect-metadata';
import { InvalidOptionError } from '../../lib/core/errors.js';
import { likelyMillisecondsWarning, toMilliseconds } from '../../lib/core/duration.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { MemoryRevalidationLock } from '../../lib/core/memory-revalidation.lock.js';
import { DiskLayer } from '../../lib/layers/disk.layer.js';
import { MemcachedLayer } from '../../lib/layers/memcached.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { RedisTagStore } from '../../lib/redis/redis-tag.store.js';
import { RedisRevalidationLock } from '../../lib/redis/redis-revalidation.lock.js';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';
import { Cacheable } from '../../lib/decorators/cacheable.decorator.js';
import { CachePut } from '../../lib/decorators/cache-put.decorator.js';
import { CacheEvict } from '../../lib/decorators/cache-evict.decorator.js';
import { buildStack, RecordingLogger } from '../support/stack-builder.js';
import { FakeClock } from '../support/fake-clock.js';

/** The error `run` throws (synchronously or by rejecting); fails the test when it throws nothing or something else. */
async function optionError(run: () => unknown): Promise<InvalidOptionError> {
  let thrown: unknown;
  try {
    await run();
  } catch (error) {
    thrown = error;
  }
  if (thrown instanceof InvalidOptionError) return thrown;
  throw new Error(`expected an InvalidOptionError, got ${String(thrown)}`);
}

/** Applies a method decorator to a fresh class, as `class Service { @decorator method() {} }` does. */
function decorate(decorator: MethodDecorator): void {
  class Service {
    async method(): Promise<number> {
      return 1;
    }
  }
  decorator(Service.prototype, 'method', Object.getOwnPropertyDescriptor(Service.prototype, 'method')!);
}

/** Has the shape of an ioredis client; a layer's constructor calls nothing on it. */
const UNUSED_CLIENT = { getBuffer() {}, mgetBuffer() {}, pipeline() {}, evalsha() {} };

const stackOf = () => buildStack([new MemoryLayer()]).stack;
const loader = () => 1;

describe('an unknown option name is an InvalidOptionError naming it and the closest known option', () => {
  it.each<[string, () => unknown, string, string]>([
    ['new CacheStack', () => new CacheStack([new MemoryLayer()], { staleWhileRevalidte: 10 } as never), 'CacheStack.staleWhileRevalidte', 'staleWhileRevalidate'],
    ['CacheStack circuitBreaker', () => new CacheStack([new MemoryLayer()], { circuitBreaker: { failureTreshold: 1, window: 1, cooldown: 1 } } as never), 'circuitBreaker.failureTreshold', 'failureThreshold'],
    ['CacheStack loaderRateLimit', () => new CacheStack([new MemoryLayer()], { loaderRateLimit: { concurency: 1, scope: 'key' } } as never), 'loaderRateLimit.concurency', 'concurrency'],
    ['CacheStack writeBehind', () => new CacheStack([new MemoryLayer()], { writeBehind: { maxBtach: 1 } } as never), 'writeBehind.maxBtach', 'maxBatch'],
    ['CacheStack adaptiveTtl', () => new CacheStack([new MemoryLayer()], { ttl: 1, adaptiveTtl: { max: 10, hist: 2 } } as never), 'adaptiveTtl.hist', 'hits'],
    ['CacheStack tracing', () => new CacheStack([new MemoryLayer()], { tracing: { nmae: 'x' } } as never), 'tracing.nmae', 'name'],
    ['get options', () => stackOf().get('k', loader, { tll: 1 } as never), 'tll', 'ttl'],
    ['getDetailed options', () => stackOf().getDetailed('k', loader, { staleIfEror: 1 } as never), 'staleIfEror', 'staleIfError'],
    ['set options', () => stackOf().set('k', 1, { negativeTl: 1 } as never), 'negativeTl', 'negativeTtl'],
    ['wrap options', () => stackOf().wrap('k', loader, { loaderTimout: 1 } as never), 'loaderTimout', 'loaderTimeout'],
    ['getOrSet options', () => stackOf().getOrSet('k', loader, { slidingTTL: true } as never), 'slidingTTL', 'slidingTtl'],
    ['setMany item', () => stackOf().setMany([{ key: 'k', vlaue: 1 }] as never), 'items[0].vlaue', 'value'],
    ['setMany item options', () => stackOf().setMany([{ key: 'k', value: 1, options: { tgas: [] } }] as never), 'tgas', 'tags'],
    ['memoize options', () => stackOf().memoize('f', loader, { maxTl: 1 } as never), 'maxTl', 'maxTtl'],
    ['namespace options', () => stackOf().namespace('n', { refreshAhaed: 0.5 } as never), 'refreshAhaed', 'refreshAhead'],
    ['warm entry', () => stackOf().warm([{ key: 'k', loader, priorty: 1 }] as never), 'entries[0].priorty', 'priority'],
    ['warm entry options', () => stackOf().warm([{ key: 'k', loader, options: { tll: 1 } }] as never), 'entries[0].options.tll', 'ttl'],
    ['health options', () => stackOf().health({ tiemout: 1 } as never), 'options.tiemout', 'timeout'],
    ['exportSnapshot options', () => stackOf().exportSnapshot({ fiel: 'x' } as never), 'exportSnapshot.fiel', 'file'],
    ['importSnapshot options', () => stackOf().importSnapshot(new Uint8Array(), { serialiser: {} } as never), 'importSnapshot.serialiser', 'serializer'],
    ['invalidateByPrefix options', () => stackOf().invalidateByPrefix('a', { limt: 1 } as never), 'options.limt', 'limit'],
    ['MemoryRevalidationLock', () => new MemoryRevalidationLock({ clokc: undefined } as never), 'MemoryRevalidationLock.clokc', 'clock'],
    ['MemoryLayer', () => new MemoryLayer({ maxSzie: 1 } as never), 'MemoryLayer.maxSzie', 'maxSize'],
    ['DiskLayer', () => new DiskLayer({ directory: '/tmp/x', maxFiels: 1 } as never), 'DiskLayer.maxFiels', 'maxFiles'],
    ['MemcachedLayer', () => new MemcachedLayer({ servers: ['localhost:1'], prefx: 'a' } as never), 'MemcachedLayer.prefx', 'prefix'],
    ['RedisLayer', () => new RedisLayer({ client: {}, prefx: 'a' } as never), 'RedisLayer.prefx', 'prefix'],
    ['RedisLayer compression', () => new RedisLayer({ client: UNUSED_CLIENT, compression: { algorithm: 'gzip', treshold: 1 } } as never), 'RedisLayer.compression.treshold', 'threshold'],
    ['RedisTagStore', () => new RedisTagStore({ client: {}, prefx: 'a' } as never), 'RedisTagStore.prefx', 'prefix'],
    ['RedisRevalidationLock', () => new RedisRevalidationLock({ client: {}, prefx: 'a' } as never), 'RedisRevalidationLock.prefx', 'prefix'],
    ['RedisInvalidationBus', () => new RedisInvalidationBus({ client: {}, chanel: 'a' } as never), 'RedisInvalidationBus.chanel', 'channel'],
    ['RedisSingleFlightCoordinator', () => new RedisSingleFlightCoordinator({ client: {}, pollIntervall: 1 } as never), 'RedisSingleFlightCoordinator.pollIntervall', 'pollInterval'],
    ['@Cacheable', () => decorate(Cacheable({ staleWhileRevalidte: 1 } as never)), 'Cacheable.staleWhileRevalidte', 'staleWhileRevalidate'],
    ['@CachePut', () => decorate(CachePut({ key: 'k', tll: 1 } as never)), 'CachePut.tll', 'ttl'],
    ['@CacheEvict', () => decorate(CacheEvict({ key: 'k' } as never)), 'CacheEvict.key', 'keys'],
  ])('%s', async (_name, run, option, closest) => {
    const error = await optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`unknown option; did you mean "${closest}"?`);
  });

  it('names the decorated method in a decorator\'s message', async () => {
    const error = await optionError(() => decorate(Cacheable({ tll: 1 } as never)));
    expect(error.message).toMatch(/^Invalid option "Cacheable.tll": @Cacheable on Service\.method: unknown option; did you mean "ttl"\?/);
  });

  it('accepts every known name (loaderTimeout on @Cacheable, not on @CachePut)', async () => {
    expect(() => decorate(Cacheable({ key: 'k', ttl: 1, loaderTimeout: 1, stack: 's', namespace: 'n', condition: () => true, unless: () => false, tags: ['t'] }))).not.toThrow();
    expect((await optionError(() => decorate(CachePut({ key: 'k', loaderTimeout: 1 } as never)))).option).toBe('CachePut.loaderTimeout');
    const { stack } = buildStack([new MemoryLayer({ ttl: 1, maxSize: 1, maxBytes: 1000, maxEntryBytes: 100, name: 'm' })], { ttl: 1, staleWhileRevalidate: 1, hashLongKeys: true, layerTimeout: 1, writePolicy: 'strict' });
    await expect(stack.set('k', 1, { ttl: 1, tags: ['a'], negativeTtl: 1, timeZone: 'UTC', ttlJitter: 0.1 })).resolves.toBeUndefined();
  });
});

describe('names from other cache libraries get directions', () => {
  it.each<[string, () => unknown, string, RegExp]>([
    ['layercache gracefulDegradation', () => new CacheStack([new MemoryLayer()], { gracefulDegradation: true } as never), 'CacheStack.gracefulDegradation', /always on: a failing shared layer is skipped.*layerTimeout \/ layerBackoff/],
    ['layercache stampedePrevention', () => new CacheStack([new MemoryLayer()], { stampedePrevention: true } as never), 'CacheStack.stampedePrevention', /always on: a key is loaded once per process/],
    ['layercache negativeCaching', () => new CacheStack([new MemoryLayer()], { negativeCaching: true } as never), 'CacheStack.negativeCaching', /use negativeTtl/],
    ['layercache fetcherRateLimit (per call)', () => stackOf().get('k', loader, { fetcherRateLimit: {} } as never), 'fetcherRateLimit', /renamed loaderRateLimit/],
    ['layercache circuitBreaker.cooldownMs', () => new CacheStack([new MemoryLayer()], { circuitBreaker: { cooldownMs: 1 } } as never), 'circuitBreaker.cooldownMs', /renamed cooldown/],
    ['layercache writeBehind.batchSize', () => new CacheStack([new MemoryLayer()], { writeBehind: { batchSize: 1 } } as never), 'writeBehind.batchSize', /renamed maxBatch/],
    ['layercache RedisInvalidationBus publisher', () => new RedisInvalidationBus({ publisher: {} } as never), 'RedisInvalidationBus.publisher', /renamed client/],
    ['layercache RedisLayer decompressionMaxBytes', () => new RedisLayer({ client: {}, decompressionMaxBytes: 1 } as never), 'RedisLayer.decompressionMaxBytes', /renamed maxInflatedBytes/],
    ['layercache warm entry fetcher', () => stackOf().warm([{ key: 'k', fetcher: loader }] as never), 'entries[0].fetcher', /renamed loader/],
    ['cache-manager max on a layer', () => new MemoryLayer({ max: 100 } as never), 'MemoryLayer.max', /renamed maxSize/],
    ['cache-manager stores', () => new CacheStack([new MemoryLayer()], { stores: [] } as never), 'CacheStack.stores', /layers are given as instances/],
    ['cache-manager refreshThreshold on @Cacheable', () => decorate(Cacheable({ refreshThreshold: 1 } as never)), 'Cacheable.refreshThreshold', /use refreshAhead/],
  ])('%s', async (_name, run, option, hint) => {
    const error = await optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(hint);
    expect(error.message).not.toContain('did you mean');
  });
});

describe('durations without a unit are seconds', () => {
  it.each<[string | number, number]>([
    ['300', 300_000],
    [' 300 ', 300_000],
    ['1.5', 1_500],
    ['0', 0],
    [300, 300_000],
    ['250ms', 250],
    [' 5 m ', 300_000],
  ])('%p is %p ms', (value, ms) => {
    expect(toMilliseconds(value, 'ttl')).toBe(ms);
  });

  it.each(['', ' ', '-5', '5x', '1e3', '5 minutes'])('rejects %p naming the option', (value) => {
    expect(() => toMilliseconds(value, 'ttl')).toThrow(/Invalid option "ttl": expected seconds/);
  });

  it("a stack's ttl '300' keeps entries 300 s, a layer ttl '2' caps it at 2 s, a ttlJitter '5' jitters within ±5 s", async () => {
    const clock = new FakeClock(1_000_000);
    const { stack } = buildStack([new MemoryLayer()], { clock, ttl: '300' as never });
    await stack.set('k', 'v');
    expect((await stack.getDetailed('k')).freshUntil).toBe(1_000_000 + 300_000);
    const capped = buildStack([new MemoryLayer({ ttl: ' 2 ' as never })], { clock }).stack;
    await capped.set('k', 'v');
    expect((await capped.getDetailed('k')).freshUntil).toBe(1_000_000 + 2_000);
    const jittered = buildStack([new MemoryLayer()], { clock, ttl: 100, ttlJitter: '5' as never }).stack;
    const until: number[] = [];
    for (let i = 0; i < 40; i++) {
      await jittered.set(`k${i}`, i);
      until.push((await jittered.getDetailed(`k${i}`)).freshUntil!);
    }
    expect(until.every((t) => t >= 1_000_000 + 95_000 && t <= 1_000_000 + 105_000)).toBe(true);
    expect(new Set(until).size).toBeGreaterThan(1);
  });

  it('a count given as a string of digits is an error that says to convert it (counts are not parsed)', () => {
    expect(() => new MemoryLayer({ maxSize: '1000' } as never)).toThrow(
      'Invalid option "MemoryLayer.maxSize": expected a positive integer number of entries, got the string "1000" (convert it to a number: Number(value))',
    );
  });
});

describe('a ttl that looks like milliseconds', () => {
  it.each<[unknown, string | undefined]>([
    [60_000, "ttl: 60000 is read as seconds (16.7 hours); write '60s' or 60 if you meant 60000 milliseconds, or give a unit ('1000m') to keep it and silence this warning"],
    ['300000', "ttl: \"300000\" is read as seconds (3.5 days); write '300s' or 300 if you meant 300000 milliseconds, or give a unit ('5000m') to keep it and silence this warning"],
    [1_209_600, "ttl: 1209600 is read as seconds (14 days); write '1209.6s' or 1209.6 if you meant 1209600 milliseconds, or give a unit ('14d') to keep it and silence this warning"],
    [604_800, undefined], // 7 days exactly
    [3600, undefined],
    [86_400, undefined],
    [5000, undefined],
    ['7d', undefined],
    ['60000ms', undefined],
    ['30d', undefined],
    [undefined, undefined],
  ])('%p', (value, warning) => {
    expect(likelyMillisecondsWarning(value, 'ttl')).toBe(warning);
  });

  it('is logged once per stack through its logger: the stack ttl, stale windows and a layer ttl; never per call', async () => {
    const logger = new RecordingLogger();
    const layer = new MemoryLayer({ ttl: 3_600_000 });
    // maxLifetime (with a unit: no warning of its own) above the 1000-day window, so no entry is capped (and warned of) here.
    const { stack } = buildStack([layer, new MemoryLayer({ name: 'other', ttl: '1h' })], { logger, ttl: 60_000, staleWhileRevalidate: '86400000', staleIfError: 3600, maxLifetime: '2000d' });
    expect(logger.lines.map((line) => line.message.split(' is read')[0])).toEqual(['ttl: 60000', 'staleWhileRevalidate: "86400000"', 'MemoryLayer.ttl: 3600000']);
    expect(logger.lines.every((line) => line.level === 'warn')).toBe(true);
    await stack.get('k', loader, { ttl: 60_000 });
    await stack.set('k2', 1, { ttl: 60_000 });
    expect(logger.lines).toHaveLength(3);
    // The layer's warning is given once: a second stack given the same layer does not repeat it.
    const second = new RecordingLogger();
    buildStack([layer], { logger: second });
    expect(second.lines).toEqual([]);
  });
});
