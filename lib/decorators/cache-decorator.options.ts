/**
 * What users write in `@Cacheable`, `@CachePut`, `@CacheEvict` and `@CacheTags`, and the eager checks of it:
 * a bad option throws `InvalidOptionError` when the class is defined, naming the decorator and the method.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkName } from '../core/keys.js';
import { FOREIGN_ENTRY_OPTIONS } from '../core/foreign-options.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { basePolicy, resolvePolicy, type CacheEntryOptions } from '../stack/cache-stack.options.js';
import type { TagsOption } from '../core/tags.js';
import type { CacheTagValue } from '../common/cache-tags.metadata.js';

/**
 * The key of a cached method call: a template over the arguments (`'user:{0}'`, `'{0.id}:{1}'`: a
 * positional argument with an optional property path), or a function of the arguments.
 */
export type CacheKeyOption<A extends unknown[] = unknown[]> = string | ((...args: A) => string);

/**
 * A key `@CacheEvict` deletes: a template over the arguments (`'user:{0}'`, `'{0.id}'`), or a function of
 * the arguments and the method's result returning one key or several.
 */
export type CacheEvictKey<A extends unknown[] = unknown[], R = unknown> =
  | string
  | ((args: A, result: R) => string | readonly string[]);

/** Where a decorator reads and writes: a named stack and a namespace in it. */
export interface CacheTargetOptions {
  /** The stack registered with `LayerCacheModule.forRoot({ name })`. @default the default stack */
  stack?: string;
  /** A namespace of that stack (`stack.namespace(name)`). @default the stack's root */
  namespace?: string;
}

/** The entry options `@Cacheable` and `@CachePut` hand to the stack as written (besides `tags`, `loaderTimeout`). */
export type DecoratorEntryOption =
  | 'ttl'
  | 'staleWhileRevalidate'
  | 'staleIfError'
  | 'negativeTtl'
  | 'slidingTtl'
  | 'maxTtl'
  | 'adaptiveTtl'
  | 'refreshAhead'
  | 'ttlJitter'
  | 'timeZone'
  | 'circuitBreaker'
  | 'loaderRateLimit';

/** Every {@link DecoratorEntryOption}, for copying them. */
export const DECORATOR_ENTRY_OPTIONS = [
  'ttl',
  'staleWhileRevalidate',
  'staleIfError',
  'negativeTtl',
  'slidingTtl',
  'maxTtl',
  'adaptiveTtl',
  'refreshAhead',
  'ttlJitter',
  'timeZone',
  'circuitBreaker',
  'loaderRateLimit',
] as const satisfies readonly DecoratorEntryOption[];

/** Options shared by `@Cacheable` and `@CachePut`; durations: a number is seconds. */
export interface CacheWriteOptions<A extends unknown[] = unknown[], R = unknown>
  extends CacheTargetOptions,
    Pick<CacheEntryOptions<R>, DecoratorEntryOption> {
  /**
   * The entry's key: a template (`'user:{0}'`, `'{0.id}:{1}'`) or a function of the arguments.
   * @default `ClassName.methodName:` + a collision-free encoding of the arguments (the runtime class)
   */
  key?: CacheKeyOption<A>;
  /** Tags of the entry (merged with `@CacheTags` of the method and its class): names, or a function of `(args, result)`. */
  tags?: TagsOption<[args: A, result: R]>;
  /** Return `false` to call the method without the cache (nothing read, nothing stored). @default always */
  condition?: (...args: A) => boolean;
  /** Return `true` to hand a result to the caller without caching it. @default never */
  unless?: (result: R) => boolean;
}

/** Options of `@Cacheable`. */
export interface CacheableOptions<A extends unknown[] = unknown[], R = unknown> extends CacheWriteOptions<A, R> {
  /** How long the method may run on a miss before its callers get a `LoaderTimeoutError`. @default 30 s */
  loaderTimeout?: CacheEntryOptions['loaderTimeout'];
}

/** Options of `@CachePut`: the method always runs and its result is stored under `key`. */
export type CachePutOptions<A extends unknown[] = unknown[], R = unknown> = CacheWriteOptions<A, R>;

/** Options of `@CacheEvict`: at least one of `keys`, `tags`, `allEntries`. */
export interface CacheEvictOptions<A extends unknown[] = unknown[], R = unknown> extends CacheTargetOptions {
  /** Keys to delete: one or several templates such as `'user:{0}'` or functions of `(args, result)`. */
  keys?: CacheEvictKey<A, R> | readonly CacheEvictKey<A, R>[];
  /** Tags to invalidate: names, or a function of `(args, result)` returning names. */
  tags?: TagsOption<[args: A, result: R]>;
  /** Clear the whole namespace, or the whole stack without a namespace. @default false */
  allEntries?: boolean;
  /** Evict before the method runs (even when it then fails); `result` is `undefined`. @default false */
  beforeInvocation?: boolean;
}

/** Names a decorated method in messages: `@Cacheable on UsersService.findOne`. */
export function describeSite(decorator: string, className: string, method: string): string {
  return `${decorator} on ${className}.${method}`;
}

const ENTRY_CHECK_BASE = basePolicy(0);

