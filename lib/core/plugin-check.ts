/**
 * The eager check of a collaborator object given as an option (an invalidation bus, a load coordinator): shared by
 * the stack's options and the module's, so both name the option the same way when it does not fit.
 */
import { InvalidOptionError } from './errors.js';

/** Checks an optional collaborator object by its methods, naming the option when it does not fit. */
export function checkPlugin<T>(value: T | undefined, option: string, methods: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Record<string, unknown> | null;
  if (typeof candidate !== 'object' || candidate === null || methods.some((m) => typeof candidate[m] !== 'function')) {
    throw new InvalidOptionError(option, `expected an object with ${methods.join(', ')} methods`);
  }
  return value;
}
