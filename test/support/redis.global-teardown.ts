/**
 * Jest globalTeardown of the `integration` project: stops the server and the cluster started by the global
 * setup, through the function it left on `globalThis` (setup and teardown run in the same realm). The symbol
 * is repeated here on purpose: like the setup, this file is loaded by Node's resolver, without `moduleNameMapper`.
 */
export default async function globalTeardown(): Promise<void> {
  const slot = globalThis as Record<symbol, unknown>;
  const key = Symbol.for('nestjs-layercache.test.stop-shared-redis');
  const stop = slot[key] as (() => Promise<void>) | undefined;
  slot[key] = undefined;
  await stop?.();
}
