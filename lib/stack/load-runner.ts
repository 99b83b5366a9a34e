/**
 * Loads of a stack: the loader runs once per key per process (`SingleFlight`, in `InFlightWork`), for a miss
 * (`load`: every caller shares its promise, its result or its error) or as a background refresh of a stale
 * entry (`revalidate`: the callers got the stale value; at most one refresh per key runs).
 *
 * - Once per cluster: with a `LoadCoordinator`, a miss of every layer first takes the key's load lease
 *   (`DistributedLoads`, distributed-loads.ts: a peer's value found by `LayerReader.reread` is served
 *   instead); with a revalidation lock, a refresh first takes the key's revalidation lease
 *   (`RevalidationCoordinator`, revalidation.ts) and then reads the shared layers once more: a lease is free
 *   again once a peer's refresh has written its result, so a fresh entry found there is that peer's refresh,
 *   served instead of loading again (the key is refreshed once per cluster; `refreshesSkipped`).
 * - Storing: the result is written as "write if newer" at the version taken before the loader ran (the
 *   load lease's fencing version when there is one), with its tags' versions read before it ran. It is
 *   not stored when the key was invalidated meanwhile (the flight is marked: race (1) in read-path.ts) or
 *   one of its tags was (race (3)), nor when its options say not to cache it. A stored result is announced to
 *   the peers.
 * - The loader gets the stack's `loaderTimeout` and an abort signal (`callLoader`); `close()` aborts every
 *   running load, and a refresh aborted so is not counted as a failure.
 * - Protection (`LoaderProtection`, loader-protection.ts): every loader run is admitted by the key's circuit and
 *   rate-limit bucket first, inside the flight (one admission per flight, whatever the number of callers); an
 *   open circuit refuses a miss before any flight starts and skips a refresh. A load with a stale-if-error value
 *   to fall back on does not wait for a rate-limit slot. A refresh refused so is dropped, not a refresh failure.
 * - Tracing (tracing.ts): with the `tracing` option a load runs in a `layercache.load` span and a refresh in a
 *   `layercache.refresh` span (its load a child of it), each active while the loader runs.
 */
import { CircuitOpenError, RateLimitError, StackClosedError } from '../core/errors.js';
import type { LoadLease } from '../core/load-coordinator.js';
import type { BurstLogger } from '../core/logger.js';
import type { StackMetrics } from '../core/metrics.js';
import type { Flight } from '../core/single-flight.js';
import type { Clock } from '../core/clock.js';
import type { VersionClock } from '../core/version-clock.js';
import type { Stopwatch } from '../core/latency.js';
import { callLoader } from './call-loader.js';
import type { DistributedLoads } from './distributed-loads.js';
import type { EntryFactory } from './entry-builder.js';
import type { InFlightWork } from './in-flight-work.js';
import type { LayerReader } from './layer-reader.js';
import type { LayerSet } from './layer-set.js';
import type { LoaderProtection } from './loader-protection.js';
import type { LoadRequest } from './read-request.js';
import type { Announce } from './stack-bus.js';
import type { StackEvents } from './stack-events.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';
import type { StackTracing } from './tracing.js';

/** What `LoadRunner` works on (given by `StackCore`). */
export interface LoadRunnerParts {
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly lifecycle: StackLifecycle;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly versions: VersionClock;
  readonly inFlight: InFlightWork;
  readonly metrics: StackMetrics;
  readonly events: StackEvents;
  readonly entries: EntryFactory;
  readonly announce: Announce;
  /** Once-per-cluster loads, `undefined` without a coordinator. */
  readonly loads: DistributedLoads | undefined;
  /** Reads the shared layers again for distributed loads. */
  readonly reader: Pick<LayerReader, 'reread'>;
  /** Circuit breakers and rate limits of loader runs. */
  readonly protection: LoaderProtection;
  /** Where every loader run's duration goes (`CacheMetrics.loaderDuration`). */
  readonly loaderDuration: Stopwatch;
  /** The stack's spans (`layercache.load`, `layercache.refresh`), `undefined` when off. */
  readonly tracing: StackTracing | undefined;
}

