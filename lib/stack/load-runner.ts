/**
 * Loads of a stack: the loader runs once per key per process (`SingleFlight`, in `InFlightWork`), for a miss
 * (`load`: every caller shares its promise, its result or its error) or as a background refresh of a stale
 * entry (`revalidate`: the callers got the stale value; at most one refresh per key runs).
 *
 * - Once per cluster: with a `LoadCoordinator`, a miss of every layer first takes the key's load lease
 *   (`DistributedLoads`, distributed-loads.ts: a peer's value found by `LayerReader.reread` is served
 *   instead); with a revalidation lock, a refresh first takes the key's revalidation lease
 *   (`RevalidationCoordinator`, revalidation.ts).
 * - Storing: the result is written as "write if newer" at the version taken before the loader ran (the
 *   load lease's fencing version when there is one), with the tag sequence snapshotted before it ran. It is
 *   not stored when the key was invalidated meanwhile (the flight is marked: race (1) in stack-engine.ts) or
 *   one of its tags was (race (3)), nor when its options say not to cache it. A stored result is announced to
 *   the peers.
 * - The loader gets the stack's `loaderTimeout` and an abort signal (`callLoader`); `close()` aborts every
 *   running load, and a refresh aborted so is not counted as a failure.
 */
import type { CacheEntry } from '../core/entry.js';
import { StackClosedError } from '../core/errors.js';
import type { LoadLease } from '../core/load-coordinator.js';
import type { Flight } from '../core/single-flight.js';
import { callLoader } from './call-loader.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';
import type { DistributedLoads } from './distributed-loads.js';
import type { LayerReader } from './layer-reader.js';
import type { StackCore } from './stack-core.js';

export class LoadRunner {
  constructor(
    private readonly core: StackCore,
    /** Reads the shared layers again for distributed loads. */
    private readonly reader: LayerReader,
  ) {}

  /** Joins the running load of `key` or starts one. */
  load<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry | undefined): Promise<T> {
    const flights = this.core.inFlight.flights;
    const running = flights.get<T>(key);
    if (running !== undefined) {
      this.core.metrics.dedupes++;
      this.core.events.emit('stampede-dedupe', { key });
      return running.promise;
    }
    return flights.start<T>(key, (flight) => this.runLoad(flight, key, userKey, loader, policy, stale)).promise;
  }

  /**
   * Starts one background refresh of `key` unless a load of it is already running: at once without a
   * revalidation lock, else once the lock's lease is taken (see `RevalidationCoordinator`).
   */
  revalidate<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): void {
    const core = this.core;
    const flights = core.inFlight.flights;
    if (flights.get(key) !== undefined) return;
    const coordinator = core.inFlight.revalidation;
    if (coordinator === undefined) core.track(this.refresh(key, userKey, loader, policy, stale));
    else if (!coordinator.pending(key)) {
      const start = () => {
        if (flights.get(key) !== undefined) return undefined;
        const refresh = this.refresh(key, userKey, loader, policy, stale);
        // Asked for before close(), as a refresh without a lock would have been: close() aborts it the same way.
        if (core.closed) flights.get(key)?.controller.abort(new StackClosedError());
        return refresh;
      };
      core.track(coordinator.revalidate(key, start));
    }
  }

  /** Runs a background refresh of `key`; the promise settles (never rejects) when it is done. */
  private refresh<T>(key: string, userKey: string, loader: Loader<T>, policy: EntryPolicy, stale: CacheEntry): Promise<void> {
    const core = this.core;
    const flight = core.inFlight.flights.start<T>(key, (f) => this.runLoad(f, key, userKey, loader, policy, stale));
    return flight.promise.then(
      () => {
        core.metrics.refreshes++;
        core.log.success('background refresh');
        core.events.emit('refresh', { key });
      },
      (error: unknown) => {
        if (core.closed) return; // aborted by close(): not a failure of the source
        core.metrics.refreshErrors++;
        core.log.failure('background refresh', `Background refresh of "${userKey}" failed; the stale value is still served`, error);
        core.events.emit('refresh-error', { key, error });
      },
    );
  }

  private async runLoad<T>(
    flight: Flight<T>,
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry | undefined,
  ): Promise<T> {
    const loads = this.core.loads;
    let lease: LoadLease | undefined;
    if (loads !== undefined && stale === undefined) {
      // A miss of every layer: once per cluster (a refresh of a stale entry has the revalidation lock instead).
      const turn = await loads.begin(key, () => this.reader.reread(key), policy.loaderTimeout);
      if (turn.entry !== undefined) return turn.entry.value as T;
      lease = turn.lease;
    }
    let filled = false;
    const stopRenewing = lease === undefined ? undefined : (loads as DistributedLoads).keepAlive(lease);
    try {
      filled = await this.loadAndStore(flight, key, userKey, loader, policy, stale, lease);
      return flight.result as T;
    } finally {
      if (lease !== undefined) {
        (stopRenewing as () => void)();
        this.core.track((loads as DistributedLoads).finish(lease, filled));
      }
    }
  }

  /**
   * Runs the loader and stores its result as "write if newer" at the version taken before it ran (the lease's
   * fencing version when there is one). Leaves the value in `flight.result`; true when it was stored.
   */
  private async loadAndStore<T>(
    flight: Flight<T>,
    key: string,
    userKey: string,
    loader: Loader<T>,
    policy: EntryPolicy,
    stale: CacheEntry | undefined,
    lease: LoadLease | undefined,
  ): Promise<boolean> {
    const core = this.core;
    core.metrics.loads++;
    let version: number;
    if (lease === undefined) version = core.versions.next();
    else {
      version = lease.version;
      core.versions.observe(version);
    }
    const tagSeq = policy.tags === undefined ? 0 : await core.tags.snapshot();
    let value: T;
    try {
      value = await callLoader(core.clock, flight, userKey, loader, policy.loaderTimeout, stale?.value as T | undefined);
    } catch (error) {
      core.metrics.loadErrors++;
      throw error;
    }
    flight.result = value;
    if (flight.invalidated) {
      core.metrics.discardedLoads++;
      return false;
    }
    const entry = core.entry(key, value, policy, tagSeq, version);
    if (entry === undefined) return false;
    if (!core.tags.isValid(entry)) {
      core.metrics.discardedLoads++; // a tag was invalidated while the loader ran
      return false;
    }
    await core.layers.write([{ key, entry }], undefined, true);
    core.announce({ kind: 'keys', keys: [key], version });
    core.events.emit('set', { key });
    return true;
  }
}
