/**
 * What a `StackCore` is built from (`EngineSettings`), and how `CacheStack` resolves it from its layers and
 * `CacheStackOptions`: everything checked eagerly (an `InvalidOptionError` names the option), durations
 * turned into milliseconds, and the collaborators chosen — the tag store and revalidation lock given as
 * options, else a shared layer's own, else the in-process defaults.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { likelyMillisecondsWarning, takeLikelyMillisecondsWarnings, toMilliseconds } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import type { InvalidationBus } from '../core/invalidation-bus.js';
import type { CacheLayer } from '../core/layer.js';
import type { LoadCoordinator } from '../core/load-coordinator.js';
import { BurstLogger, consoleLogger, type CacheLogger } from '../core/logger.js';
import type { RevalidationLock } from '../core/revalidation-lock.js';
import type { TagStore } from '../core/tag-store.js';
import { checkPlugin } from '../core/plugin-check.js';
import { MemoryTagStore } from '../core/memory-tag.store.js';
import { basePolicy, DEFAULT_CACHE_STACK_OPTIONS, resolvePolicy, type CacheEntryOptions, type CacheStackOptions, type EntryPolicy } from './cache-stack.options.js';
import type { GuardSettings } from './layer-guard.js';
import { resolveTracing, type StackTracing } from './tracing.js';
import { resolveWriteSettings, type WriteSettings } from './write-options.js';
import { checkStackOptionNames, type EntryOptionName, type StackOptionName } from './option-names.js';
import { resolveMaxLifetime } from './max-lifetime.js';

// The names option-names.ts checks are exactly these interfaces' keys (either way, a difference is a type error).
const NAMES_MATCH: [Exclude<keyof CacheEntryOptions | EntryOptionName, keyof CacheEntryOptions & EntryOptionName>, Exclude<keyof CacheStackOptions | StackOptionName, keyof CacheStackOptions & StackOptionName>] extends [never, never] ? true : false = true;
void NAMES_MATCH;

/** Everything the engine needs, resolved by `CacheStack`. */
export interface EngineSettings {
  readonly layers: readonly CacheLayer[];
  readonly policy: EntryPolicy;
  readonly clock: Clock;
  readonly log: BurstLogger;
  readonly tagStore: TagStore;
  /** The index of the layer the tag store belongs to (`createTagStore`), if it does. */
  readonly tagStoreLayer: number | undefined;
  readonly guard: GuardSettings;
  /** Most keys remembered per shared layer while it fails, to replay their invalidation on recovery. */
  readonly recoveryQueueSize: number;
  /** The lock of background refreshes (once per cluster), or `undefined` for none (once per process). */
  readonly revalidation: RevalidationSettings | undefined;
  /** The L1 invalidation bus, or `undefined` for none (a single process). */
  readonly bus: InvalidationBus | undefined;
  /** Once-per-cluster loads of missing keys, or `undefined` (once per process). */
  readonly singleFlight: { readonly coordinator: LoadCoordinator; readonly leaseTtl: number } | undefined;
  /** The user's logger, for the bus's informational lines. */
  readonly logger: CacheLogger;
  /** `writePolicy` and `writeBehind`. */
  readonly writes: WriteSettings;
  /** The stack's spans (`tracing`), `undefined` when off. */
  readonly tracing: StackTracing | undefined;
  /** `maxLifetime` in ms: no deadline of an entry lies further after its write (max-lifetime.ts). */
  readonly maxLifetimeMs: number;
}

/** The revalidation lock of a stack, resolved by `CacheStack`. */
export interface RevalidationSettings {
  readonly lock: RevalidationLock;
  /** The index of the layer the lock belongs to (`createRevalidationLock`), if it does. */
  readonly layer: number | undefined;
  /** The lease ttl in ms (`revalidationTimeout`). */
  readonly timeout: number;
}

/**
 * Checks `layers` (fastest first) and `options`, attaches each layer to the stack's clock and logger, and
 * resolves the engine's settings. Throws `InvalidOptionError` on the first option that does not fit.
 */
