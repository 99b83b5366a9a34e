/**
 * The module's side of bus security: with `redis` (distributed on by default) and no `distributed.secret`, an
 * app started with NODE_ENV=production logs one warning that the bus runs unsigned; with a secret, or outside
 * production, none. The secret also reaches the single-flight coordinator (its notices are signed).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheStack, LayerCacheModule, type LayerCacheModuleOptions } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../support/nest-app.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const UNSIGNED_WARNING = /run unsigned \(no `distributed\.secret`\)/;

describe.each(ADAPTERS)('LayerCacheModule bus security warning, on %s', (adapter) => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Starts an app with `options` under NODE_ENV=`env`; returns its logged warnings and the app. */
  async function start(
    env: string | undefined,
    options: Partial<LayerCacheModuleOptions>,
    prefix = `e2e:${randomUUID()}:`,
  ): Promise<{ warnings: string[]; app: INestApplication }> {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => void warnings.push(message), error: () => undefined };
    const saved = process.env.NODE_ENV;
    if (env === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = env;
    try {
      const app = await startApp(
        { imports: [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix }, logger, ...options })] },
        adapter,
      );
      return { warnings, app };
    } finally {
      if (saved === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = saved;
    }
  }

  it('NODE_ENV=production without a secret: one startup warning naming the risk and the fix', async () => {
    const { warnings, app } = await start('production', {});
    try {
      expect(warnings.filter((line) => UNSIGNED_WARNING.test(line))).toHaveLength(1);
      expect(warnings.find((line) => UNSIGNED_WARNING.test(line))).toMatch(/anyone who can PUBLISH on this Redis/);
      expect(warnings.find((line) => UNSIGNED_WARNING.test(line))).toMatch(/distributed: \{ secret \}/);
    } finally {
      await app.close();
    }
  });

  it('with a secret, or outside production, or with distributed: false: no warning', async () => {
    for (const [env, options] of [
      ['production', { distributed: { secret: 's3cret' } }],
      ['development', {}],
      [undefined, {}],
      ['production', { distributed: false }],
    ] as const) {
      const { warnings, app } = await start(env, options);
      try {
        expect(warnings.filter((line) => UNSIGNED_WARNING.test(line))).toEqual([]);
      } finally {
        await app.close();
      }
    }
  });

  it('the secret signs the single-flight notices too', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    const listener = new Redis(server.url);
    const notices: string[] = [];
    listener.on('message', (_channel: string, message: string) => void notices.push(message));
    await listener.subscribe(`${prefix}\u001ffill`); // the coordinator's notice channel, under the layer's prefix
    const { app } = await start('production', { distributed: { secret: 's3cret' } }, prefix);
    try {
      await app.get(CacheStack).get('k', () => 'loaded'); // a miss everywhere: this instance leads and notices "filled"
      for (let i = 0; i < 200 && notices.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      await app.get(CacheStack).idle(); // the lease's release ("released") follows the fill
      expect(notices.length).toBeGreaterThan(0);
      expect(notices.map((notice) => notice[0])).toContain('F'); // a signed "filled" ('f' when unsigned)
      expect(notices.filter((notice) => notice[0] !== 'F' && notice[0] !== 'R')).toEqual([]); // nothing unsigned
    } finally {
      await app.close();
      await listener.quit();
    }
  });
});
