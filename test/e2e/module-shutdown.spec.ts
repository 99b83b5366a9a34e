import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CacheStack,
  LayerCacheModule,
  MemoryLayer,
  type CacheEntry,
  type CacheLayer,
  type LayerContext,
  type LayerWrite,
} from '../../lib/index.js';
import { startApp } from '../support/nest-app.js';
import { watchRedisClients } from '../support/redis-clients.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** A promise with its resolve function. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Puts `key` in its stale window: fresh for 0 s, served stale for a minute while it refreshes. */
async function makeStale(stack: CacheStack, key: string, value: unknown): Promise<void> {
  await stack.set(key, value, { ttl: 0, staleWhileRevalidate: 60 });
}

/** A memory layer whose writes wait for `gate` (not synchronous, not shared: the stack awaits it directly). */
class GatedWriteLayer implements CacheLayer {
  readonly name = 'gated';
  readonly shared = false;
  readonly ttl = undefined;
  gate: Promise<void> = Promise.resolve();
  writesStarted = 0;
  writesDone = 0;
  private readonly inner = new MemoryLayer();

  attach(context: LayerContext): void {
    this.inner.attach(context);
  }
  get(key: string): CacheEntry | undefined {
    return this.inner.get(key);
  }
  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return this.inner.getMany(keys);
  }
  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    await this.setMany([{ key, entry, ttlMs }]);
  }
  async setMany(items: readonly LayerWrite[]): Promise<void> {
    this.writesStarted++;
    await this.gate;
    this.inner.setMany(items);
    this.writesDone++;
  }
  delete(keys: readonly string[]): void {
    this.inner.delete(keys);
  }
  clear(prefix: string | undefined): void {
    this.inner.clear(prefix);
  }
  close(): void {
    this.inner.close();
  }
}

describe('LayerCacheModule shutdown', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('app.close() aborts a background refresh whose loader is still running; the stack then rejects calls', async () => {
    const app = await startApp({ imports: [LayerCacheModule.forRoot()] });
    const stack = app.get(CacheStack);
    await makeStale(stack, 'k', 'old');

    const started = deferred<AbortSignal>();
    const never = new Promise<string>(() => {});
    let refreshErrors = 0;
    stack.on('refresh-error', () => refreshErrors++);
    expect(await stack.get('k', ({ signal }) => (started.resolve(signal), never))).toBe('old'); // stale at once
    const signal = await started.promise;
    expect(signal.aborted).toBe(false);

    await app.close();
    expect(signal.aborted).toBe(true);
    expect(refreshErrors).toBe(0); // an abort on close is not a failure of the source
    await expect(stack.get('k')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
  });

  it('app.close() waits for a background refresh that is writing its result', async () => {
    const layer = new GatedWriteLayer();
    const moduleRef = await Test.createTestingModule({ imports: [LayerCacheModule.forRoot({ layers: [() => layer] })] }).compile();
    const stack = moduleRef.get(CacheStack);
    await makeStale(stack, 'k', 'old');
    const gate = deferred();
    layer.gate = gate.promise;

    expect(await stack.get('k', () => 'new')).toBe('old');
    await waitFor(() => layer.writesStarted === 2); // the refresh's write is in flight

    let closed = false;
    const closing = moduleRef.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false); // still waiting for the write
    gate.resolve();
    await closing;
    expect(layer.writesDone).toBe(2);
  });

  it('with enableShutdownHooks: closes the stack and quits the connection the module opened', async () => {
    const watch = watchRedisClients();
    const app = await startApp({ imports: [LayerCacheModule.forRoot({ redis: server.url, redisLayer: { prefix: `e2e:${randomUUID()}:` } })] });
    app.enableShutdownHooks();
    const stack = app.get(CacheStack);
    const client = watch.first(); // the connection the module opened
    watch.stop();
    await makeStale(stack, 'k', 'old');
    let refreshed = false;
    expect(await stack.get('k', async () => ((refreshed = true), 'new'))).toBe('old');
    // The refresh takes the revalidation lease and re-reads Redis before its loader runs (close() would abort it
    // before the loader): close while it runs, on the connection close() must not quit under it.
    await waitFor(() => refreshed);

    await app.close();
    expect(client.status).toBe('end');
    await expect(stack.get('k')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
  });

  it('closes each named stack of the app', async () => {
    const watch = watchRedisClients();
    const app: INestApplication = await startApp({
      imports: [LayerCacheModule.forRoot(), LayerCacheModule.forRoot({ name: 'sessions', redis: server.url })],
    });
    const stacks = [app.get(CacheStack), app.get<CacheStack>('nestjs-layercache:stack:sessions')];
    const client = watch.first(); // the connection the 'sessions' registration opened
    watch.stop();
    await app.close();
    for (const stack of stacks) await expect(stack.get('k')).rejects.toMatchObject({ code: 'STACK_CLOSED' });
    expect(client.status).toBe('end');
  });
});


async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}
