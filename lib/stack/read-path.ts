/**
 * The read path of a stack (`get`, `getDetailed`, `peek`, memoized calls), over already-checked internal
 * keys. Built by `StackCore` with the parts it reads through: the layers (`LayerSet`), tag validity
 * (`StackTags`), the walk through the slower layers (`LayerReader`), loads (`LoadRunner`) and the lookups in
 * flight (`InFlightWork`). A read past L1 travels as one `ReadRequest` (read-request.ts).
 *
 * ## Read path (`read`)
 * 1. L1 (a synchronous layer) is asked without an `await`. A fresh entry whose tags are valid is returned
 *    at once: no promise, no request object, no allocation besides the caller's own.
 * 2. Otherwise the slower layers are asked in order (`LayerReader.lookup`). The first fresh, valid entry wins
 *    and is backfilled into the faster layers with the same deadlines (a backfill never extends life). A
 *    stale entry is remembered as a candidate (the one fresh the longest) and the walk goes on: a slower
 *    layer may hold a fresher value written by another process.
 * 3. With no fresh entry:
 *    - a candidate in its stale (SWR) window is returned at once, and one background refresh per key is
 *      started (a second stale read while it runs starts none); with a revalidation lock (Redis), only the
 *      process that takes the key's lease refreshes it (`RevalidationCoordinator`, revalidation.ts);
 *    - a candidate in its stale-if-error window is served only if the synchronous reload fails (an open circuit
 *      or a full rate-limit bucket refuses it at once: the candidate is served without waiting);
 *    - otherwise it is a miss: the loader runs once per key per process (`SingleFlight`), every concurrent
 *      caller shares its promise, its result or its error (`LoadRunner`).
 * Concurrent callers of one key also share the walk through the slower layers (`InFlightWork` lookups): a
 * stampede costs one Redis read, not one per caller.
 * A layer that fails is a miss of that layer (see `LayerGuard`); a cache failure never fails a read that
 * has a loader.
 *
 * ## Invalidation beats in-flight work
 * Races, as interleavings (L = a load of key k, D = a delete/set/clear of k, T = an invalidation of a tag):
 *  (1) L starts, D runs, L finishes: D marked L's flight `invalidated`; L's result goes to its callers and
 *      is not stored.
 *  (2) L checks its flight, stores into L1 and issues its L2 write, then D runs: D deletes L1 synchronously
 *      and its L2 command is queued after L's write on the same connection, so D wins.
 *  (3) L reads its tag's version S, T records version s > S for the tag, L finishes: the entry records S; it is
 *      discarded before the write when T is known here, and invalid on every read otherwise (any process
 *      that reads the tag's state, or hears T on the bus, sees s > S).
 *  (4) A lookup of the slower layers starts, D runs, another read of k starts: it does not join the older
 *      lookup (D forgot it), so it cannot return what D removed.
 * A timed-out loader's late result is dropped with its promise; the flight was already removed.
 * D marks and forgets in `InFlightWork` before it issues its layer commands (`StackWrites`; a peer's D
 * arrives through `LocalInvalidation`); L checks in `LoadRunner.loadAndStore`, a lookup in
 * `LayerReader.lookup`.
 */
import type { Clock } from '../core/clock.js';
import type { CacheEntry } from '../core/entry.js';
import { entryState, EntryState, expiresAt, refreshDueAt } from '../core/entry.js';
import { CircuitOpenError, RateLimitError } from '../core/errors.js';
import type { BurstLogger } from '../core/logger.js';
import type { LayerMetrics, StackMetrics } from '../core/metrics.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';
import type { InFlightWork, LookupResult } from './in-flight-work.js';
import type { LayerReader } from './layer-reader.js';
import type { LayerSet } from './layer-set.js';
import type { LoadRunner } from './load-runner.js';
import { CACHE_MISS, report, type LoadRequest, type ReadInfo, type ReadRequest } from './read-request.js';
import type { StackEvents } from './stack-events.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { Renewals } from './renewals.js';
import type { StackTags } from './stack-tags.js';

/** What `ReadPath` works on (given by `StackCore`). */
export interface ReadPathParts {
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly lifecycle: StackLifecycle;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly metrics: StackMetrics;
  readonly events: StackEvents;
  readonly inFlight: InFlightWork;
  readonly reader: Pick<LayerReader, 'lookup'>;
  readonly runner: Pick<LoadRunner, 'load' | 'revalidate'>;
  readonly renewals: Renewals;
}

