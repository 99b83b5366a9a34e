/**
 * The warning guard of the integration and e2e projects (test/support/warning-guard.environment.ts and
 * process-warnings.ts): a warning the real process raises while a file runs reaches it — the MaxListenersExceededWarning
 * of issue 18 included — and fails the file, naming the warning; only the VM modules' ExperimentalWarning passes.
 */
import { EventEmitter } from 'node:events';
import { isAllowedWarning, SELF_TEST_WARNING, WARNING_RECORDER, WarningRecorder } from '../support/process-warnings.js';

/** The recorder of this file's environment (listening on the real process, which this file's `process` is not). */
function fileRecorder(): WarningRecorder {
  const recorder = (globalThis as Record<symbol, unknown>)[WARNING_RECORDER];
  // An object of the outer realm (the environment's): no `instanceof` across realms.
  if (typeof recorder !== 'object' || recorder === null) throw new Error('the warning guard environment is not installed for this project');
  return recorder as WarningRecorder;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('process warning guard', () => {
  it('sees a warning the real process emits (process.emitWarning)', async () => {
    process.emitWarning('deliberate, to test the guard', SELF_TEST_WARNING);
    await nextTurn();
    expect(fileRecorder().passed.map((w) => `${w.name}: ${w.message}`)).toContain(`${SELF_TEST_WARNING}: deliberate, to test the guard`);
  });

  it('records the MaxListenersExceededWarning of a socket-like emitter past its listener limit as a failure', async () => {
    const recorder = fileRecorder();
    const before = recorder.seen.length;
    const socket = new EventEmitter();
    for (let i = 0; i < 11; i++) socket.on('close', () => undefined);
    await nextTurn();
    const found = recorder.seen.slice(before);
    // Taken back out: this file raised it on purpose; any other file would fail in its environment's teardown.
    recorder.seen.splice(before);
    expect(found.map((w) => w.name)).toEqual(['MaxListenersExceededWarning']);
    expect(found[0]?.message).toMatch(/11 close listeners added to \[EventEmitter\]/);
  });

  it('fails stop() naming each warning, lets the VM modules ExperimentalWarning pass, and stops listening', async () => {
    const target = new EventEmitter();
    const recorder = new WarningRecorder(isAllowedWarning, target);
    recorder.start();
    target.emit('warning', Object.assign(new Error('VM Modules is an experimental feature and might change at any time'), { name: 'ExperimentalWarning' }));
    target.emit('warning', Object.assign(new Error('Possible EventEmitter memory leak detected'), { name: 'MaxListenersExceededWarning' }));
    await expect(recorder.stop()).rejects.toThrow('1 process warning(s) while this file ran:\nMaxListenersExceededWarning: Possible EventEmitter memory leak detected');
    expect(target.listenerCount('warning')).toBe(0);
    expect(recorder.passed.map((w) => w.name)).toEqual(['ExperimentalWarning']);
    expect(isAllowedWarning(Object.assign(new Error('another experimental feature'), { name: 'ExperimentalWarning' }))).toBe(false);
  });

  it('passes stop() when nothing but allowed warnings came', async () => {
    const target = new EventEmitter();
    const recorder = new WarningRecorder(isAllowedWarning, target);
    recorder.start();
    await expect(recorder.stop()).resolves.toBeUndefined();
  });
});
