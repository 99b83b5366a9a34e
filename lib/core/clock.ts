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
  /**
   * A monotonic, high-resolution time in milliseconds (`performance.now()`), for durations (the latency metrics).
   * Optional: a clock without it has its durations measured with `now()`.
   */
  monotonic?(): number;
}

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** The real clock: `Date.now()`, `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});

/** The duration source of `clock`: its `monotonic()` when it has one, else its `now()`. */
export function monotonicOf(clock: Clock): () => number {
  const monotonic = clock.monotonic;
  return monotonic === undefined ? () => clock.now() : monotonic.bind(clock);
}
