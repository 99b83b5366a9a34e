/**
 * In-process single-flight: concurrent requests for one key share one running load. The flight is removed
 * in a `finally` of its own promise, so a throwing loader never leaves it behind, and a never-settling loader
 * is bounded by the caller's timeout (the stack's `loaderTimeout`).
 *
 * A flight also records whether the key was invalidated (deleted, overwritten, cleared) while it ran: its
 * result is then returned to its callers but must not be stored as valid.
 */
import type { CacheEntry } from './entry.js';

export interface Flight<T> {
  readonly promise: Promise<T>;
  /** Set when the key was invalidated while the flight ran. */
  invalidated: boolean;
  /** Aborts the loader (timeout or close). */
  readonly controller: AbortController;
  /** The loader's value once it returned (what the callers get, stored or not). */
  result?: T;
  /** The entry the flight stored (or found written by a peer), for the deadlines a read reports. */
  entry?: CacheEntry;
}

/** The running flights of one stack, by internal key. */
export class SingleFlight {
  private readonly flights = new Map<string, Flight<unknown>>();

  /** The running flight of `key`, if any. */
  get<T>(key: string): Flight<T> | undefined {
    return this.flights.get(key) as Flight<T> | undefined;
  }

  /**
   * Starts a flight for `key` (the caller checked there is none). `run` receives the flight to mark and
   * its abort signal; the flight is removed when `run` settles, whatever the outcome.
   */
  start<T>(key: string, run: (flight: Flight<T>) => Promise<T>): Flight<T> {
    const flight = { invalidated: false, controller: new AbortController() } as { -readonly [K in keyof Flight<T>]: Flight<T>[K] };
    this.flights.set(key, flight as Flight<unknown>);
    flight.promise = run(flight).finally(() => {
      if (this.flights.get(key) === (flight as Flight<unknown>)) this.flights.delete(key);
    });
    return flight;
  }

  /** Marks the flights of `keys` invalidated. */
  invalidate(keys: readonly string[]): void {
    if (this.flights.size === 0) return;
    for (const key of keys) {
      const flight = this.flights.get(key);
      if (flight !== undefined) flight.invalidated = true;
    }
  }

  /** Marks every flight whose key starts with `prefix` (all when `undefined`) invalidated. */
  invalidatePrefix(prefix: string | undefined): void {
    for (const [key, flight] of this.flights) {
      if (prefix === undefined || key.startsWith(prefix)) flight.invalidated = true;
    }
  }

  /** Aborts every running flight (on close). */
  abortAll(reason: unknown): void {
    for (const flight of this.flights.values()) flight.controller.abort(reason);
  }

  /** Number of running flights. */
  get size(): number {
    return this.flights.size;
  }
}
