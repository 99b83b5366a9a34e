/**
 * The warning guard of the integration and e2e projects: every process `warning` (MaxListenersExceededWarning,
 * DeprecationWarning, an unhandled rejection's warning...) raised while a test file runs fails that file, except
 * Node's ExperimentalWarning for the VM modules Jest runs ESM with. Issue 18 (point 5) saw "11 close listeners added
 * to [Socket]" with several stacks on one Redis Cluster; this keeps any such warning from passing unnoticed.
 */

/** A warning a test file may raise: Jest's own use of `--experimental-vm-modules`. */
export function isAllowedWarning(warning: Error): boolean {
  return warning.name === 'ExperimentalWarning' && /VM Modules/i.test(warning.message);
}

/** The type of the warnings test/integration/process-warnings.spec.ts raises on purpose to test the guard. */
export const SELF_TEST_WARNING = 'LayercacheWarningGuardSelfTest';

/** What the per-file guard lets pass: {@link isAllowedWarning}, and the guard's own self-test warnings. */
export function isAllowedInTestFile(warning: Error): boolean {
  return isAllowedWarning(warning) || warning.name === SELF_TEST_WARNING;
}

/** Where the guard's environment shows its recorder to the test files (process-warnings.spec.ts checks it). */
export const WARNING_RECORDER = Symbol.for('nestjs-layercache.test.warning-recorder');

/** Collects the process warnings raised from `start()` to `stop()`: the ones not allowed, and the allowed ones. */
export class WarningRecorder {
  /** Warnings that fail `stop()`. */
  readonly seen: Error[] = [];
  /** Warnings let pass. */
  readonly passed: Error[] = [];
  private readonly listener = (warning: Error): void => {
    (this.allowed(warning) ? this.passed : this.seen).push(warning);
  };

  constructor(
    private readonly allowed: (warning: Error) => boolean = isAllowedWarning,
    private readonly target: NodeJS.EventEmitter = process,
  ) {}

  start(): void {
    this.target.on('warning', this.listener);
  }

  /**
   * Stops listening once the warnings emitted so far were delivered (Node emits them on a later tick) and throws
   * one error naming each warning that was not allowed, with its stack.
   */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.target.off('warning', this.listener);
    if (this.seen.length === 0) return;
    const lines = this.seen.map((warning) => `${warning.name}: ${warning.message}\n${warning.stack ?? ''}`);
    throw new Error(`${this.seen.length} process warning(s) while this file ran:\n${lines.join('\n\n')}`);
  }
}
