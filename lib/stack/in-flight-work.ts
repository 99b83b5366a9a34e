/**
 * The work of a stack in flight, by key, and its invalidation: loads and refreshes (`SingleFlight`), shared
 * reads of the slower layers (`lookups`) and refreshes waiting for their revalidation lease
 * (`RevalidationCoordinator`).
 *
 * A key deleted, overwritten or cleared — here (`StackWrites`) or by a peer (`LocalInvalidation`) — is
 * invalidated in all three at once, before the write is issued:
 *  - a running load or refresh still answers its callers but does not store its result (race (1) in
 *    read-path.ts);
 *  - a lookup does not backfill what it read (unless it read the announced write itself: `Lookup.floor`), and
 *    is forgotten: a read starting afterwards starts a lookup of its own instead of joining it (race (4));
 *  - a refresh whose lease is being acquired does not start.
 * A lookup is forgotten too once it settles, whatever the outcome; a flight when its promise settles.
 */
import { SingleFlight } from '../core/single-flight.js';
import type { CacheEntry } from '../core/entry.js';
import type { RevalidationCoordinator } from './revalidation.js';

/** What the slower layers hold for a key: the best entry found and the index of its layer. */
export interface LookupResult {
  readonly entry: CacheEntry | undefined;
  readonly layer: number;
}

/** A read of the slower layers in flight, shared by the concurrent callers of one key. */
export interface Lookup {
  promise: Promise<LookupResult>;
  /**
   * The oldest write version it may still backfill: raised when the key is written, deleted or cleared while it
   * reads — to that write's version for a peer's announced write (the new value itself may be what it reads),
   * to +Infinity for this process's own (nothing it read may land in L1). 0: not invalidated.
   */
  floor: number;
}

export class InFlightWork {
  /** Loads and refreshes by key: one per key per process. */
  readonly flights = new SingleFlight();
  /** Slow-layer reads in flight by key: concurrent misses of one key read Redis once, not once each. */
  private readonly lookups = new Map<string, Lookup>();

  constructor(
    /** The stack's revalidation lock side, `undefined` without a lock. */
    readonly revalidation: RevalidationCoordinator | undefined,
  ) {}

  /** The lookup of `key` a read may join, if any. */
  lookup(key: string): Lookup | undefined {
    return this.lookups.get(key);
  }

  /**
   * The lookup of `key` a concurrent read runs, joined, or a new one started with `start` (given the lookup, whose
   * `floor` it watches) and shared until it settles (or the key is invalidated).
   */
  joinOrStart(key: string, start: (started: Lookup) => Promise<LookupResult>): Lookup {
    const running = this.lookups.get(key);
    if (running !== undefined) return running;
    const started: Lookup = { promise: undefined as unknown as Promise<LookupResult>, floor: 0 };
    started.promise = start(started);
    return this.share(key, started);
  }

  /** Lets concurrent reads of `key` join `started` until it settles (or the key is invalidated); returns it. */
  share(key: string, started: Lookup): Lookup {
    this.lookups.set(key, started);
    const forget = () => {
      if (this.lookups.get(key) === started) this.lookups.delete(key);
    };
    void started.promise.then(forget, forget);
    return started;
  }

  /**
   * Running loads of `keys` will not store their results; reads starting now do not join older lookups, which
   * backfill only copies of at least `version` (+Infinity: none).
   */
  invalidateKeys(keys: readonly string[], version = Number.POSITIVE_INFINITY): void {
    this.flights.invalidate(keys);
    this.revalidation?.invalidate(keys);
    if (this.lookups.size > 0) {
      for (const key of keys) {
        const lookup = this.lookups.get(key);
        if (lookup === undefined) continue;
        if (version > lookup.floor) lookup.floor = version;
        this.lookups.delete(key);
      }
    }
  }

  /** `invalidateKeys` for every key starting with `prefix` (all when `undefined`). */
  invalidatePrefix(prefix: string | undefined): void {
    this.flights.invalidatePrefix(prefix);
    this.revalidation?.invalidatePrefix(prefix);
    for (const [key, lookup] of this.lookups) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      lookup.floor = Number.POSITIVE_INFINITY;
      this.lookups.delete(key);
    }
  }
}
