/**
 * `writePolicy: 'strict'`: what a write or delete that some layer did not confirm turns into. A layer that
 * failed, timed out or was skipped in its back-off window is a failure (`LayerSet.write` / `delete` report them).
 *
 * - A set: the value must be in no layer, since the caller is told it was not written. Its keys are deleted
 *   from every layer (`LayerSet.delete`): the layers that took it lose it now, and a failed shared layer — which
 *   may hold an older value, or the new one if a timed-out command landed late — gets the delete now or, when it
 *   fails again, replayed on its recovery (the replay is sent after the late command on the same connection).
 *   The caller's `StackWrites` then announces the keys as usual, so peers drop their copies. The key ends absent,
 *   not at its previous value: there is no atomic way back to a value another process may have replaced.
 * - A delete: the keys are gone from every layer that answered, and the failed layer gets the delete replayed
 *   on recovery (as under best-effort). Consistent then means "absent everywhere once the failed layer is
 *   back"; the error tells the caller that until then other processes may still read the old value there.
 * Then it throws `WriteFailedError` naming the failed layer(s) and the keys.
 */
import { WriteFailedError } from '../core/errors.js';
import type { LayerFailure, LayerSet } from './layer-set.js';

export class StrictWrites {
  /** Strict writes and deletes rejected. */
  failures = 0;

  constructor(private readonly layers: LayerSet) {}

  /** After a set of `keys`: undoes it everywhere when a layer failed. Resolves to the error to throw, if any. */
  async undoSet(keys: readonly string[], failures: readonly LayerFailure[]): Promise<WriteFailedError | undefined> {
    if (failures.length === 0) return undefined;
    await this.layers.delete(keys);
    return this.error('set', keys, failures);
  }

  /** After a delete of `keys`: the error to throw when a layer failed. */
  deleteError(keys: readonly string[], failures: readonly LayerFailure[]): WriteFailedError | undefined {
    return failures.length === 0 ? undefined : this.error('delete', keys, failures);
  }

  private error(operation: 'set' | 'delete', keys: readonly string[], failures: readonly LayerFailure[]): WriteFailedError {
    this.failures++;
    const sorted = [...failures].sort((a, b) => a.index - b.index);
    return new WriteFailedError(operation, sorted.map((f) => this.layers.name(f.index)), keys, sorted[0]?.error);
  }
}
