/**
 * Runs a loader for a flight, bounded by its timeout and by the flight's abort signal (a timeout or the
 * stack's close abort it): the returned promise settles at the first of the loader's result, its error, or
 * the abort's reason. The timer is cleared however it ends; a late result of an aborted loader is dropped.
 */
import type { Clock } from '../core/clock.js';
import { LoaderTimeoutError } from '../core/errors.js';
import type { Flight } from '../core/single-flight.js';
import type { Loader } from './cache-stack.options.js';

export function callLoader<T>(
  clock: Clock,
  flight: Flight<T>,
  userKey: string,
  loader: Loader<T>,
  timeoutMs: number,
  stale: T | undefined,
  background: boolean,
): Promise<T> {
  const { controller } = flight;
  const { signal } = controller;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason); // aborted before it could start (the stack closed meanwhile): the loader is not called
      return;
    }
    const timer = clock.setTimeout(() => controller.abort(new LoaderTimeoutError(userKey, timeoutMs)), timeoutMs);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    try {
      Promise.resolve(loader({ key: userKey, signal, stale, background })).then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    } catch (error) {
      settle();
      reject(error);
    }
  });
}
