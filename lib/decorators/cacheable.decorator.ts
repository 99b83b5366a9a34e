/**
 * `@Cacheable`: read-through caching of a method through the stack.
 *
 * Hot path (an L1 hit): read the stack from `this`, the plan of the class (one comparison), the key, then
 * `stack.peek(key)` synchronously and return: no closure, no options object, no spread. A miss goes through
 * `stack.get(key, loader, options)`: one run of the method however many callers wait (single-flight), with
 * stale-while-revalidate and stale-if-error as the options say.
 */
import { isObservable, lastValueFrom, Observable } from 'rxjs';
import { CACHE_MISS } from '../stack/cache-stack.js';
import type { CacheStack } from '../stack/cache-stack.js';
import { checkWriteOptions, type CacheableOptions } from './cache-decorator.options.js';
import { decorateMethod, type AnyMethod, type CacheSite } from './cache-method.wrapper.js';
import { WritePlans, type WritePlan } from './cache-write.plan.js';
import { emitSettled, isThenable, lastValueOf, returnShapeOf, type ReturnShape } from './return-shape.util.js';

/**
 * Caches the results of a method (provider or controller) in the cache stack: the first call with given
 * arguments runs it, later calls get the cached value until it expires. Concurrent calls of a cold key run
 * the method once.
 *
 * The method keeps its shape (from its declared return type): `Promise<T>` stays async; `Observable<T>` returns
 * an Observable that emits the method's **last** value, checking the cache at each subscription; a synchronous
 * method stays synchronous (a hit comes from the in-process layer; on a miss the method runs and its value is
 * stored in the background). Without a declared return type (or without `emitDecoratorMetadata`) the method
 * is treated as async.
 *
 * Key: `options.key` as a template (`'user:{0}'`, `'{0.id}:{1}'`) or a function of the arguments; by
 * default `ClassName.methodName:` + a collision-free encoding of the arguments.
 * @example
 * ```ts
 * @Injectable()
 * export class UsersService {
 *   @Cacheable({ key: 'user:{0}', ttl: 60, staleWhileRevalidate: '5m', tags: (args) => [`user:${args[0]}`] })
 *   async findOne(id: number): Promise<User> { return this.db.users.find(id); }
 * }
 * ```
 */
export function Cacheable<A extends unknown[] = unknown[], R = unknown>(options?: CacheableOptions<A, R>): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    decorateMethod(
      '@Cacheable',
      target,
      propertyKey,
      descriptor,
      (label) => checkWriteOptions(label, options as CacheableOptions | undefined),
      (original, site, checked) => readThrough(original, site, new WritePlans(site, checked), returnShapeOf(target, propertyKey), checked.condition),
    );
  };
}

const UNCACHED_CALL = 'cannot use the cache for this call (see the error); calling the method without it';

function readThrough(
  original: AnyMethod,
  site: CacheSite,
  plans: WritePlans,
  shape: ReturnShape,
  condition: ((...args: unknown[]) => boolean) | undefined,
): AnyMethod {
  return function cacheable(this: unknown, ...args: unknown[]): unknown {
    const stack = site.stackOf(this);
    if (stack === undefined || (condition !== undefined && !condition(...args))) return original.apply(this, args);
    const plan = plans.of(this);
    let key: string;
    let hit: unknown = CACHE_MISS;
    try {
      key = plan.key(args);
      if (shape !== 'observable') hit = stack.peek(key);
    } catch (error) {
      site.warnOnce('key', UNCACHED_CALL, error);
      return original.apply(this, args);
    }
    if (shape === 'async') return hit !== CACHE_MISS ? Promise.resolve(hit) : stack.get(key, loaderOf(original, this, args, site), plan.optionsFor(args));
    if (shape === 'observable') return observe(original, this, args, site, stack, key, plan, undefined);
    if (hit !== CACHE_MISS) return hit;
    // A synchronous miss: run the method, return its value at once, store it in the background.
    const value = original.apply(this, args);
    if (isThenable(value)) {
      shape = learn(site, 'async', 'a Promise');
      return Promise.resolve(value).then(async (result) => {
        await site.safely(stack.set(key, result, plan.optionsFor(args)));
        return result;
      });
    }
    if (isObservable(value)) {
      shape = learn(site, 'observable', 'an Observable');
      return observe(original, this, args, site, stack, key, plan, value);
    }
    void site.safely(stack.set(key, value, plan.optionsFor(args)));
    return value;
  };
}

/**
 * A method declared with another return type (`any`, a union, or a type-only import such as
 * `import type { Observable }`, which leaves no runtime type) returned a promise or an Observable: this call
 * and the following ones take that shape (hits included).
 */
function learn(site: CacheSite, shape: ReturnShape, what: string): ReturnShape {
  site.warnOnce(
    'shape',
    `returned ${what} but its declared return type has no runtime ${what === 'a Promise' ? 'Promise' : 'Observable'} type ` +
      '(a type-only import, a union, any); handled as such from now on — declare it to keep every call\'s shape',
  );
  return shape;
}

/** The loader of an async miss: the method's promise (an Observable it returns anyway: its last value). */
function loaderOf(original: AnyMethod, self: unknown, args: unknown[], site: CacheSite): () => unknown {
  return () => {
    const value = original.apply(self, args);
    if (!isObservable(value)) return value;
    site.warnOnce('shape', 'returned an Observable but is not declared `: Observable<T>`; caching its last value as a Promise');
    return lastValueFrom(value, { defaultValue: undefined });
  };
}

/**
 * An Observable method: at each subscription the cached value, or the method's last value (one run per key).
 * `source`: what the method already returned for this call, if it was called.
 */
function observe(
  original: AnyMethod,
  self: unknown,
  args: unknown[],
  site: CacheSite,
  stack: CacheStack,
  key: string,
  plan: WritePlan,
  source: unknown,
): Observable<unknown> {
  const call = () => (source === undefined ? original.apply(self, args) : source);
  return new Observable<unknown>((subscriber) => {
    let hit: unknown;
    try {
      hit = stack.peek(key);
    } catch (error) {
      site.warnOnce('key', UNCACHED_CALL, error);
      const value = call();
      if (isObservable(value)) return value.subscribe(subscriber);
      return emitSettled(subscriber, Promise.resolve(value));
    }
    if (hit !== CACHE_MISS) {
      subscriber.next(hit);
      subscriber.complete();
      return;
    }
    emitSettled(
      subscriber,
      stack.get(key, () => {
        const value = call();
        return isObservable(value) ? lastValueOf(value) : value;
      }, plan.optionsFor(args)),
    );
  });
}
