/**
 * The metadata of the cache decorators and the one typed accessor that reads it (docs/architecture.md,
 * "Decorators that need DI").
 * - Every decorated method is recorded on the prototype that declares it: the decorator, the method and
 *   the stack it uses. `LayerCacheStackBinder` reads these per class (inherited ones too) without an instance.
 * - `@CacheTags` records tag values on the method's function object (so they travel with the wrappers,
 *   which copy every metadata key) and on classes (inherited by subclasses).
 */
import type { CacheTagValue } from './cache-decorator.options.js';

/** Metadata key of the decorated methods declared by a prototype. */
const CACHE_METHODS_METADATA = 'nestjs-layercache:cache-methods';
/** Metadata key of `@CacheTags` values, on a method's function or on a class. */
const CACHE_TAGS_METADATA = 'nestjs-layercache:cache-tags';

/** One decorated method, as recorded when its class is defined. */
export interface CacheMethodRecord {
  /** `@Cacheable`, `@CachePut` or `@CacheEvict`. */
  readonly decorator: string;
  /** The class that declares the method. */
  readonly className: string;
  readonly method: string;
  /** The stack's name (`DEFAULT_STACK_NAME` for the default stack). */
  readonly stack: string;
}

/** Records a decorated method on the prototype that declares it. */
export function recordCacheMethod(prototype: object, record: CacheMethodRecord): void {
  const own = (Reflect.getOwnMetadata(CACHE_METHODS_METADATA, prototype) as CacheMethodRecord[] | undefined) ?? [];
  Reflect.defineMetadata(CACHE_METHODS_METADATA, [...own, record], prototype);
}

/** Whether `prototype` itself (not a base class) already has a decorated method using `stack`. */
export function declaresStack(prototype: object, stack: string): boolean {
  const own = Reflect.getOwnMetadata(CACHE_METHODS_METADATA, prototype) as CacheMethodRecord[] | undefined;
  return own?.some((record) => record.stack === stack) ?? false;
}

/** The decorated methods of a class, its base classes' included; empty for other values. */
export function getCacheMethods(target: unknown): readonly CacheMethodRecord[] {
  if (typeof target !== 'function') return [];
  const records: CacheMethodRecord[] = [];
  for (let proto: unknown = target.prototype; proto !== null && typeof proto === 'object' && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const own = Reflect.getOwnMetadata(CACHE_METHODS_METADATA, proto) as CacheMethodRecord[] | undefined;
    if (own !== undefined) records.push(...own);
  }
  return records;
}

/** Adds `@CacheTags` values to a method's function or to a class (a new array: nothing shared is mutated). */
export function addCacheTags(target: object, tags: readonly CacheTagValue[]): void {
  const existing = (Reflect.getMetadata(CACHE_TAGS_METADATA, target) as readonly CacheTagValue[] | undefined) ?? [];
  Reflect.defineMetadata(CACHE_TAGS_METADATA, [...existing, ...tags], target);
}

/**
 * The `@CacheTags` values of a method: those of its class (and base classes) first, then the method's own,
 * whichever order the decorators were written in. Functions take `(args, result)`.
 * @param target the class (e.g. `context.getClass()` in an interceptor).
 * @param method the method's function (`context.getHandler()`) or its name.
 * @example
 * const tags = getCacheTags(context.getClass(), context.getHandler());
 */
export function getCacheTags(target: abstract new (...args: never[]) => unknown, method?: object | string | symbol): readonly CacheTagValue[] {
  const fromClass = (Reflect.getMetadata(CACHE_TAGS_METADATA, target) as readonly CacheTagValue[] | undefined) ?? [];
  const fn =
    typeof method === 'string' || typeof method === 'symbol' ? (target.prototype as Record<string | symbol, unknown>)[method] : method;
  const fromMethod =
    typeof fn === 'function' ? ((Reflect.getMetadata(CACHE_TAGS_METADATA, fn) as readonly CacheTagValue[] | undefined) ?? []) : [];
  if (fromMethod.length === 0) return fromClass;
  return fromClass.length === 0 ? fromMethod : [...fromClass, ...fromMethod];
}

/**
 * Evaluates tag values (or `@CacheEvict` keys) for one call: strings as they are, functions with
 * `(args, result)`; de-duplicated.
 * @throws TypeError when a function returns something other than a string or an array of strings.
 */
export function resolveCacheTags(values: readonly CacheTagValue[], args: unknown[], result: unknown): string[] {
  const tags: string[] = [];
  for (const value of values) {
    const produced = typeof value === 'function' ? value(args, result) : value;
    if (typeof produced === 'string') {
      if (!tags.includes(produced)) tags.push(produced);
    } else if (Array.isArray(produced)) {
      for (const tag of produced) {
        if (typeof tag !== 'string') throw new TypeError(`a tag or key function returned a non-string item: ${String(tag)}`);
        if (!tags.includes(tag)) tags.push(tag);
      }
    } else {
      throw new TypeError('a tag or key function must return a string or an array of strings');
    }
  }
  return tags;
}
