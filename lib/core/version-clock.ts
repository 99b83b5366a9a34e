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
 */
import type { Clock } from './clock.js';

export class VersionClock {
  private last = 0;

  constructor(private readonly clock: Clock) {}

  /** A version greater than every version produced or observed so far. */
  next(): number {
    const wall = this.clock.now() * 1000;
    this.last = wall > this.last ? Math.floor(wall) : this.last + 1;
    return this.last;
  }

  /** Learns a version produced elsewhere, so that later `next()` values exceed it. */
  observe(version: number | undefined): void {
    if (version !== undefined && version > this.last && Number.isSafeInteger(version)) this.last = version;
  }
}
