/**
 * A layer wrapper for tests that fails or hangs on demand, to drive the stack's degradation, back-off and
 * recovery paths without a broken Redis.
 */
import type { CacheEntry } from '../../lib/core/entry.js';
import type { CacheLayer, LayerContext, LayerWrite } from '../../lib/core/layer.js';
import type { TagStore } from '../../lib/core/tag-store.js';

type Mode = { kind: 'ok' } | { kind: 'fail'; error: Error } | { kind: 'hang' };

/**
 * Wraps a real layer and makes it fail or hang on demand (docs/development.md, "Test conventions"): the
 * stack's degradation is tested
 * against the same code path a dead Redis takes, without mocking Redis itself. Async and `shared` by
 * default, so the stack guards it like a Redis layer.
 */
export class ChaosLayer implements CacheLayer {
  readonly name: string;
  readonly shared: boolean;
  readonly ttl: number | undefined;
  /** Calls per operation, whatever their outcome. */
  readonly calls: Record<string, number> = {};
  private mode: Mode = { kind: 'ok' };

  constructor(
    private readonly inner: CacheLayer,
    options: { name?: string; shared?: boolean; probe?: boolean } = {},
  ) {
    this.name = options.name ?? `chaos-${inner.name}`;
    this.shared = options.shared ?? true;
    this.ttl = inner.ttl;
    // A health check like RedisLayer's PING (fails and hangs with the layer), unless asked for a layer without one.
    if (options.probe !== false) this.probe = () => this.call('probe', () => this.inner.probe?.());
    const touch = inner.touch?.bind(inner);
    if (touch !== undefined) this.touch = (key, entry, ttlMs) => this.call('touch', () => touch(key, entry, ttlMs));
  }

  /** The layer's health check (see `CacheLayer.probe`); absent with `{ probe: false }`. */
  readonly probe?: () => Promise<unknown>;

  /** The wrapped layer's in-place extension (see `CacheLayer.touch`), when it has one. */
  readonly touch?: (key: string, entry: CacheEntry, ttlMs: number) => Promise<boolean>;

  /** Every following call rejects with `error`. */
  fail(error: Error = new Error('chaos: layer down')): void {
    this.mode = { kind: 'fail', error };
  }

  /** Every following call never settles. */
  hang(): void {
    this.mode = { kind: 'hang' };
  }

  /** Back to normal. */
  heal(): void {
    this.mode = { kind: 'ok' };
  }

  attach(context: LayerContext): void {
    this.inner.attach?.(context);
  }

  createTagStore?(): TagStore;

  get(key: string): Promise<CacheEntry | undefined> {
    return this.call('get', () => this.inner.get(key));
  }
  getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    return this.call('getMany', () => this.inner.getMany(keys));
  }
  set(key: string, entry: CacheEntry, ttlMs: number, ifNewer?: boolean): Promise<void> {
    return this.call('set', () => this.inner.set(key, entry, ttlMs, ifNewer));
  }
  setMany(items: readonly LayerWrite[]): Promise<void> {
    return this.call('setMany', () => this.inner.setMany(items));
  }
  delete(keys: readonly string[]): Promise<void> {
    return this.call('delete', () => this.inner.delete(keys));
  }
  clear(prefix: string | undefined): Promise<void> {
    return this.call('clear', () => this.inner.clear(prefix));
  }
  findKeys(prefix: string, glob: string | undefined, limit: number): Promise<string[]> {
    const find = this.inner.findKeys?.bind(this.inner);
    return this.call('findKeys', () => (find === undefined ? [] : find(prefix, glob, limit)));
  }
  close(): Promise<void> {
    return Promise.resolve(this.inner.close());
  }

  private paused: { promise: Promise<void>; resume: () => void } | undefined;

  /**
   * Holds the replies of calls from now on until {@link resume}: a call runs at once against the layer (what it
   * reads is of that moment) and its caller hears back only after `resume` — a reply in flight.
   */
  pause(): void {
    if (this.paused !== undefined) return;
    let resume!: () => void;
    const promise = new Promise<void>((resolve) => (resume = resolve));
    this.paused = { promise, resume };
  }

  /** Lets the calls held by {@link pause} run. */
  resume(): void {
    const paused = this.paused;
    this.paused = undefined;
    paused?.resume();
  }

  private async call<T>(operation: string, run: () => T | Promise<T>): Promise<T> {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
    if (this.mode.kind === 'fail') throw this.mode.error;
    if (this.mode.kind === 'hang') return new Promise<T>(() => undefined);
    const paused = this.paused;
    const result = await run();
    if (paused !== undefined) await paused.promise;
    return result;
  }
}
