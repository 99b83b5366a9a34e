/** Test helper: the `InvalidOptionError` a call throws synchronously, for assertions on its message and option. */
import { InvalidOptionError } from '../../lib/core/errors.js';

/** The InvalidOptionError `run` throws; fails the test when it throws nothing, and rethrows anything else. */
export function invalidOptionError(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}
