/**
 * Typed errors. Every error thrown by the library is a {@link LayerCacheError} with a stable `code`,
 * a message that names the offending input, and the underlying `cause` where there is one.
 */

/** Stable error codes; safe to switch on. */
export type LayerCacheErrorCode =
  | 'INVALID_KEY'
  | 'INVALID_OPTION'
  | 'LOADER_TIMEOUT'
  | 'LAYER_TIMEOUT'
  | 'LAYER_UNAVAILABLE'
  | 'ENTRY_ENCODE_FAILED'
  | 'INVALIDATION_LIMIT_EXCEEDED'
  | 'INVALIDATION_SCAN_FAILED'
  | 'STACK_CLOSED'
  | 'CIRCUIT_OPEN'
  | 'RATE_LIMITED'
  | 'INVALID_SNAPSHOT'

  | 'WRITE_FAILED';

/** Base class of every error the library throws. */
export class LayerCacheError extends Error {
  /** A stable machine-readable code. */
  readonly code: LayerCacheErrorCode;

  constructor(code: LayerCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A cache key is empty, too long, not a string or contains control characters. */
export class InvalidKeyError extends LayerCacheError {
  constructor(message: string) {
    super('INVALID_KEY', message);
  }
}

/** An option has a value of the wrong type or range; the message names the option. */
export class InvalidOptionError extends LayerCacheError {
  /** The option's name, e.g. `ttl` or `MemoryLayer.maxSize`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('INVALID_OPTION', `Invalid option "${option}": ${message}`);
    this.option = option;
  }
}

/** A loader did not settle within its `loaderTimeout`. */
export class LoaderTimeoutError extends LayerCacheError {
  constructor(key: string, timeoutMs: number) {
    super('LOADER_TIMEOUT', `Loader for key "${key}" did not settle within ${timeoutMs} ms`);
  }
}

/** A command to a shared layer did not answer within the stack's `layerTimeout` (logged and counted, not thrown at the caller's work). */
export class LayerTimeoutError extends LayerCacheError {
  constructor(layer: string, operation: string, timeoutMs: number) {
    super('LAYER_TIMEOUT', `Layer "${layer}" did not answer ${operation} within ${timeoutMs} ms`);
  }
}

/** A layer is skipped because it failed recently (its back-off window is open). */
export class LayerUnavailableError extends LayerCacheError {
  constructor(layer: string, cause?: unknown) {
    super('LAYER_UNAVAILABLE', `Layer "${layer}" is unavailable`, { cause });
  }
}

/**
 * A value could not be serialized for a layer outside the process (the serializer threw, e.g. for a
 * function or a class it does not know). Nothing was written for the key. This says something about the
 * value, not about the layer's health: the stack does not back off the layer for it.
 */
export class EntryEncodeError extends LayerCacheError {
  /** The key whose value could not be encoded. */
  readonly key: string;

  constructor(layer: string, key: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('ENTRY_ENCODE_FAILED', `Layer "${layer}" could not encode the value of key ${JSON.stringify(key)}: ${reason}`, { cause });
    this.key = key;
  }
}

/**
 * `invalidateByPrefix` / `invalidateByPattern` matched more keys than its `limit`: nothing was deleted. Narrow
 * the pattern, raise the limit, or prefer tags or `bumpGeneration()` (O(1)) for large sets.
 */
export class InvalidationLimitError extends LayerCacheError {
  /** The limit that was exceeded. */
  readonly limit: number;

  constructor(what: string, limit: number) {
    super('INVALIDATION_LIMIT_EXCEEDED', `${what} matches more than ${limit} keys; nothing was deleted (raise \`limit\`, or use tags or bumpGeneration())`);
    this.limit = limit;
  }
}

/** A layer failed while `invalidateByPrefix` / `invalidateByPattern` listed its keys: nothing was deleted. */
export class InvalidationScanError extends LayerCacheError {
  constructor(what: string, layer: string, cause: unknown) {
    super('INVALIDATION_SCAN_FAILED', `Layer "${layer}" failed while listing the keys of ${what}; nothing was deleted`, { cause });
  }
}

/** The stack was closed; it accepts no more work. */
export class StackClosedError extends LayerCacheError {
  constructor() {
    super('STACK_CLOSED', 'The CacheStack was closed');
  }
}

/**
 * The loader was not called because its circuit is open (`circuitBreaker`): too many of its loads failed
 * recently. Thrown only when no stale or stale-if-error value could be served instead.
 */
export class CircuitOpenError extends LayerCacheError {
  /** The circuit: `namespace:<name>` (`namespace:` for the root), `key:<key>`, or the name of a custom scope. */
  readonly circuit: string;
  /** Milliseconds until a probe load may be let through (0: the cooldown is over and a probe is running). */
  readonly retryAfter: number;

  constructor(circuit: string, retryAfter: number) {
    const when = retryAfter > 0 ? `a probe load is let through in ${retryAfter} ms` : 'a probe load is running';
    super('CIRCUIT_OPEN', `Circuit "${circuit}" is open after repeated loader failures; the loader was not called (${when})`);
    this.circuit = circuit;
    this.retryAfter = retryAfter;
  }
}

/** A load found no room in its `loaderRateLimit` bucket within `maxWait`; the loader was not called. */
export class RateLimitError extends LayerCacheError {
  /** The bucket: `global`, `namespace:<name>`, `key:<key>`, or the name of a custom scope. */
  readonly bucket: string;
  /** How long the load waited (ms). */
  readonly waited: number;

  constructor(bucket: string, waited: number) {
    super('RATE_LIMITED', `Loader rate limit of "${bucket}" reached; the load waited ${waited} ms and the loader was not called`);
    this.bucket = bucket;
    this.waited = waited;
  }
}

/**
 * Under `writePolicy: 'strict'`, a `set`, `setMany`, `delete` or `deleteMany` that a layer did not confirm (it
 * failed, timed out, or was in its back-off window). For a set, the value is in no layer any more when this is
 * thrown: the layers that took it deleted it again (the key is absent, not its previous value). For a delete, the
 * layers that answered deleted the keys; `layer` may still serve the old values to other processes until it
 * recovers and replays the delete.
 */
export class WriteFailedError extends LayerCacheError {
  /** The (first) layer that did not confirm the write, e.g. `redis`. */
  readonly layer: string;
  /** Every layer that did not confirm it. */
  readonly layers: readonly string[];
  /** `set` (for `set`/`setMany`) or `delete` (for `delete`/`deleteMany`). */
  readonly operation: 'set' | 'delete';
  /** The keys of the call, as stored (namespaced). */
  readonly keys: readonly string[];

  constructor(operation: 'set' | 'delete', layers: readonly string[], keys: readonly string[], cause: unknown) {
    const shown = keys.length <= 5 ? keys.map((k) => JSON.stringify(k)).join(', ') : `${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')} and ${keys.length - 5} more`;
    const undone = operation === 'set' ? 'the value was removed from every layer that took it' : `the layers that answered deleted ${keys.length === 1 ? 'it' : 'them'}`;
    super('WRITE_FAILED', `Layer "${layers[0] ?? '?'}"${layers.length > 1 ? ` (and ${layers.slice(1).map((l) => `"${l}"`).join(', ')})` : ''} failed on ${operation} of ${shown}; ${undone}`, { cause });
    this.layer = layers[0] ?? '?';
    this.layers = layers;
    this.operation = operation;
    this.keys = keys;
  }
}

/**
 * A snapshot given to `importSnapshot` is not a whole snapshot of this library (another file, another format
 * version, truncated or corrupt in its structure), or its file could not be read (`cause`). Nothing was imported.
 */
export class SnapshotError extends LayerCacheError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super('INVALID_SNAPSHOT', `Invalid snapshot: ${problem}`, options);
  }
}