export function resolveEngineSettings(layers: readonly CacheLayer[], options: CacheStackOptions): EngineSettings {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new InvalidOptionError('layers', 'expected a non-empty array of cache layers, fastest first');
  }
  const names = new Set<string>();
  for (const layer of layers) {
    if (layer === null || typeof layer !== 'object' || typeof layer.get !== 'function' || typeof layer.set !== 'function') {
      throw new InvalidOptionError('layers', 'every layer must implement the CacheLayer contract (get, set, delete, ...)');
    }
    if (names.has(layer.name)) throw new InvalidOptionError('layers', `two layers are named "${layer.name}"; give each a distinct name`);
    names.add(layer.name);
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an object');
  checkStackOptionNames(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger;
  for (const layer of layers) layer.attach?.({ clock, logger });
  const layerTtls = layers.map((l) => l.ttl).filter((ttl): ttl is number => ttl !== undefined);
  const fallbackTtl = layerTtls.length > 0 ? Math.max(...layerTtls) : toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.fallbackTtl, 'ttl');
  const backoff = toMilliseconds(options.layerBackoff ?? DEFAULT_CACHE_STACK_OPTIONS.layerBackoff, 'layerBackoff');
  const timeout = toMilliseconds(options.layerTimeout ?? DEFAULT_CACHE_STACK_OPTIONS.layerTimeout, 'layerTimeout');
  if (timeout <= 0) throw new InvalidOptionError('layerTimeout', 'must be greater than 0');
  const tracing = resolveTracing(options.tracing);
  const storeLayer = options.tagStore === undefined ? layers.findIndex((l) => l.shared && l.createTagStore !== undefined) : -1;
  const settings: EngineSettings = {
    layers,
    policy: resolvePolicy(options, basePolicy(fallbackTtl), false),
    clock,
    log: new BurstLogger(logger),
    tagStore: options.tagStore ?? layers[storeLayer]?.createTagStore?.() ?? new MemoryTagStore(clock),
    tagStoreLayer: storeLayer < 0 ? undefined : storeLayer,
    guard: {
      timeout,
      backoff,
      maxBackoff: Math.max(backoff, toMilliseconds(DEFAULT_CACHE_STACK_OPTIONS.maxLayerBackoff, 'layerBackoff')),
      tracing,
    },
    recoveryQueueSize: DEFAULT_CACHE_STACK_OPTIONS.recoveryQueueSize,
    revalidation: resolveRevalidation(layers, options),
    bus: checkPlugin(options.invalidationBus, 'invalidationBus', ['start', 'publish', 'close']),
    singleFlight: resolveSingleFlight(options),
    logger,
    writes: resolveWriteSettings(options),
    tracing,
    maxLifetimeMs: resolveMaxLifetime(options.maxLifetime),
  };
  warnLikelyMilliseconds(layers, options, logger); // once every option is valid: a stack that throws warns nothing
  return settings;
}

/** The stack's revalidation lock: the option, else the first shared layer's own, else none. */
function resolveRevalidation(layers: readonly CacheLayer[], options: CacheStackOptions): RevalidationSettings | undefined {
  const timeout = toMilliseconds(options.revalidationTimeout ?? DEFAULT_CACHE_STACK_OPTIONS.revalidationTimeout, 'revalidationTimeout');
  if (timeout < 1) throw new InvalidOptionError('revalidationTimeout', 'must be at least 1 ms');
  const option: unknown = options.revalidationLock;
  if (option === false) return undefined;
  if (option !== undefined) {
    if (typeof option !== 'object' || option === null || typeof (option as Partial<RevalidationLock>).acquire !== 'function') {
      throw new InvalidOptionError('revalidationLock', 'expected a RevalidationLock (an object with acquire(key, ttlMs)) or false');
    }
    return { lock: option as RevalidationLock, layer: undefined, timeout };
  }
  const index = layers.findIndex((l) => l.shared && l.createRevalidationLock !== undefined);
  const lock = layers[index]?.createRevalidationLock?.();
  return lock === undefined ? undefined : { lock, layer: index, timeout };
}

function resolveSingleFlight(options: CacheStackOptions): EngineSettings['singleFlight'] {
  const coordinator = checkPlugin(options.singleFlight, 'singleFlight', ['acquire', 'close']);
  if (coordinator === undefined) return undefined;
  const leaseTtl = toMilliseconds(options.singleFlightLease ?? DEFAULT_CACHE_STACK_OPTIONS.singleFlightLease, 'singleFlightLease');
  if (leaseTtl <= 0) throw new InvalidOptionError('singleFlightLease', 'must be greater than 0');
  return { coordinator, leaseTtl };
}

/**
 * Logs, once per stack, each duration written without a unit that looks like milliseconds (duration.ts): the stack's
 * `ttl`, `staleWhileRevalidate`, `staleIfError`, `maxLifetime`, and the `ttl` its layers were built with. Per-call options are not
 * checked (they would warn per call).
 */
function warnLikelyMilliseconds(layers: readonly CacheLayer[], options: CacheStackOptions, logger: CacheLogger): void {
  const warnings: string[] = [];
  for (const option of ['ttl', 'staleWhileRevalidate', 'staleIfError', 'maxLifetime'] as const) {
    const warning = likelyMillisecondsWarning(options[option], option);
    if (warning !== undefined) warnings.push(warning);
  }
  for (const layer of layers) warnings.push(...takeLikelyMillisecondsWarnings(layer));
  for (const warning of warnings) logger.warn(warning);
}
