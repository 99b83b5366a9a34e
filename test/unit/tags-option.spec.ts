/**
 * One tags type everywhere: the `tags` of the stack's entry options, of the method decorators, of `@CacheEvict`, of
 * `@HttpCache`, and the arguments of `@CacheTags` are all `TagsOption<In>` / `TagsFunction<In>`, differing only in
 * the inputs `In`; eviction keys have their own type, `CacheEvictKey`.
 * Hard part: most of this is about types, checked by `npm run typecheck` (ts-jest transpiles without checking):
 * the `Equal` assertions below fail to compile when a place drifts to a type of its own.
 */
import {
  CACHE_MISS,
  CacheTags,
  MemoryLayer,
  type CacheableOptions,
  type CacheEntryOptions,
  type CacheEvictKey,
  type CacheEvictOptions,
  type CachePutOptions,
  type HttpCacheOptions,
  type HttpCacheRequest,
  type TagsFunction,
  type TagsOption,
} from '../../lib/index.js';
import { buildStack } from '../support/stack-builder.js';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

interface User {
  id: number;
  team: string;
}
type Args = [id: number];

describe('TagsOption: one tags type', () => {
  it('is the type of every tags option, over the inputs of each place', () => {
    assertType<Equal<CacheEntryOptions<User>['tags'], TagsOption<[value: User]> | undefined>>();
    assertType<Equal<CacheableOptions<Args, User>['tags'], TagsOption<[args: Args, result: User]> | undefined>>();
    assertType<Equal<CachePutOptions<Args, User>['tags'], TagsOption<[args: Args, result: User]> | undefined>>();
    assertType<Equal<CacheEvictOptions<Args, User>['tags'], TagsOption<[args: Args, result: User]> | undefined>>();
    assertType<Equal<HttpCacheOptions['tags'], TagsOption<[request: HttpCacheRequest, body: unknown]> | undefined>>();
    assertType<Equal<Parameters<typeof CacheTags<Args, User>>[number], string | TagsFunction<[args: Args, result: User]>>>();
    assertType<Equal<TagsOption<[value: User]>, readonly string[] | TagsFunction<[value: User]>>>();
  });

  it('gives eviction keys their own type: templates or functions returning one key or several', () => {
    assertType<Equal<CacheEvictOptions<Args, User>['keys'], CacheEvictKey<Args, User> | readonly CacheEvictKey<Args, User>[] | undefined>>();
    const keys: CacheEvictKey<Args, User>[] = ['user:{0}', (args) => `user:${args[0]}`, (_args, user) => [`team:${user.team}`]];
    expect(keys).toHaveLength(3);
  });

  it('a TagsFunction tags stack entries by their value', async () => {
    const byTeam: TagsFunction<[value: User]> = (user) => [`team:${user.team}`];
    const { stack } = buildStack([new MemoryLayer()]);
    await stack.get('user:1', () => ({ id: 1, team: 'red' }), { tags: byTeam });
    await stack.get('user:2', () => ({ id: 2, team: 'blue' }), { tags: byTeam });
    await stack.invalidateByTag('team:red');
    expect(stack.peek('user:1')).toBe(CACHE_MISS);
    expect(stack.peek('user:2')).toEqual({ id: 2, team: 'blue' });
  });
});
