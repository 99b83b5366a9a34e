/**
 * Cache warming (`CacheStack.warm`): loads a list of keys ahead of their first read, highest priority first,
 * at most `concurrency` at a time, and reports what became of each (warm-entries.ts).
 *
 * One entry: a fresh, valid entry in L1 or (one shared lookup, as for a read) in a slower layer is `skipped` —
 * found in a slower layer, it is backfilled into L1 as a read would. Otherwise (missing, or only stale) the
 * key is loaded through the engine's own load path, `LoadRunner.load`, as a miss: never served stale, it
 *  - joins a load of the key already running in this process (in-process single-flight);
 *  - with a `LoadCoordinator`, takes the key's load lease first (once per cluster): a peer that loaded it
 *    meanwhile is found by the lease's re-read and served, and nothing loads here;
 *  - stores as any load does (write if newer, not over an invalidation that happened meanwhile), announces it.
 * Whether the entry's own loader ran tells `loaded` from `skipped`: a value a peer (or a running load) stored
 * while this entry waited is `skipped` — this instance did not load it, and it is warm.
 *
 * Hard parts: a loader failure never rejects the call (the entry is `failed`); `close()` aborts running loads
 * (their entries fail with `StackClosedError`) and entries not started yet fail at once without running.
 * Each entry's internal key is computed when it starts, so a generation bump during a long warm is honoured.
 */
import type { Clock } from '../core/clock.js';
import { StackClosedError } from '../core/errors.js';
import type { StackMetrics } from '../core/metrics.js';
import type { CacheEntryOptions, EntryPolicy, Loader, LoaderContext } from './cache-stack.options.js';
import type { InFlightWork } from './in-flight-work.js';
import type { LayerReader } from './layer-reader.js';
import type { LayerSet } from './layer-set.js';
import type { LoadRunner } from './load-runner.js';
import type { StackEvents } from './stack-events.js';
import type { StackLifecycle } from './stack-lifecycle.js';
import type { StackTags } from './stack-tags.js';
import { checkWarmEntries, checkWarmOptions, type WarmEntry, type WarmEntryReport, type WarmOptions, type WarmReport, type WarmStatus } from './warm-entries.js';

/** What `Warmer` works on (given by `StackCore`). */
export interface WarmerParts {
  readonly clock: Clock;
  readonly lifecycle: StackLifecycle;
  readonly layers: LayerSet;
  readonly tags: StackTags;
  readonly metrics: StackMetrics;
  readonly events: StackEvents;
  readonly inFlight: InFlightWork;
  readonly reader: Pick<LayerReader, 'lookup'>;
  readonly runner: Pick<LoadRunner, 'load'>;
}

/** One checked entry to warm. */
export interface WarmItem {
  /** The key as the caller wrote it. */
  readonly userKey: string;
  /** The namespace scope of the view that warms (`''`: the root): the default circuit and bucket of its loads. */
  readonly scope: string;
  readonly loader: Loader<unknown>;
  readonly policy: EntryPolicy;
  readonly priority: number;
}

export class Warmer {
  constructor(private readonly parts: WarmerParts) {}

  /**
   * `CacheStack.warm`: checks `entries` and `options` (before anything runs; `keyOf` and `policyOf` check a key
   * and entry options as the calling view uses them), then runs them.
   */
  async warm(
    entries: readonly WarmEntry[],
    options: WarmOptions | undefined,
    keyOf: (userKey: string) => string,
    policyOf: (options: CacheEntryOptions | undefined) => EntryPolicy,
    scope = '',
  ): Promise<WarmReport> {
    const checked = checkWarmEntries(entries, 'entries', (key, entryOptions) => {
      keyOf(key);
      policyOf(entryOptions);
    });
    const concurrency = checkWarmOptions(options);
    this.parts.lifecycle.assertOpen();
    const items = checked.map((entry) => ({ userKey: entry.key, scope, loader: entry.loader, policy: policyOf(entry.options), priority: entry.priority ?? 0 }));
    return this.run(items, concurrency, keyOf);
  }

  /**
   * Warms `items` (checked), `concurrency` at a time, highest priority first (stable); `keyOf` turns a user key
   * into the internal key of the view that was asked. Never rejects for a load's failure.
   */
  async run(items: readonly WarmItem[], concurrency: number, keyOf: (userKey: string) => string): Promise<WarmReport> {
    const { clock, metrics, events } = this.parts;
    const started = clock.now();
    const reports = new Array<WarmEntryReport>(items.length);
    const order = items.map((_, index) => index).sort((a, b) => (items[b] as WarmItem).priority - (items[a] as WarmItem).priority);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.length) {
        const index = order[next++] as number;
        reports[index] = await this.warmOne(items[index] as WarmItem, keyOf);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    const count = (status: WarmStatus) => reports.reduce((n, report) => (report.status === status ? n + 1 : n), 0);
    const totals = { total: items.length, loaded: count('loaded'), skipped: count('skipped'), failed: count('failed'), durationMs: clock.now() - started };
    metrics.warmed += totals.loaded;
    metrics.warmSkipped += totals.skipped;
    metrics.warmFailed += totals.failed;
    events.emit('warm', totals);
    return { ...totals, entries: reports };
  }

  private async warmOne(item: WarmItem, keyOf: (userKey: string) => string): Promise<WarmEntryReport> {
    const { clock, lifecycle } = this.parts;
    const key = item.userKey;
    if (lifecycle.closed) return { key, status: 'failed', error: new StackClosedError(), durationMs: 0 };
    const started = clock.now();
    try {
      const status = await this.warmKey(keyOf(key), item);
      return { key, status, durationMs: clock.now() - started };
    } catch (error) {
      return { key, status: 'failed', error, durationMs: clock.now() - started };
    }
  }

  /** `skipped` when a fresh, valid entry is cached; else loads the key as a miss (see the file's comment). */
  private async warmKey(key: string, item: WarmItem): Promise<WarmStatus> {
    const { clock, layers, tags, inFlight, reader, runner } = this.parts;
    const l1 = layers.l1;
    const cached = l1?.get(key);
    if (cached !== undefined && clock.now() < cached.freshUntil && tags.isValid(cached)) return 'skipped';
    const from = l1 === undefined ? 0 : 1;
    if (from < layers.size) {
      // The lookup a concurrent read of the key runs is joined, as `ReadPath` does.
      const entry = (await inFlight.joinOrStart(key, (started) => reader.lookup(key, from, started)).promise).entry;
      if (entry !== undefined && clock.now() < entry.freshUntil && tags.isValid(entry)) return 'skipped';
    }
    let ran = false;
    const loader = item.loader;
    const counted = (context: LoaderContext<unknown>): unknown => {
      ran = true;
      return loader(context);
    };
    this.parts.lifecycle.assertOpen(); // closed while it looked: close() aborted the loads it knew of
    // As a miss (`stale: undefined`): a stale entry is replaced, not served, and the load lease is taken.
    await runner.load({ key, userKey: item.userKey, scope: item.scope, loader: counted, policy: item.policy, info: undefined, stale: undefined, staleLayer: -1 });
    return ran ? 'loaded' : 'skipped';
  }
}
