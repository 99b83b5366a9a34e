/**
 * Time, injected. Logic never reads `Date.now()` or calls `setTimeout` directly: tests pass a fake
 * clock and move time by hand.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (deadlines are shared through Redis, so wall time). */
  now(): number;
  /** Schedules `fn` after `ms` milliseconds; the handle does not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@link Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
}

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** The real clock: `Date.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});
