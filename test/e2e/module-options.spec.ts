import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { zstdAvailable } from '../../lib/core/entry-compression.js';
import {
  InvalidOptionError,
  LayerCacheModule,
  MemoryLayer,
  type LayerCacheModuleOptions,
  type LayerCacheModuleRootOptions,
} from '../../lib/index.js';

/** Runs `fn` and returns the InvalidOptionError it throws (failing the test when it throws nothing or something else). */
function optionError(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, nothing was thrown');
}

describe('LayerCacheModule configuration errors', () => {
  describe('forRoot: checked when called, naming the option', () => {
    const cases: [label: string, options: unknown, option: string, message: RegExp | null][] = [
      ['a layer that is not a layer', { layers: [new MemoryLayer(), { name: 'fake' }] }, 'layers[1]', /expected a cache layer/],
      ['a layer class instead of an instance', { layers: [MemoryLayer] }, 'layers[0]', /new MemoryLayer\(\)/],
      ['layers that are not an array', { layers: new MemoryLayer() }, 'layers', null],
      ['no layer at all', { layers: [] }, 'layers', null],
      ['a negative ttl', { ttl: -1 }, 'ttl', null],
      ['a ttl without unit', { ttl: '5 minutes' }, 'ttl', null],
      ['a bad staleWhileRevalidate', { staleWhileRevalidate: 'soon' }, 'staleWhileRevalidate', null],
      ['a bad layerTimeout', { layerTimeout: 0 }, 'layerTimeout', null],
      ['redis of the wrong type', { redis: 6379 }, 'redis', /URL, ioredis RedisOptions or \{ client \}/],
      ['an empty redis URL', { redis: '' }, 'redis', null],
      ['redis: { client } that is not a client', { redis: { client: {} } }, 'redis.client', null],
      ['redisLayer without redis', { redisLayer: { prefix: 'x:' } }, 'redisLayer', null],
      ['an empty redisLayer.prefix', { redis: 'redis://127.0.0.1:1', redisLayer: { prefix: '' } }, 'redisLayer.prefix', null],
      ['an unknown redisLayer.compression', { redis: 'redis://127.0.0.1:1', redisLayer: { compression: 'lz4' } }, 'redisLayer.compression', /'gzip', 'brotli' or 'zstd'/],
      ['a redisLayer.compression.level out of range', { redis: 'redis://127.0.0.1:1', redisLayer: { compression: { algorithm: 'gzip', level: 11 } } }, 'redisLayer.compression.level', /from 1 to 9/],
      ['an unknown redisLayer option', { redis: 'redis://127.0.0.1:1', redisLayer: { compress: 'gzip' } }, 'redisLayer.compress', /unknown option/],
      ['redisLayer.compression zstd on a Node without it', { redis: 'redis://127.0.0.1:1', redisLayer: { compression: zstdAvailable() ? 'lz4' : 'zstd' } }, 'redisLayer.compression', zstdAvailable() ? null : /zstd needs Node 22.15\+/],
      ['an empty name', { name: '' }, 'name', null],
      ['a name that is not a string', { name: 42 }, 'name', null],
      ['isGlobal that is not a boolean', { isGlobal: 'yes' }, 'isGlobal', null],
    ];
    it.each(cases)('%s', (_label, options, option, message) => {
      const error = optionError(() => LayerCacheModule.forRoot(options as LayerCacheModuleRootOptions));
      expect(error.option).toBe(option);
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toContain(`"${option}"`);
      if (message !== null) expect(error.message).toMatch(message);
    });

    it('names an ioredis client passed as redis itself (instead of { client })', () => {
      const client = new Redis({ lazyConnect: true });
      try {
        const error = optionError(() => LayerCacheModule.forRoot({ redis: client as never }));
        expect(error.option).toBe('redis');
        expect(error.message).toMatch(/\{ client \}/);
      } finally {
        client.disconnect();
      }
    });

    it('accepts valid options', () => {
      expect(LayerCacheModule.forRoot({ layers: [new MemoryLayer(), () => new MemoryLayer({ name: 'b' })], ttl: '5m', name: 'x' })).toMatchObject({
        module: LayerCacheModule,
        global: true,
      });
    });
  });

  describe('forRootAsync: checked when the app starts', () => {
    it.each([
      ['a bad ttl from the factory', { ttl: 'forever' }, 'ttl'],
      ['a layer factory returning a non-layer', { layers: [() => new MemoryLayer(), () => 'memory'] }, 'layers[1]'],
      ['redis of the wrong type', { redis: true }, 'redis'],
    ])('%s', async (_label, options, option) => {
      const build = Test.createTestingModule({
        imports: [LayerCacheModule.forRootAsync({ useFactory: () => options as unknown as LayerCacheModuleOptions })],
      }).compile();
      await expect(build).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(build).rejects.toMatchObject({ option });
    });

    it('rejects an empty name and a missing factory when called', () => {
      expect(optionError(() => LayerCacheModule.forRootAsync({ name: '', useFactory: () => ({}) })).option).toBe('name');
      expect(optionError(() => LayerCacheModule.forRootAsync({})).option).toBe('forRootAsync');
      expect(optionError(() => LayerCacheModule.forRootAsync({ useFactory: () => ({}), useClass: class {} as never })).message).toMatch(
        /useFactory, useClass/,
      );
    });
  });
});