export class LoadRunner {
  constructor(private readonly parts: LoadRunnerParts) {}

  /** Joins the running load of the request's key or starts one (`request.stale`: the stale-if-error candidate). */
  load<T>(request: LoadRequest<T>): Promise<T> {
    const { inFlight, metrics, events } = this.parts;
    const key = request.key;
    const running = inFlight.flights.get<T>(key);
    if (running !== undefined) {
      metrics.dedupes++;
      events.emit('stampede-dedupe', { key });
      return running.promise;
    }
    const refused = this.parts.protection.refused(request);
    if (refused !== undefined) return Promise.reject(refused);
    return inFlight.flights.start<T>(key, (flight) => this.runLoad(flight, request)).promise;
  }

  /**
   * Starts one background refresh of the request's key (its `stale` entry is being served) unless a load of it
   * is already running: at once without a revalidation lock, else once the lock's lease is taken (see
   * `RevalidationCoordinator`). True when a refresh was started or handed to the lock (a peer may still run it).
   */
  revalidate<T>(request: LoadRequest<T>): boolean {
    const { inFlight, lifecycle } = this.parts;
    const key = request.key;
    const flights = inFlight.flights;
    if (flights.get(key) !== undefined) return false;
    if (this.parts.protection.refused(request) !== undefined) return false; // open circuit: skipped
    const coordinator = inFlight.revalidation;
    if (coordinator === undefined) lifecycle.track(this.refresh(request));
    else if (coordinator.pending(key)) return false;
    else {
      const start = () => {
        if (flights.get(key) !== undefined) return undefined;
        const refresh = this.refresh(request, true);
        // Asked for before close(), as a refresh without a lock would have been: close() aborts it the same way.
        if (lifecycle.closed) flights.get(key)?.controller.abort(new StackClosedError());
        return refresh;
      };
      lifecycle.track(coordinator.revalidate(key, start));
    }
    return true;
  }

  /**
   * Runs a background refresh; the promise settles (never rejects) when it is done. `underLease`: the refresh
   * holds the key's revalidation lease, and first looks for a peer's refresh that landed before it took it.
   */
  private refresh<T>(request: LoadRequest<T>, underLease = false): Promise<void> {
    const { inFlight, metrics, log, events, lifecycle, reader } = this.parts;
    const key = request.key;
    let landed = false;
    const work = async (f: Flight<T>): Promise<T> => {
      if (underLease) {
        // A peer's refresh landed before this process took the lease: a fresh entry newer than the one being
        // refreshed (for a refresh-ahead, the entry being refreshed is itself still fresh).
        const entry = await reader.reread(key);
        if (entry !== undefined && (entry.version ?? 0) > (request.stale?.version ?? 0)) {
          landed = true;
          f.entry = entry;
          return entry.value as T;
        }
      }
      return this.runLoad(f, request, true);
    };
    const tracing = this.parts.tracing;
    const flight = inFlight.flights.start<T>(key, tracing === undefined ? work : (f) => tracing.refresh(request, () => work(f), () => landed));
    return flight.promise.then(
      () => {
        if (landed) {
          metrics.refreshesSkipped++;
          return;
        }
        metrics.refreshes++;
        log.success('background refresh');
        events.emit('refresh', { key });
      },
      (error: unknown) => {
        if (lifecycle.closed) return; // aborted by close(): not a failure of the source
        if (error instanceof CircuitOpenError || error instanceof RateLimitError) return; // dropped, counted there
        metrics.refreshErrors++;
        log.failure('background refresh', `Background refresh of "${request.userKey}" failed; the stale value is still served`, error);
        events.emit('refresh-error', { key, error });
      },
    );
  }

  /** Runs a load of the request's key: its lease when distributed, the loader, the store (in a span when tracing). */
  private runLoad<T>(flight: Flight<T>, request: LoadRequest<T>, background = false): Promise<T> {
    const tracing = this.parts.tracing;
    return tracing === undefined ? this.leaseAndLoad(flight, request, background) : tracing.load(request, background, () => this.leaseAndLoad(flight, request, background));
  }

