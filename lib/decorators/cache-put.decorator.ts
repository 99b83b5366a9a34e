/**
 * `@CachePut`: the method always runs; its result is stored under the key (same key rules, options and tags
 * as `@Cacheable`). The shape follows what the method returns at run time: a promise resolves after the
 * store, an Observable completes after its last value was stored, a plain value is returned at once and
 * stored in the background. A store that fails is logged, never thrown.
 */
import { isObservable } from 'rxjs';
import { checkWriteOptions, type CachePutOptions } from './cache-decorator.options.js';
import { decorateMethod, type AnyMethod, type CacheSite } from './cache-method.wrapper.js';
import { WritePlans } from './cache-write.plan.js';
import { completeAfter, isThenable, NO_VALUE } from './return-shape.util.js';

/**
 * Runs the method and stores its result in the cache, refreshing what a `@Cacheable` with the same key
 * reads. `condition` false skips the store; `unless(result)` true skips it too.
 * @example
 * ```ts
 * @Cacheable({ key: 'user:{0}' })
 * async findOne(id: number): Promise<User> { ... }
 *
 * @CachePut({ key: 'user:{0}' })
 * async update(id: number, dto: UpdateUserDto): Promise<User> { ... }   // findOne(id) now reads the new user
 * ```
 */
export function CachePut<A extends unknown[] = unknown[], R = unknown>(options?: CachePutOptions<A, R>): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    decorateMethod(
      '@CachePut',
      target,
      propertyKey,
      descriptor,
      (label) => checkWriteOptions(label, options as CachePutOptions | undefined, 'CachePut'),
      (original, site, checked) => writeThrough(original, site, new WritePlans(site, checked), checked.condition),
    );
  };
}

function writeThrough(original: AnyMethod, site: CacheSite, plans: WritePlans, condition: ((...args: unknown[]) => boolean) | undefined): AnyMethod {
  return function cachePut(this: unknown, ...args: unknown[]): unknown {
    const stack = site.stackOf(this);
    if (stack === undefined || (condition !== undefined && !condition(...args))) return original.apply(this, args);
    const plan = plans.of(this);
    let key: string;
    try {
      key = plan.key(args);
    } catch (error) {
      site.warnOnce('key', 'cannot build the key for this call; the result is not stored', error);
      return original.apply(this, args);
    }
    const value = original.apply(this, args);
    const options = plan.optionsFor(args);
    if (isObservable(value)) {
      return completeAfter(value, (last) => (last === NO_VALUE ? Promise.resolve() : site.safely(stack.set(key, last, options))));
    }
    if (isThenable(value)) {
      return Promise.resolve(value).then(async (result) => {
        await site.safely(stack.set(key, result, options));
        return result;
      });
    }
    void site.safely(stack.set(key, value, options));
    return value;
  };
}
