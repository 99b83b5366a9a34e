/**
 * The option names of a stack, checked with `checkOptionKeys` (core/option-keys.ts): the entry options
 * (`CacheEntryOptions`, given per call, per namespace and as the stack's defaults) and the stack's own
 * (`CacheStackOptions`). An unknown name is an `InvalidOptionError` naming it and the closest known one, or the
 * hint of another library's name (core/foreign-options.ts). Hard part: the lists must follow the interfaces; a
 * compile-time check in engine-settings.ts fails the build when an option is added to an interface and not here
 * (or listed here and not there).
 */
import { FOREIGN_ENTRY_OPTIONS, FOREIGN_STACK_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';

/** Every key of `CacheEntryOptions`. */
export const ENTRY_OPTION_NAMES = [
  'ttl',
  'ttlJitter',
  'timeZone',
  'staleWhileRevalidate',
  'staleIfError',
  'negativeTtl',
  'tags',
  'shouldCache',
  'loaderTimeout',
  'slidingTtl',
  'maxTtl',
  'adaptiveTtl',
  'refreshAhead',
  'circuitBreaker',
  'loaderRateLimit',
] as const;

/** A name of {@link ENTRY_OPTION_NAMES}. */
export type EntryOptionName = (typeof ENTRY_OPTION_NAMES)[number];

/** Every key of `CacheStackOptions` (the entry options included). */
export const STACK_OPTION_NAMES = [
  ...ENTRY_OPTION_NAMES,
  'clock',
  'logger',
  'tagStore',
  'hashLongKeys',
  'layerTimeout',
  'layerBackoff',
  'revalidationLock',
  'revalidationTimeout',
  'invalidationBus',
  'singleFlight',
  'singleFlightLease',
  'writePolicy',
  'writeBehind',
  'tracing',
  'maxLifetime',
] as const;

/** A name of {@link STACK_OPTION_NAMES}. */
export type StackOptionName = (typeof STACK_OPTION_NAMES)[number];

const ENTRY_NAMES: ReadonlySet<string> = new Set(ENTRY_OPTION_NAMES);
const STACK_NAMES: ReadonlySet<string> = new Set(STACK_OPTION_NAMES);
const SET_ITEM_NAMES: ReadonlySet<string> = new Set(['key', 'value', 'options']);

/** Checks the names of entry options given to a call (`get`, `set`, `wrap`, `memoize`, `namespace`...): errors name the bare option. */
export function checkEntryOptionNames(options: object): void {
  checkOptionKeys(options, ENTRY_NAMES, { renamed: FOREIGN_ENTRY_OPTIONS });
}

/** Checks the names of `new CacheStack(layers, options)`'s options: errors name `CacheStack.<option>`. */
export function checkStackOptionNames(options: object): void {
  checkOptionKeys(options, STACK_NAMES, { at: 'CacheStack', renamed: FOREIGN_STACK_OPTIONS });
}

/** Checks the names of one item of `setMany` (`key`, `value`, `options`): errors name `items[<index>].<option>`. */
export function checkSetItemNames(item: object, index: number): void {
  checkOptionKeys(item, SET_ITEM_NAMES, { at: `items[${index}]` });
}