  private async leaseAndLoad<T>(flight: Flight<T>, request: LoadRequest<T>, background: boolean): Promise<T> {
    const { loads, reader } = this.parts;
    const key = request.key;
    let lease: LoadLease | undefined;
    if (loads !== undefined && request.stale === undefined) {
      // A miss of every layer: once per cluster (a refresh of a stale entry has the revalidation lock instead).
      const turn = await loads.begin(key, () => reader.reread(key), request.policy.loaderTimeout);
      if (turn.entry !== undefined) {
        flight.entry = turn.entry;
        return turn.entry.value as T;
      }
      lease = turn.lease;
    }
    let filled = false;
    const stopRenewing = lease === undefined ? undefined : (loads as DistributedLoads).keepAlive(lease);
    try {
      filled = await this.loadAndStore(flight, request, lease, background);
      return flight.result as T;
    } finally {
      if (lease !== undefined) {
        (stopRenewing as () => void)();
        this.parts.lifecycle.track((loads as DistributedLoads).finish(lease, filled));
      }
    }
  }

  /**
   * Runs the loader and stores its result as "write if newer" at the version taken before it ran (the lease's
   * fencing version when there is one). Leaves the value in `flight.result`; true when it was stored.
   */
  private async loadAndStore<T>(flight: Flight<T>, request: LoadRequest<T>, lease: LoadLease | undefined, background: boolean): Promise<boolean> {
    const parts = this.parts;
    const { key, policy } = request;
    let version: number;
    if (lease === undefined) version = parts.versions.next();
    else {
      version = lease.version;
      parts.versions.observe(version);
    }
    // Static tags: their versions before the loader runs. Tags computed from the value: checked after it (see StackTags).
    // A tagged entry lives at most `maxLifetime` from this instant, so it never outlives the invalidations it missed.
    const readAt = policy.tags === undefined ? undefined : parts.clock.now();
    const tagVersions = Array.isArray(policy.tags) ? await parts.tags.versionsOf(policy.tags) : undefined;
    const loadStart = typeof policy.tags === 'function' ? { at: readAt as number, mark: parts.tags.changeMark() } : undefined;
    // Without protection options, no admission (and no await): a plain load costs one check more.
    const ticket =
      policy.breaker === undefined && policy.rateLimit === undefined
        ? undefined
        : await parts.protection.admit(request, request.stale !== undefined && !background, flight.controller.signal);
    parts.metrics.loads++;
    let value: T;
    const started = parts.loaderDuration.start();
    try {
      value = await callLoader(parts.clock, flight, request.userKey, request.loader, policy.loaderTimeout, request.stale?.value as T | undefined, background);
    } catch (error) {
      parts.metrics.loadErrors++;
      parts.protection.settle(ticket, !parts.lifecycle.closed);
      throw error;
    } finally {
      parts.loaderDuration.stop(started);
    }
    parts.protection.settle(ticket, false);
    flight.result = value;
    if (flight.invalidated) {
      parts.metrics.discardedLoads++;
      return false;
    }
    let entry = parts.entries.build(key, request.userKey, value, policy, tagVersions, version, readAt);
    if (entry === undefined) return false;
    if (loadStart !== undefined && entry.tags !== undefined) {
      const versions = await parts.tags.versionsAfterLoad(entry.tags, loadStart.at, loadStart.mark);
      if (versions === undefined) {
        parts.metrics.discardedLoads++; // one of its tags may have been invalidated while the loader ran
        return false;
      }
      entry = { ...entry, tagVersions: versions };
    }
    flight.entry = entry;
    if (!parts.tags.isValid(entry)) {
      parts.metrics.discardedLoads++; // a tag was invalidated while the loader ran
      return false;
    }
    await parts.layers.write([{ key, entry }], undefined, true);
    parts.announce({ kind: 'keys', keys: [key], version });
    parts.events.emit('set', { key });
    return true;
  }
}
