/**
 * One read of a key, as it travels through the read path (read-path.ts) and, on a miss or a stale hit, into
 * the load it starts (load-runner.ts): allocated once per read that gets past L1 (a fresh L1 hit allocates
 * none), never shared between callers (each caller's `info` is its own). The load it starts keeps it until it
 * settles; nothing changes it after the read path handed it on.
 */
import type { CacheEntry } from '../core/entry.js';
import type { EntryPolicy, Loader } from './cache-stack.options.js';

/** What `peek` returns when the in-process layer has no fresh value (a value may be `undefined`). */
export const CACHE_MISS: unique symbol = Symbol('nestjs-layercache:miss');

/** How a read was answered; `createdAt` is the served entry's (undefined for a miss: loaded now or nothing). */
export interface ReadInfo {
  status: 'hit' | 'stale' | 'miss' | 'stale-if-error';
  createdAt: number | undefined;
  /**
   * When the served entry stops being fresh (ms): for a miss, the entry the load stored (or found written by a
   * peer); `undefined` when nothing was stored.
   */
  freshUntil?: number | undefined;
}

/** Records how a read was answered, with the served entry (`undefined` for a miss). */
export function report(info: ReadInfo, status: ReadInfo['status'], entry: CacheEntry | undefined): void {
  info.status = status;
  info.createdAt = entry?.createdAt;
  info.freshUntil = entry?.freshUntil;
}

export interface ReadRequest<T> {
  /** The internal key (namespace, generation and hashing applied). */
  readonly key: string;
  /** The key as the caller gave it: for the loader and log lines. */
  readonly userKey: string;
  /** The namespace scope of the view that read (`''`: the root): the default circuit and bucket of its loads. */
  readonly scope: string;
  readonly loader: Loader<T> | undefined;
  readonly policy: EntryPolicy;
  /** Where the caller wants to learn how the read was answered (`getDetailed`), if anywhere. */
  readonly info: ReadInfo | undefined;
  /** The best entry found that is not fresh (stale or in its stale-if-error window), once the layers were read. */
  stale: CacheEntry | undefined;
  /** The index of the layer `stale` came from (-1: none). */
  staleLayer: number;
}

/** A read that has a loader: what a load runs with. */
export type LoadRequest<T> = ReadRequest<T> & { readonly loader: Loader<T> };
