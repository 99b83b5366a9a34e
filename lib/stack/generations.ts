/**
 * Generations (`CacheStack.bumpGeneration`): an O(1) invalidation of a whole namespace, shared through the tag
 * store (Redis when shared). A scope is a namespace's key prefix (`''` for the root stack); its generation is
 * part of the physical key of everything under it: generation 0 adds nothing (keys are as without generations),
 * generation g > 0 adds `g` + U+001C after the scope's prefix. Bumping a scope moves every key under it (nested
 * namespaces included) to new names at once: old entries are never read again and age out by their ttl; the
 * in-process layer drops them at once.
 *
 * Each process keeps the generations it knows (`known`, only those > 0) and an `epoch` that changes whenever one
 * changes, so a view recomputes its prefix only then (one integer comparison per call otherwise). It learns them
 * by fetching a scope once (the root at start, a namespace when its view is created; `CacheStack.ready()` waits
 * for the fetches), from peers' bus messages, and again after a bus resubscription. Generations only grow: a late
 * message or fetch is a no-op.
 *
 * Expiry: a generation is kept `2 × keepMs` in the store (keepMs: the stack's `maxLifetime` and a margin), and every
 * process knowing one above 0 writes it again every `keepMs / 2` (at most daily; `keepGeneration`), so it outlives every entry
 * written under it (at most `maxLifetime` after the last process using the namespace stopped) and then expires. A
 * store that forgot it (all its users gone long enough) reads 0 again: no entry of any generation is left by then.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { BurstLogger } from '../core/logger.js';
import type { TagStore } from '../core/tag-store.js';
import type { LayerGuard } from './layer-guard.js';

/** Follows a scope's generation in a physical key (a control character: user keys cannot contain it). */
export const GENERATION_MARK = '\u001c';

/** Longest wait between two renewals of the known generations (a day; Node timers overflow past 24.8 days). */
const MAX_KEEP_INTERVAL_MS = 86_400_000;

export class Generations {
  /** Changes whenever a known generation changes. */
  epoch = 0;
  private readonly known = new Map<string, number>();
  private readonly fetched = new Map<string, Promise<void>>();

  private retry: TimerHandle | undefined;
  private keeper: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly store: TagStore,
    /** Guards `bump` (a command the caller waits for, like a tag invalidation). */
    private readonly guard: LayerGuard | undefined,
    private readonly log: BurstLogger,
    private readonly clock: Clock,
    /** Longest wait for a fetch (the stack's `layerTimeout`). */
    private readonly timeoutMs: number,
    /** Wait before a failed fetch is tried again. */
    private readonly retryMs: number,
    /** How long an invalidation is kept (the stack's `maxLifetime` and a margin), ms; generations twice that. */
    private readonly keepMs: number,
  ) {}

  /** The generation of `scope` known here (0 when never bumped). */
  of(scope: string): number {
    return this.known.size === 0 ? 0 : (this.known.get(scope) ?? 0);
  }

  /** Records a generation learned elsewhere; true when it is newer than the one known. */
  learn(scope: string, generation: number): boolean {
    if (!Number.isSafeInteger(generation) || generation <= this.of(scope)) return false;
    this.known.set(scope, generation);
    this.epoch++;
    this.scheduleKeep();
    return true;
  }

  /**
   * The generation of `scope` in the store now (not learned: the caller decides), or `undefined` when the store keeps none or
   * cannot answer within `timeoutMs`: what a peer's announced generation is checked against.
   */
  async stored(scope: string): Promise<number | undefined> {
    const read = this.store.generations?.bind(this.store);
    if (read === undefined || this.closed) return undefined;
    try {
      const generation = (await this.within(Promise.resolve(read([scope]))))[0];
      return generation !== undefined && Number.isSafeInteger(generation) ? generation : undefined;
    } catch {
      return undefined;
    }
  }

  /** Fetches the generation of `scope` once (in the background; `whenFetched` waits for it). */
  watch(scope: string): void {
    if (this.fetched.has(scope) || this.store.generations === undefined) return;
    this.fetched.set(scope, this.fetch([scope]));
  }

  /** Resolves once every watched scope was fetched (or failed: logged, retried on the next `refetch`). */
  async whenFetched(): Promise<void> {
    await Promise.all([...this.fetched.values()]);
  }

  /** Fetches every watched scope again (after a bus resubscription: bumps may have been missed). */
  refetch(): Promise<void> {
    const scopes = [...this.fetched.keys()];
    const done = this.fetch(scopes);
    for (const scope of scopes) this.fetched.set(scope, done);
    return done;
  }

  /** Increments `scope`'s generation in the store; returns it (learned here already). */
  async bump(scope: string): Promise<number> {
    const store = this.store;
    let generation: number;
    if (store.bumpGeneration === undefined) generation = this.of(scope) + 1;
    else if (this.guard === undefined) generation = await store.bumpGeneration(scope, 2 * this.keepMs);
    else generation = await this.guard.run('bump-generation', () => (store.bumpGeneration as (s: string, keepMs: number) => number | Promise<number>)(scope, 2 * this.keepMs));
    this.learn(scope, generation);
    return generation;
  }

  /**
   * Reads the generations of `scopes`. Not through the layer's guard: a failure here (e.g. the connection is
   * still opening) must not open the layer's back-off window. Bounded by `timeoutMs`; on failure, logged and
   * retried after `retryMs` until it succeeds.
   */
  private async fetch(scopes: readonly string[]): Promise<void> {
    const read = this.store.generations?.bind(this.store);
    if (read === undefined || scopes.length === 0 || this.closed) return;
    try {
      const generations = await this.within(Promise.resolve(read(scopes)));
      scopes.forEach((scope, i) => this.learn(scope, generations[i] ?? 0));
      this.log.success('namespace generations');
    } catch (error) {
      this.log.failure('namespace generations', 'Could not read namespace generations (retrying); keys of bumped namespaces may be missed until then', error);
      this.retry = this.clock.setTimeout(() => {
        this.retry = undefined;
        void this.fetch(scopes);
      }, this.retryMs);
    }
  }

  /** Writes every known generation again, kept `2 × keepMs` (see the header); failures are logged and retried next time. */
  async keep(): Promise<void> {
    const keepGeneration = this.store.keepGeneration?.bind(this.store);
    if (keepGeneration === undefined || this.closed) return;
    for (const [scope, generation] of this.known) {
      try {
        await this.within(Promise.resolve(keepGeneration(scope, generation, 2 * this.keepMs)));
        this.log.success('namespace generations keep');
      } catch (error) {
        this.log.failure('namespace generations keep', 'Could not renew a namespace generation in the tag store (retried later)', error);
      }
    }
  }

  /** Stops retrying and renewing (the stack closes). */
  close(): void {
    this.closed = true;
    if (this.retry !== undefined) this.clock.clearTimeout(this.retry);
    if (this.keeper !== undefined) this.clock.clearTimeout(this.keeper);
  }

  /** Renews the known generations every `keepMs / 2` while there are any (one timer). */
  private scheduleKeep(): void {
    if (this.keeper !== undefined || this.closed || this.store.keepGeneration === undefined) return;
    this.keeper = this.clock.setTimeout(() => {
      this.keeper = undefined;
      void this.keep().finally(() => this.scheduleKeep());
    }, Math.min(this.keepMs / 2, MAX_KEEP_INTERVAL_MS));
  }

  private within<T>(promise: Promise<T>): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => this.clock.clearTimeout(timer));
  }
}
