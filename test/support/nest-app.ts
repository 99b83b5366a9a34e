/**
 * Starts a real Nest app on Express or Fastify (`@nestjs/testing`) and closes it after the test, so the HTTP tests
 * run once per adapter through supertest.
 */
import 'reflect-metadata';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';

/** The HTTP adapters the e2e specs run on. */
export const ADAPTERS = ['express', 'fastify'] as const;

/** One of {@link ADAPTERS}. */
export type AdapterName = (typeof ADAPTERS)[number];

/**
 * Compiles a testing module from `metadata` (after `customize`, e.g. `overrideProvider`) and starts an app on
 * `adapter`, ready for supertest. Close it with `app.close()`.
 */
export async function startApp(
  metadata: ModuleMetadata,
  adapter: AdapterName = 'express',
  customize: (builder: TestingModuleBuilder) => TestingModuleBuilder = (builder) => builder,
): Promise<INestApplication> {
  const moduleRef = await customize(Test.createTestingModule(metadata)).compile();
  if (adapter === 'fastify') {
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  }
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}
