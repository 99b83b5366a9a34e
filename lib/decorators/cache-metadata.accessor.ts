/**
 * The metadata of the cache method decorators and the one typed accessor that reads it (docs/architecture.md,
 * "Decorators that need DI").
 * - Every decorated method is recorded on the prototype that declares it: the decorator, the method and
 *   the stack it uses. `LayerCacheStackBinder` reads these per class (inherited ones too) without an instance.
 * (`@CacheTags` values live in lib/common/cache-tags.metadata.ts: the HTTP interceptor reads them too.)
 */
/** Metadata key of the decorated methods declared by a prototype. */
const CACHE_METHODS_METADATA = 'nestjs-layercache:cache-methods';

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
