/**
 * The option names of `LayerCacheModule.forRoot` and of what a `forRootAsync` factory returns: the module's own,
 * the `CacheStack`'s, and in `forRoot` the registration's extras (`name`, `isGlobal`, `admin`). An unknown name is
 * an `InvalidOptionError` naming it and the closest known one, or the hint of a name from @nestjs/cache-manager or
 * layercache (core/foreign-options.ts): `store`, `max`, `gracefulDegradation`... Hard part: a factory's result must
 * not carry the extras (they are static, beside `useFactory`); there `isGlobal` gets that direction.
 */
import { FOREIGN_MODULE_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys, type AllListed } from '../core/option-keys.js';
import { STACK_OPTION_NAMES, type StackOptionName } from '../stack/cache-stack.options.js';
import { DEFAULT_LAYER_CACHE_MODULE_EXTRAS, type LayerCacheModuleOptions } from './layer-cache.options.js';

/** The keys of `LayerCacheModuleOptions` that are not `CacheStack` options. */
export const MODULE_ONLY_OPTION_NAMES = ['enabled', 'layers', 'memory', 'redis', 'redisLayer', 'http', 'distributed', 'warm', 'snapshot', 'metrics'] as const;

// Every option of LayerCacheModuleOptions is listed here or in the stack's names (a missing one is a type error).
const MODULE_NAMES_LISTED: AllListed<LayerCacheModuleOptions, (typeof MODULE_ONLY_OPTION_NAMES)[number] | StackOptionName> = true;
void MODULE_NAMES_LISTED;

const RESOLVED_NAMES: ReadonlySet<string> = new Set<string>([...STACK_OPTION_NAMES, ...MODULE_ONLY_OPTION_NAMES]);
const ROOT_NAMES: ReadonlySet<string> = new Set<string>([...RESOLVED_NAMES, ...Object.keys(DEFAULT_LAYER_CACHE_MODULE_EXTRAS)]);
const DISTRIBUTED_NAMES: ReadonlySet<string> = new Set(['invalidationBus', 'singleFlight', 'secret']);

/**
 * Checks the names of module options: `extras` true for `forRoot`'s argument (which also carries `name`,
 * `isGlobal`, `admin`), false for the options a `forRootAsync` factory, class or provider produced.
 */
export function checkModuleOptionNames(options: object, extras: boolean): void {
  checkOptionKeys(options, extras ? ROOT_NAMES : RESOLVED_NAMES, { renamed: FOREIGN_MODULE_OPTIONS });
}

/** Checks the names of the `distributed` option's object form. */
export function checkDistributedOptionNames(distributed: object): void {
  checkOptionKeys(distributed, DISTRIBUTED_NAMES, { at: 'distributed', renamed: { publisher: 'the bus runs on the redis connection (duplicated for its subscriber)', signingSecret: 'renamed secret' } });
}

/** What `forRootAsync` itself takes beside the factory: Nest's async-module keys and the static extras. */
const ASYNC_NAMES: ReadonlySet<string> = new Set<string>([
  'imports',
  'inject',
  'useFactory',
  'useClass',
  'useExisting',
  'provideInjectionTokensFrom',
  'layers',
  ...Object.keys(DEFAULT_LAYER_CACHE_MODULE_EXTRAS),
]);

/** A module or stack option written beside `useFactory` instead of in what it returns. */
const RETURN_IT = 'an option of the stack: return it from useFactory (or the class), not beside it';

/** Hints for `forRootAsync`: options that belong in the factory's result, and @nestjs/cache-manager's `extraProviders`. */
const ASYNC_HINTS: Readonly<Record<string, string>> = Object.freeze({
  ...Object.fromEntries([...RESOLVED_NAMES].filter((name) => !ASYNC_NAMES.has(name)).map((name) => [name, RETURN_IT])),
  extraProviders: "not an option here: provide what the factory injects in a module of `imports` (@nestjs/cache-manager's extraProviders)",
});

/** Checks the names of `forRootAsync`'s own argument (`imports`, `inject`, `useFactory`... and the static extras). */
export function checkAsyncOptionNames(options: object): void {
  checkOptionKeys(options, ASYNC_NAMES, { at: 'forRootAsync', renamed: ASYNC_HINTS });
}