export class ReadPath {
  // The parts, held as fields: the L1 hit reads them with one property read each.
  private readonly clock: Clock;
  private readonly log: BurstLogger;
  private readonly lifecycle: StackLifecycle;
  private readonly layers: LayerSet;
  private readonly l1Metrics: LayerMetrics;
  private readonly tags: StackTags;
  private readonly metrics: StackMetrics;
  private readonly events: StackEvents;
  private readonly inFlight: InFlightWork;
  private readonly reader: Pick<LayerReader, 'lookup'>;
  private readonly runner: Pick<LoadRunner, 'load' | 'revalidate'>;
  private readonly renewals: Renewals;

  constructor(parts: ReadPathParts) {
    this.clock = parts.clock;
    this.log = parts.log;
    this.lifecycle = parts.lifecycle;
    this.layers = parts.layers;
    this.l1Metrics = parts.layers.metrics[0] as LayerMetrics;
    this.tags = parts.tags;
    this.metrics = parts.metrics;
    this.events = parts.events;
    this.inFlight = parts.inFlight;
    this.reader = parts.reader;
    this.runner = parts.runner;
    this.renewals = parts.renewals;
  }

  /** Reads `key` (of the namespace `scope`), loading it with `loader` on a miss. Synchronous on a fresh L1 hit. */
  read<T>(key: string, userKey: string, loader: Loader<T> | undefined, policy: EntryPolicy, info?: ReadInfo, scope = ''): T | undefined | Promise<T | undefined> {
    const hit = this.peek(key, info);
    if (hit !== CACHE_MISS) return hit as T;
    const request: ReadRequest<T> = { key, userKey, scope, loader, policy, info, stale: undefined, staleLayer: -1 };
    const l1 = this.layers.l1;
    if (l1 !== undefined) {
      const entry = this.layers.l1Get(key);
      const now = this.clock.now();
      if (entry !== undefined && now < expiresAt(entry) && this.tags.isValid(entry)) {
        request.stale = entry;
        request.staleLayer = 0;
        this.l1Metrics.hits++;
        // Fresh here means due for a refresh-ahead (peek declined it): a hit that starts the refresh.
        if (now < entry.freshUntil) return this.freshHit(request, entry, 0);
      } else this.l1Metrics.misses++;
      if (this.layers.size === 1) return this.resolve(request);
    }
    return this.readSlow(request, l1 === undefined ? 0 : 1);
  }

  /**
   * The fresh, valid L1 value of `key` (counted as a hit), or `CACHE_MISS`. Synchronous, no I/O. An entry due for
   * its refresh-ahead is `CACHE_MISS` here, so that the caller's `get` with a loader answers it and starts the refresh.
   */
  peek(key: string, info?: ReadInfo): unknown {
    this.lifecycle.assertOpen();
    const l1 = this.layers.l1;
    if (l1 === undefined) return CACHE_MISS;
    const entry = this.layers.l1Get(key);
    if (entry === undefined) return CACHE_MISS;
    const now = this.clock.now();
    if (now >= entry.freshUntil || !this.tags.isValid(entry)) return CACHE_MISS;
    if (entry.freshness !== undefined) {
      if (now >= refreshDueAt(entry)) return CACHE_MISS;
      this.renewals.onFreshRead(key, entry, 0, now);
    }
    if (info !== undefined) report(info, 'hit', entry);
    this.l1Metrics.hits++;
    this.metrics.hits++;
    if (this.events.listened.hit === true) this.events.emit('hit', { key, layer: l1.name });
    return entry.value;
  }

  /**
   * Reads the layers from `from` on (the lookup shared with concurrent callers of the key), then resolves. Not an
   * async function: an L2 hit pays one `then` here rather than an async frame (docs/benchmarks.md, section (b)).
   */
  private readSlow<T>(request: ReadRequest<T>, from: number): Promise<T | undefined> {
    const key = request.key;
    const lookup = this.inFlight.joinOrStart(key, (started) => this.reader.lookup(key, from, started));
    return lookup.promise.then((found) => this.afterLookup(request, found));
  }

