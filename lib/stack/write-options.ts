/**
 * The write options of a stack — `writePolicy` and `writeBehind` — their types, defaults and validation into
 * milliseconds (`resolveWriteSettings`). Every bad value throws an `InvalidOptionError` naming it, an unknown
 * key of `writeBehind` included. The two exclude each other: a strict write waits for every layer's answer,
 * a write-behind write answers before the shared layers are asked.
 */
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { FOREIGN_WRITE_BEHIND_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';

/**
 * How a `set`/`setMany`/`delete` treats a layer that does not confirm it: `best-effort` (the default) logs and
 * counts the failure and resolves; `strict` undoes the write in the layers that took it and rejects with a
 * `WriteFailedError` naming the layer.
 */
export type WritePolicy = 'best-effort' | 'strict';

/** Options of write-behind (`writeBehind`): sets reach the in-process layers at once, shared layers in batches. */
export interface WriteBehindOptions {
  /** The longest a set waits in the queue before it is written to the shared layers. @default '100ms' */
  flushInterval?: Duration;
  /** Most entries per flush (one pipeline, per slot on a Cluster); a queue this long flushes at once. @default 500 */
  maxBatch?: number;
  /**
   * Most distinct keys waiting; a set of a new key beyond it is written through to the shared layers at once
   * (counted in `writeBehind.writtenThrough`), never dropped. At least `maxBatch`. @default 10_000
   */
  maxQueue?: number;
}

/** Defaults of {@link WriteBehindOptions}, in the units users write. */
export const DEFAULT_WRITE_BEHIND_OPTIONS = Object.freeze({ flushInterval: '100ms', maxBatch: 500, maxQueue: 10_000 } as const);

/** Write-behind resolved (milliseconds). */
export interface WriteBehindSettings {
  readonly flushInterval: number;
  readonly maxBatch: number;
  readonly maxQueue: number;
}

/** The write settings of a stack. */
export interface WriteSettings {
  readonly writePolicy: WritePolicy;
  /** `undefined`: every write goes to every layer at once. */
  readonly writeBehind: WriteBehindSettings | undefined;
}

const WRITE_BEHIND_KEYS: ReadonlySet<string> = new Set(['flushInterval', 'maxBatch', 'maxQueue']);

/** Checks and resolves `writePolicy` and `writeBehind`. */
export function resolveWriteSettings(options: { writePolicy?: unknown; writeBehind?: unknown }): WriteSettings {
  const policy = options.writePolicy ?? 'best-effort';
  if (policy !== 'best-effort' && policy !== 'strict') {
    throw new InvalidOptionError('writePolicy', `expected 'best-effort' or 'strict', got ${JSON.stringify(policy) ?? String(policy)}`);
  }
  const writeBehind = resolveWriteBehind(options.writeBehind);
  if (policy === 'strict' && writeBehind !== undefined) {
    throw new InvalidOptionError('writePolicy', "'strict' cannot be combined with writeBehind (a strict write waits for the shared layers, write-behind does not)");
  }
  return { writePolicy: policy, writeBehind };
}

function resolveWriteBehind(option: unknown): WriteBehindSettings | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new InvalidOptionError('writeBehind', 'expected { flushInterval?, maxBatch?, maxQueue? } or false');
  }
  checkOptionKeys(option, WRITE_BEHIND_KEYS, { at: 'writeBehind', renamed: FOREIGN_WRITE_BEHIND_OPTIONS });
  const given = option as WriteBehindOptions;
  const flushInterval = toMilliseconds(given.flushInterval ?? DEFAULT_WRITE_BEHIND_OPTIONS.flushInterval, 'writeBehind.flushInterval');
  if (!(flushInterval >= 1)) throw new InvalidOptionError('writeBehind.flushInterval', `must be at least 1 ms, got ${flushInterval} ms`);
  const maxBatch = positiveInteger(given.maxBatch ?? DEFAULT_WRITE_BEHIND_OPTIONS.maxBatch, 'writeBehind.maxBatch');
  const maxQueue = positiveInteger(given.maxQueue ?? Math.max(maxBatch, DEFAULT_WRITE_BEHIND_OPTIONS.maxQueue), 'writeBehind.maxQueue');
  if (maxQueue < maxBatch) throw new InvalidOptionError('writeBehind.maxQueue', `must be at least maxBatch (${maxBatch}), got ${maxQueue}`);
  return { flushInterval, maxBatch, maxQueue };
}

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `expected a positive integer, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}
