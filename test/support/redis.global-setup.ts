import { createRequire } from 'node:module';

/** The environment variable that carries the shared server's URL to the test files. */
export const TEST_REDIS_URL_ENV = 'LAYERCACHE_TEST_REDIS_URL';

/** Where the setup leaves the function that stops the shared server, for the teardown (same realm). */
export const STOP_SHARED_REDIS = Symbol.for('nestjs-layercache.test.stop-shared-redis');

/**
 * Jest globalSetup of the `integration` project: starts ONE redis-server on a free loopback port for the
 * whole run and exports its URL as `LAYERCACHE_TEST_REDIS_URL`. Tests isolate by a unique key prefix each
 * and never FLUSHALL the shared server.
 *
 * Jest loads this file with `require` (its transform applies, `moduleNameMapper` does not), so a static
 * `import './redis-server.js'` would be resolved by Node and fail: the helper is required by its real
 * `.ts` name while Jest's require hook is active (it stays active until this function settles).
 */
export default async function globalSetup(): Promise<void> {
  const { redisServerAvailable, startRedisServer } = createRequire(import.meta.url)(
    './redis-server.ts',
  ) as typeof import('./redis-server.js');
  if (!redisServerAvailable()) {
    throw new Error(
      'redis-server not found: the integration tests start their own redis-server. Install it with ' +
        '`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
  const server = await startRedisServer();
  process.env[TEST_REDIS_URL_ENV] = server.url;
  (globalThis as Record<symbol, unknown>)[STOP_SHARED_REDIS] = async (): Promise<void> => {
    delete process.env[TEST_REDIS_URL_ENV];
    await server.stop();
  };
}
