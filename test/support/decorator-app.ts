/**
 * Nest testing modules for the decorator tests: a memory stack on a fake clock, the context and warnings helpers,
 * and a silent logger. Hard part: decorated providers are bound to their stack at module init, so helpers init
 * the module before calling them.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger, type INestApplication, type ModuleMetadata, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { LayerCacheStackBinder } from '../../lib/decorators/stack-binder.js';
import { CacheStack, getCacheStackToken, MemoryLayer, type CacheStackOptions } from '../../lib/index.js';
import type { CacheLogger } from '../../lib/core/logger.js';
import { startApp, type AdapterName } from './nest-app.js';

/** A logger that keeps the stack quiet in tests. */
export const silentLogger: CacheLogger = { warn: () => {}, error: () => {} };

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((item) => item.close()));
});

/** A memory-only stack, closed after the test. */
export function memoryStack(options: CacheStackOptions = {}): CacheStack {
  const stack = new CacheStack([new MemoryLayer()], { logger: silentLogger, ...options });
  open.push(stack);
  return stack;
}

/** Stacks for a test module: the default one and named ones. */
export interface TestStacks {
  stack?: CacheStack;
  named?: Record<string, CacheStack>;
}

/**
 * The module the decorators need until `LayerCacheModule` provides it: `CacheStack` (and named stacks),
 * `DiscoveryModule` and the binder, plus the test's own metadata.
 */
export function cacheModuleMetadata(metadata: ModuleMetadata, stacks: TestStacks = {}): ModuleMetadata {
  const stackProviders: Provider[] = [];
  if (stacks.stack !== undefined) stackProviders.push({ provide: CacheStack, useValue: stacks.stack });
  for (const [name, stack] of Object.entries(stacks.named ?? {})) stackProviders.push({ provide: getCacheStackToken(name), useValue: stack });
  return {
    ...metadata,
    imports: [DiscoveryModule, ...(metadata.imports ?? [])],
    providers: [...stackProviders, LayerCacheStackBinder, ...(metadata.providers ?? [])],
  };
}

/** {@link cacheModuleMetadata} as a testing module builder (for `overrideProvider`). */
export function cacheTestingModule(metadata: ModuleMetadata, stacks: TestStacks = {}): TestingModuleBuilder {
  return Test.createTestingModule(cacheModuleMetadata(metadata, stacks));
}

/** Compiles and initializes (runs onModuleInit: the binder) a testing module; closed after the test. */
export async function initContext(builder: TestingModuleBuilder): Promise<TestingModule> {
  const moduleRef = await builder.compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  open.push(moduleRef);
  return moduleRef;
}

/** Starts an HTTP app (Express or Fastify) with {@link cacheModuleMetadata}; closed after the test. */
export async function initApp(metadata: ModuleMetadata, stacks: TestStacks, adapter: AdapterName = 'express'): Promise<INestApplication> {
  const app = await startApp(cacheModuleMetadata(metadata, stacks), adapter);
  open.push(app);
  return app;
}

/** Records what the decorators log through Nest's `Logger` (`warn`), silencing it. */
export function recordWarnings(): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
    lines.push(String(message));
  });
  open.push({ close: async () => spy.mockRestore() });
  return lines;
}

/** Lets background work settle (a synchronous method's store, an eviction after a sync call). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise resolved by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