  /** `readSlow` once the layers answered: a fresh hit, else the best candidate or a load (`resolve`). */
  private afterLookup<T>(request: ReadRequest<T>, found: LookupResult): T | undefined | Promise<T | undefined> {
    const entry = found.entry;
    // Re-checked per caller: an invalidation may have happened while the shared lookup ran.
    if (entry !== undefined && this.tags.isValid(entry)) {
      if (this.clock.now() < entry.freshUntil) return this.freshHit(request, entry, found.layer);
      if (request.stale === undefined || entry.freshUntil > request.stale.freshUntil) {
        request.stale = entry;
        request.staleLayer = found.layer;
      }
    }
    return this.resolve(request);
  }

  /**
   * A fresh `entry` of layer `layer` answers the read: counted as a hit; an entry carrying freshness policies is
   * extended where it slides or ramps (`Renewals`), and one due for its refresh-ahead starts a background refresh
   * when the read has a loader (`LoadRunner.revalidate`, once per key per cluster, as for a stale entry).
   */
  private freshHit<T>(request: ReadRequest<T>, entry: CacheEntry, layer: number): T {
    const key = request.key;
    this.metrics.hits++;
    if (request.info !== undefined) report(request.info, 'hit', entry);
    if (this.events.listened.hit === true) this.events.emit('hit', { key, layer: this.layers.name(layer) });
    if (entry.freshness !== undefined) {
      const now = this.clock.now();
      this.renewals.onFreshRead(key, entry, layer, now);
      if (request.loader !== undefined && now >= refreshDueAt(entry)) {
        request.stale = entry;
        request.staleLayer = layer;
        if (this.runner.revalidate(request as LoadRequest<T>)) this.metrics.refreshesAhead++;
      }
    }
    return entry.value as T;
  }

  /** The answer when no layer had a fresh entry (`request.stale`: the best other one, if any). */
  private resolve<T>(request: ReadRequest<T>): T | undefined | Promise<T | undefined> {
    const { key, loader, info } = request;
    const candidate = request.stale;
    if (candidate !== undefined) {
      if (entryState(candidate, this.clock.now()) === EntryState.Stale) {
        this.metrics.stale++;
        if (info !== undefined) report(info, 'stale', candidate);
        if (this.events.listened.stale === true) this.events.emit('stale', { key, layer: this.layers.name(request.staleLayer) });
        if (loader !== undefined) this.runner.revalidate(request as LoadRequest<T>);
        return candidate.value as T;
      }
      if (loader !== undefined) return this.loadOrServeStale(request as LoadRequest<T>, candidate);
    }
    this.metrics.misses++;
    if (info !== undefined) report(info, 'miss', undefined);
    this.events.emit('miss', { key });
    if (loader === undefined) return undefined;
    return info === undefined ? this.runner.load(request as LoadRequest<T>) : this.loadReporting(request as LoadRequest<T>, info);
  }

  /** Loads for a caller asking how it was answered: a miss, with the deadline of the entry the load stored. */
  private async loadReporting<T>(request: LoadRequest<T>, info: ReadInfo): Promise<T> {
    const loading = this.runner.load(request);
    const flight = this.inFlight.flights.get<T>(request.key); // the one `load` joined or started
    const value = await loading;
    report(info, 'miss', undefined);
    info.freshUntil = flight?.entry?.freshUntil;
    return value;
  }

  /** Stale-if-error: reload synchronously, serve the stale value when the reload fails. */
  private async loadOrServeStale<T>(request: LoadRequest<T>, stale: CacheEntry): Promise<T> {
    const info = request.info;
    try {
      return info === undefined ? await this.runner.load(request) : await this.loadReporting(request, info);
    } catch (error) {
      if (info !== undefined) report(info, 'stale-if-error', stale);
      this.metrics.staleIfError++;
      this.metrics.stale++;
      // Refused by an open circuit or a rate limit: counted there, not a failure of the source worth a line each.
      if (!(error instanceof CircuitOpenError || error instanceof RateLimitError)) {
        this.log.warn(`Loader for "${request.userKey}" failed; serving the stale value (stale-if-error)`, error);
      }
      this.events.emit('stale', { key: request.key, layer: this.layers.name(request.staleLayer) });
      return stale.value as T;
    }
  }
}
