/**
 * The one type of the `tags` option, wherever tags are given: `CacheStack` entry options, `@Cacheable` /
 * `@CachePut` / `@CacheEvict`, `@CacheTags`, `@HttpCache` and the interceptor's app-wide options.
 * Hard part: the inputs of a tags function differ by place (a loaded value; a method's arguments and result;
 * a request and a response body), so the type is generic over that parameter list, not over one value.
 */

/**
 * A function computing tags from what an entry is made of; `In` is its parameter list, e.g.
 * `[value: User]` for `CacheStack` options, `[args: [number], result: User]` for the method decorators,
 * `[request: HttpCacheRequest, body: unknown]` for HTTP routes.
 */
export type TagsFunction<In extends unknown[]> = (...inputs: In) => readonly string[];

/**
 * Tags of an entry, for `invalidateByTag` / `invalidateByTags` / `@CacheEvict({ tags })`: fixed names, or a
 * {@link TagsFunction} of the entry's inputs returning names.
 * @example
 * ```ts
 * const byValue: TagsOption<[value: User]> = (user) => [`user:${user.id}`];
 * const byCall: TagsOption<[args: [number], result: User]> = (args) => [`user:${args[0]}`];
 * ```
 */
export type TagsOption<In extends unknown[] = unknown[]> = readonly string[] | TagsFunction<In>;
