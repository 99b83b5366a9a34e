/**
 * @jest-config-loader ts-node
 * @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "Bundler"}}
 */
import type { Config } from 'jest';

// Four projects: `unit` (no I/O, injected clock), `integration` (real redis-server processes started by
// test/support/redis.global-setup.ts on free loopback ports), `e2e` (real NestJS apps; later issues),
// `package` (packs the library with npm and checks the tarball). test/consumers holds apps of their own.
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/test/consumers/'],
} satisfies Config;

const config: Config = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/support/redis.global-setup.ts',
      globalTeardown: '<rootDir>/test/support/redis.global-teardown.ts',
      // Any process warning but the VM modules' ExperimentalWarning fails the file (issue 18, point 5).
      testEnvironment: '<rootDir>/test/support/warning-guard.environment.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.spec.ts'],
      // Any process warning but the VM modules' ExperimentalWarning fails the file (issue 18, point 5).
      testEnvironment: '<rootDir>/test/support/warning-guard.environment.ts',
    },
    { ...common, displayName: 'package', testMatch: ['<rootDir>/test/package/**/*.spec.ts'] },
  ],
};

export default config;
