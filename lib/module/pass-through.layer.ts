/**
 * `PassThroughLayer`: a layer that stores nothing, so every read is a miss. The stack of a disabled registration
 * (`enabled: false`) runs on one, and a layer token of a registration whose stack was not built by the module (test
 * mode, or `overrideProvider(CacheStack)`) resolves to one named as asked (docs/testing.md).
 * Hard part: it is synchronous and in-process, so the stack starts nothing for it (no guard, no probing timer).
 */
import type { CacheEntry } from '../core/entry.js';
import type { SyncCacheLayer } from '../core/layer.js';

/** A synchronous, in-process layer that keeps nothing: `get` misses, writes and deletes are no-ops. */
export class PassThroughLayer implements SyncCacheLayer {
  readonly shared = false;
  readonly synchronous = true;
  readonly ttl = undefined;

  constructor(readonly name: string = 'pass-through') {}

  get(_key: string): CacheEntry | undefined {
    return undefined;
  }

  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return keys.map(() => undefined);
  }

  set(): void {}

  setMany(): void {}

  delete(): void {}

  clear(): void {}

  findKeys(): string[] {
    return [];
  }

  close(): void {}
}