const TARGET_NAMES = ['stack', 'namespace'] as const;
const PUT_NAMES: ReadonlySet<string> = new Set<string>([...TARGET_NAMES, ...DECORATOR_ENTRY_OPTIONS, 'key', 'tags', 'condition', 'unless']);
const CACHEABLE_NAMES: ReadonlySet<string> = new Set<string>([...PUT_NAMES, 'loaderTimeout']);
const EVICT_NAMES: ReadonlySet<string> = new Set<string>([...TARGET_NAMES, 'keys', 'tags', 'allEntries', 'beforeInvocation']);
// Every option of the decorators' interfaces is listed above (a missing one is a type error here).
const NAMES_LISTED: [
  Exclude<keyof CacheableOptions, (typeof TARGET_NAMES)[number] | (typeof DECORATOR_ENTRY_OPTIONS)[number] | 'key' | 'tags' | 'condition' | 'unless' | 'loaderTimeout'>,
  Exclude<keyof CacheEvictOptions, (typeof TARGET_NAMES)[number] | 'keys' | 'tags' | 'allEntries' | 'beforeInvocation'>,
] extends [never, never]
  ? true
  : false = true;
void NAMES_LISTED;

/** Names Spring's and @nestjs/cache-manager's users bring to the decorators. */
const DECORATOR_RENAMED = Object.freeze({
  ...FOREIGN_ENTRY_OPTIONS,
  cacheNames: 'use namespace (a namespace of the stack) or stack (a named registration)',
  value: 'use namespace (a namespace of the stack) or stack (a named registration)',
  keyGenerator: 'give key as a function of the arguments',
  sync: 'always on: concurrent calls with one key run the method once',
});

/**
 * Checks the options of `@Cacheable`/`@CachePut` eagerly; `decorator`: which, for the names it accepts
 * (`loaderTimeout` is `@Cacheable`'s only) and its errors (`Cacheable.ttll`).
 */
export function checkWriteOptions(site: string, options: CacheableOptions | undefined, decorator: 'Cacheable' | 'CachePut' = 'Cacheable'): CacheableOptions {
  const o = checkObject(site, options);
  checkNames(site, o, decorator === 'Cacheable' ? CACHEABLE_NAMES : PUT_NAMES, decorator);
  checkTarget(site, o);
  if (o.key !== undefined && typeof o.key !== 'string' && typeof o.key !== 'function') {
    fail('key', site, 'expected a key template string or a function of the arguments');
  }
  if (typeof o.key === 'string' && o.key.length === 0) fail('key', site, 'the key template must not be empty');
  if (o.tags !== undefined && typeof o.tags !== 'function') checkStrings(site, 'tags', o.tags);
  checkOptionalFunction(site, 'condition', o.condition);
  checkOptionalFunction(site, 'unless', o.unless);
  try {
    const entry: Record<string, unknown> = { loaderTimeout: o.loaderTimeout };
    for (const name of DECORATOR_ENTRY_OPTIONS) entry[name] = o[name];
    resolvePolicy(entry as CacheEntryOptions, ENTRY_CHECK_BASE);
  } catch (error) {
    if (error instanceof InvalidOptionError) fail(error.option, site, error.message.replace(/^Invalid option "[^"]*": /, ''));
    throw error;
  }
  return o;
}

/** Checks the options of `@CacheEvict` eagerly; at least one of `keys`, `tags`, `allEntries`. */
export function checkEvictOptions(site: string, options: CacheEvictOptions | undefined): CacheEvictOptions {
  const o = checkObject(site, options);
  checkNames(site, o, EVICT_NAMES, 'CacheEvict');
  checkTarget(site, o);
  const keys = listOf(o.keys);
  const tags = listOf<CacheTagValue>(o.tags);
  if (keys.length === 0 && tags.length === 0 && o.allEntries !== true) {
    fail('keys', site, 'needs `keys`, `tags` or `allEntries: true` (nothing to evict)');
  }
  for (const [name, list] of [['keys', keys], ['tags', tags]] as const) {
    for (const item of list) {
      if (typeof item === 'function') continue;
      if (typeof item !== 'string' || item.length === 0) fail(name, site, 'expected non-empty strings or functions of (args, result)');
    }
  }
  if (tags.some((tag) => typeof tag === 'string')) checkStrings(site, 'tags', tags.filter((tag) => typeof tag === 'string'));
  return o;
}

/** `value` as a list: `undefined` is empty, a single value a list of one. */
export function listOf<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function checkObject<O extends object>(site: string, options: O | undefined): O {
  if (options === undefined) return {} as O;
  if (typeof options !== 'object' || options === null) fail('options', site, `expected an object, got ${typeof options}`);
  return options;
}

/** Unknown option names: `InvalidOptionError` naming `<decorator>.<option>`, the site in the message. */
function checkNames(site: string, o: object, names: ReadonlySet<string>, decorator: string): void {
  try {
    checkOptionKeys(o, names, { at: decorator, renamed: DECORATOR_RENAMED });
  } catch (error) {
    if (error instanceof InvalidOptionError) fail(error.option, site, error.message.replace(/^Invalid option "[^"]*": /, ''));
    throw error;
  }
}

function checkTarget(site: string, o: CacheTargetOptions): void {
  if (o.stack !== undefined && (typeof o.stack !== 'string' || o.stack.length === 0)) fail('stack', site, 'expected a stack name');
  if (o.namespace !== undefined) {
    try {
      checkName('namespace', o.namespace);
    } catch (error) {
      fail('namespace', site, (error as Error).message);
    }
  }
}

function checkStrings(site: string, option: string, values: unknown): void {
  if (!Array.isArray(values)) fail(option, site, 'expected an array of tag names or a function');
  for (const value of values) {
    try {
      checkName('tag', value);
    } catch (error) {
      fail(option, site, (error as Error).message);
    }
  }
}

function checkOptionalFunction(site: string, option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') fail(option, site, `expected a function, got ${typeof value}`);
}

function fail(option: string, site: string, message: string): never {
  throw new InvalidOptionError(option, `${site}: ${message}`);
}
