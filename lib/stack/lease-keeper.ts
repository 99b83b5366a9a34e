/**
 * What the two lease users of the stack share — background refreshes (`RevalidationCoordinator`, revalidation
 * lock) and distributed loads (`DistributedLoads`, load coordinator): commands through an optional guard, the
 * release of a held lease even in the guard's back-off window, and renewal of a held lease every third of its
 * ttl while the work runs.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { LayerGuard } from './layer-guard.js';

/** Runs `command` through `guard` (timeout, back-off, counted and logged failures), or directly without one. */
export function guarded<T>(guard: LayerGuard | undefined, operation: string, command: () => T | Promise<T>): Promise<T> {
  if (guard !== undefined) return guard.run(operation, command);
  try {
    return Promise.resolve(command());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Like {@link guarded}, but a `guard` in its back-off window does not skip `command` (`LayerGuard.runEvenIfOpen`):
 * for renewing and releasing a lease already held.
 */
export function guardedEvenInBackoff<T>(guard: LayerGuard | undefined, operation: string, command: () => T | Promise<T>): Promise<T> {
  return guard === undefined ? guarded(guard, operation, command) : guard.runEvenIfOpen(operation, command);
}

/**
 * Calls `renew` every `everyMs` on `clock` until the returned function is called. A renewal answering false (the
 * lease was lost: a peer may hold it now) stops the renewals; one that fails (counted by its guard) is retried at
 * the next tick.
 */
export function keepRenewing(clock: Clock, everyMs: number, renew: () => Promise<boolean>): () => void {
  let stopped = false;
  let timer: TimerHandle | undefined;
  const schedule = (): void => {
    timer = clock.setTimeout(() => {
      timer = undefined;
      renew().then(
        (held) => {
          if (held && !stopped) schedule();
        },
        () => {
          if (!stopped) schedule();
        },
      );
    }, everyMs);
  };
  schedule();
  return () => {
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
  };
}
