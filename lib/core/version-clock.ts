/**
 * Write versions (docs/distributed.md, "Write versions"): a hybrid logical clock in microseconds.
 *
 * Every write, delete and load of the stack takes `next()`: at least the wall clock in µs, and always greater
 * than every version this process produced or *observed* (bus messages, entries read from Redis, load leases).
 * Versions order causally related writes across processes even when their clocks disagree: a process that saw
 * a peer's write (through the bus, which announces every write) versions its later writes above it. Two
 * writes that did not see each other are concurrent, and either order is correct.
 *
 * Numbers stay exact integers until 2255 (µs since 1970 below 2^53).
 *
 * A version more than {@link MAX_CLOCK_SKEW_MS} ahead of this process's wall clock is never observed: no
 * legitimate peer (nor the Redis server's `TIME`, which fences loads) runs that far ahead, and adopting a forged
 * version of 2^53−1 (from the bus or a value planted in Redis) would freeze the clock: every later `next()`
 * would return the same number, and peers' writes would no longer replace copies here.
 */
import type { Clock } from './clock.js';

/** How far ahead of this process's clock another process's clock may run: the bound on versions observed, 60 s. */
export const MAX_CLOCK_SKEW_MS = 60_000;

export class VersionClock {
  private last = 0;

  constructor(private readonly clock: Clock) {}

  /** A version greater than every version produced or observed so far. */
  next(): number {
    const wall = this.clock.now() * 1000;
    this.last = wall > this.last ? Math.floor(wall) : this.last + 1;
    return this.last;
  }

  /** The largest version another process can legitimately have produced by now (wall clock + skew bound). */
  ceiling(): number {
    return (this.clock.now() + MAX_CLOCK_SKEW_MS) * 1000;
  }

  /** Learns a version produced elsewhere, so that later `next()` values exceed it (ignored beyond {@link ceiling}). */
  observe(version: number | undefined): void {
    if (version !== undefined && version > this.last && Number.isSafeInteger(version) && version <= this.ceiling()) this.last = version;
  }
}
