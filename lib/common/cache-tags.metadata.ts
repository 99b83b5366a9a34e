/**
 * `@CacheTags` metadata, shared by the method decorators and the HTTP interceptor: the tag value type, where the
 * values are recorded, and how they are read and evaluated for one call (also `@CacheEvict` keys).
 * - Values are recorded on the method's function object (so they travel with the wrappers, which copy every
 *   metadata key) and on classes (inherited by subclasses).
 */

/** Metadata key of `@CacheTags` values, on a method's function or on a class. */
const CACHE_TAGS_METADATA = 'nestjs-layercache:cache-tags';

/**
 * Internal: one value `resolveCacheTags` evaluates: a `@CacheTags` argument, an item of a decorator's
 * `tags`, or a `@CacheEvict` key; a string, or a function of the arguments and the result returning one or
 * more. The public types are `TagsOption` (lib/core/tags.ts) and `CacheEvictKey`.
 */
export type CacheTagValue<A extends unknown[] = unknown[], R = unknown> =
  | string
  | ((args: A, result: R) => string | readonly string[]);

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
