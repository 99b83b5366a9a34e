/**
 * Jest test environment of the integration and e2e projects: Node's, plus the process warning guard. A test file
 * during which the process raises any warning but the VM modules' ExperimentalWarning fails (process-warnings.ts).
 * An environment, not a setup file: the test files' `process` is Jest's copy with listeners of its own, and only the
 * environment sees the real process, from before the first test to after the file's last `afterAll`.
 */
import { createRequire } from 'node:module';
import { TestEnvironment as NodeEnvironment } from 'jest-environment-node';

// Jest loads an environment without `moduleNameMapper` (as the global setup): the helper is required by its real
// `.ts` name while Jest's require hook is active (during this module's evaluation).
const { isAllowedInTestFile, WARNING_RECORDER, WarningRecorder } = createRequire(import.meta.url)('./process-warnings.ts') as typeof import('./process-warnings.js');

export default class WarningGuardEnvironment extends NodeEnvironment {
  private readonly warnings: InstanceType<typeof WarningRecorder> = new WarningRecorder(isAllowedInTestFile);

  override async setup(): Promise<void> {
    await super.setup();
    (this.global as Record<symbol, unknown>)[WARNING_RECORDER] = this.warnings;
    this.warnings.start();
  }

  override async teardown(): Promise<void> {
    try {
      await this.warnings.stop();
    } finally {
      await super.teardown();
    }
  }
}
