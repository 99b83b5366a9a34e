/**
 * `@CacheTags`: tags for cached results, on a method or a whole class. Only records metadata (read by
 * `getCacheTags`); `@Cacheable`/`@CachePut` read it on their first call, so the decorators may be written in
 * any order, and class-level tags (applied after the methods' decorators) are seen too.
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkName } from '../core/keys.js';
import type { TagsFunction } from '../core/tags.js';
import type { CacheTagValue } from '../common/cache-tags.metadata.js';
import { addCacheTags } from '../common/cache-tags.metadata.js';

/**
 * Tags the results of the `@Cacheable`/`@CachePut` methods it is put on (on a class: of all its methods,
 * subclasses included), merged with their `tags` option. Each argument is a name, or a function of
 * `(args, result)` returning names (the `TagsFunction` of a `TagsOption<[args, result]>`).
 * @example
 * ```ts
 * @CacheTags('users')
 * @Injectable()
 * export class UsersService {
 *   @CacheTags((args) => [`user:${args[0]}`])
 *   @Cacheable({ key: 'user:{0}' })
 *   async findOne(id: number): Promise<User> { ... }   // tagged 'users' and 'user:<id>'
 * }
 * ```
 */
export function CacheTags<A extends unknown[] = unknown[], R = unknown>(...tags: (string | TagsFunction<[args: A, result: R]>)[]): ClassDecorator & MethodDecorator {
  if (tags.length === 0) throw new InvalidOptionError('@CacheTags', 'expected at least one tag name or function');
  for (const tag of tags) {
    if (typeof tag === 'function') continue;
    try {
      checkName('tag', tag);
    } catch (error) {
      throw new InvalidOptionError('@CacheTags', (error as Error).message);
    }
  }
  const values = tags as readonly CacheTagValue[];
  const decorator = (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    if (propertyKey === undefined) {
      addCacheTags(target, values);
      return;
    }
    const method: unknown = descriptor?.value;
    if (typeof method !== 'function') {
      throw new InvalidOptionError('@CacheTags', `${String(propertyKey)} is not a method; put @CacheTags on methods or classes`);
    }
    addCacheTags(method, values);
  };
  return decorator as ClassDecorator & MethodDecorator;
}
