import 'reflect-metadata';
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Param, type LoggerService } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CacheStack, LayerCacheModule, MemoryLayer, type LayerCacheModuleRootOptions } from '../../lib/index.js';
import { ADAPTERS, type AdapterName } from '../support/nest-app.js';
import { startRedisServer } from '../support/redis-server.js';

/** The app's own logger: records every line with its context. */
class RecordingNestLogger implements LoggerService {
  readonly lines: { level: string; message: string; context: unknown }[] = [];
  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  private record(level: string, message: unknown, rest: unknown[]): void {
    this.lines.push({ level, message: String(message), context: rest.at(-1) });
  }
}

@Controller('items')
class ItemsController {
  constructor(@Inject(CacheStack) private readonly cache: CacheStack) {}

  @Get(':id')
  async item(@Param('id') id: string): Promise<{ id: string }> {
    return (await this.cache.get(`item:${id}`, () => ({ id }))) as { id: string };
  }
}

/** An app whose Nest logger is `logger`, set before the module builds its stack. */
async function startLoggedApp(adapter: AdapterName, logger: RecordingNestLogger, options: LayerCacheModuleRootOptions) {
  const controllers = options.name === undefined ? [ItemsController] : [];
  const moduleRef = await Test.createTestingModule({ imports: [LayerCacheModule.forRoot(options)], controllers })
    .setLogger(logger)
    .compile();
  const app = adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(ADAPTERS)('the module logs through Nest\'s Logger by default, on %s', (adapter) => {
  let deadUrl: string;
  beforeAll(async () => {
    const server = await startRedisServer();
    deadUrl = server.url;
    await server.stop(); // a port with nothing listening
  });
  afterEach(() => jest.restoreAllMocks());

  it('a Redis failure reaches the app logger under the LayerCache context, and nothing goes to console', async () => {
    const consoleLines: string[] = [];
    for (const method of ['log', 'warn', 'error'] as const) {
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleLines.push(args.map(String).join(' ')));
    }
    const logger = new RecordingNestLogger();
    const app = await startLoggedApp(adapter, logger, { layers: [() => new MemoryLayer()], redis: deadUrl, redisLayer: { prefix: `e2e:${randomUUID()}:` } });
    try {
      await request(app.getHttpServer()).get('/items/a').expect(200);
      const ours = logger.lines.filter((line) => line.context === 'LayerCache');
      expect(ours.some((line) => line.level === 'warn' && /Layer "redis" failed/.test(line.message))).toBe(true);
      expect(ours.some((line) => /Redis connection of LayerCacheModule failed/.test(line.message))).toBe(true);
      expect(ours.some((line) => /invalidation bus/i.test(line.message))).toBe(true);
    } finally {
      await app.close();
    }
    expect(consoleLines.filter((line) => line.includes('[layercache]'))).toEqual([]);
  });

  it('a named stack logs under LayerCache:<name>; a logger option wins over Nest\'s', async () => {
    const logger = new RecordingNestLogger();
    const own: string[] = [];
    const mine = { warn: (message: string) => void own.push(message), error: (message: string) => void own.push(message) };
    const named = await startLoggedApp(adapter, logger, { name: 'sessions', layers: [() => new MemoryLayer()], redis: deadUrl, distributed: false });
    const custom = await startLoggedApp(adapter, logger, { layers: [() => new MemoryLayer()], redis: deadUrl, distributed: false, logger: mine });
    try {
      await named.get<CacheStack>('nestjs-layercache:stack:sessions').get('k', () => 1);
      await request(custom.getHttpServer()).get('/items/a').expect(200);
      expect(logger.lines.some((line) => line.context === 'LayerCache:sessions' && /Layer "redis" failed/.test(line.message))).toBe(true);
      expect(own.some((message) => /Layer "redis" failed/.test(message))).toBe(true);
      expect(logger.lines.filter((line) => line.context === 'LayerCache')).toEqual([]);
    } finally {
      await named.close();
      await custom.close();
    }
  });
});
