/**
 * `@CacheEvict`: deletes keys, invalidates tags or clears a namespace (or the stack) around a method.
 * After a successful call by default (a failing call evicts nothing); with `beforeInvocation` before the
 * method runs (an async method then starts once the eviction finished). The shape follows what the method
 * returns at run time. An eviction that fails is logged, never thrown: it does not fail the method.
 */
import { isObservable } from 'rxjs';
import type { CacheStack } from '../stack/cache-stack.js';
import type { CacheTagValue } from '../common/cache-tags.metadata.js';
import { checkEvictOptions, listOf, type CacheEvictOptions } from './cache-decorator.options.js';
import { compileKeyTemplate } from './cache-key.builder.js';
import { resolveCacheTags } from '../common/cache-tags.metadata.js';
import { decorateMethod, type AnyMethod, type CacheSite } from './cache-method.wrapper.js';
import { completeAfter, isThenable, NO_VALUE, returnShapeOf, subscribeAfter } from './return-shape.util.js';

/**
 * Evicts cache entries when the method succeeds (or before it runs, with `beforeInvocation: true`).
 * Keys are templates (`'user:{0}'`) or functions of `(args, result)` (`CacheEvictKey`); tags are names or a function of
 * `(args, result)` returning names (`TagsOption`); `allEntries: true` clears the namespace, or the whole stack without
 * one. At least one of them is needed.
 * @example
 * ```ts
 * @CacheEvict({ keys: 'user:{0}', tags: (args) => [`user:${args[0]}`, 'users'] })
 * async update(id: number, dto: UpdateUserDto): Promise<User> { ... }
 *
 * @CacheEvict({ namespace: 'reports', allEntries: true, beforeInvocation: true })
 * async rebuildReports(): Promise<void> { ... }
 * ```
 */
export function CacheEvict<A extends unknown[] = unknown[], R = unknown>(options: CacheEvictOptions<A, R>): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    decorateMethod(
      '@CacheEvict',
      target,
      propertyKey,
      descriptor,
      (label) => checkEvictOptions(label, options as CacheEvictOptions | undefined),
      (original, site, checked) => evicting(original, site, new Eviction(site, checked), checked.beforeInvocation === true && returnShapeOf(target, propertyKey) === 'async'),
    );
  };
}

/** What one `@CacheEvict` removes, compiled once. */
class Eviction {
  private readonly keys: readonly CacheTagValue[];
  private readonly tags: readonly CacheTagValue[];
  private readonly allEntries: boolean;
  readonly before: boolean;

  constructor(
    private readonly site: CacheSite,
    options: CacheEvictOptions,
  ) {
    this.keys = listOf(options.keys).map((key) => (typeof key === 'function' ? key : compileKeyTemplate(key)));
    this.tags = listOf<CacheTagValue>(options.tags);
    this.allEntries = options.allEntries === true;
    this.before = options.beforeInvocation === true;
  }

  /**
   * Evicts for one call; never rejects. Its synchronous part already removes the in-process copies, so a
   * synchronous method's next call does not read them.
   */
  run(stack: CacheStack, args: unknown[], result: unknown): Promise<void> {
    const work: Promise<unknown>[] = [];
    if (this.keys.length > 0) work.push(this.attempt(() => this.removeKeys(stack, resolveCacheTags(this.keys, args, result))));
    if (this.tags.length > 0) work.push(this.attempt(() => this.invalidateTags(stack, resolveCacheTags(this.tags, args, result))));
    if (this.allEntries) work.push(this.attempt(() => stack.clear()));
    return Promise.all(work).then(() => undefined);
  }

  private removeKeys(stack: CacheStack, keys: readonly string[]): Promise<void> {
    return keys.length === 0 ? Promise.resolve() : stack.deleteMany(keys);
  }

  private invalidateTags(stack: CacheStack, tags: readonly string[]): Promise<void> {
    return tags.length === 0 ? Promise.resolve() : stack.invalidateByTags(tags);
  }

  /** Starts one part of the eviction (a key or tag function may throw): its failure is logged, not thrown. */
  private attempt(start: () => Promise<void>): Promise<void> {
    try {
      return this.site.safely(start());
    } catch (error) {
      return this.site.safely(Promise.reject(error));
    }
  }
}

function evicting(original: AnyMethod, site: CacheSite, eviction: Eviction, awaitBefore: boolean): AnyMethod {
  return function cacheEvict(this: unknown, ...args: unknown[]): unknown {
    const stack = site.stackOf(this);
    if (stack === undefined) return original.apply(this, args);
    if (eviction.before) {
      // Declared async: run the method once the eviction finished (every layer, not only L1).
      if (awaitBefore) return eviction.run(stack, args, undefined).then(() => original.apply(this, args));
      const evicted = eviction.run(stack, args, undefined);
      const value = original.apply(this, args);
      if (isObservable(value)) return subscribeAfter(() => evicted, value);
      if (isThenable(value)) return evicted.then(() => value);
      return value;
    }
    const value = original.apply(this, args);
    if (isObservable(value)) return completeAfter(value, (last) => eviction.run(stack, args, last === NO_VALUE ? undefined : last));
    if (isThenable(value)) {
      return Promise.resolve(value).then(async (result) => {
        await eviction.run(stack, args, result);
        return result;
      });
    }
    void eviction.run(stack, args, value);
    return value;
  };
}
