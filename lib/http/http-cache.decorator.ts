/**
 * `@HttpCache` and `@SkipCache`: record per-route (or per-controller) options read by `LayerCacheInterceptor`.
 * They only record metadata; the interceptor does the work (apply it with `@UseInterceptors` or globally).
 */
import { InvalidOptionError } from '../core/errors.js';
import { checkHttpCacheOptions } from './http-cache.checks.js';
import type { HttpCacheOptions } from './http-cache.options.js';

/** Metadata key of `@HttpCache` options, on a handler or a controller class. */
export const HTTP_CACHE_METADATA = 'nestjs-layercache:http-cache';
/** Metadata key of `@SkipCache`, on a handler or a controller class. */
export const HTTP_SKIP_CACHE_METADATA = 'nestjs-layercache:http-skip-cache';

/**
 * Caches the GET/HEAD responses of a route (or of every route of a controller; a handler's own options
 * win, field by field) through `LayerCacheInterceptor`.
 * @example
 * ```ts
 * @UseInterceptors(LayerCacheInterceptor)
 * @Controller('users')
 * export class UsersController {
 *   @Get(':id')
 *   @CacheTags((args) => `user:${args[0]}`)
 *   @HttpCache({ ttl: 30, staleWhileRevalidate: '5m', cacheControl: true, shared: true })
 *   findOne(@Param('id') id: string) { ... }
 *
 *   @Get('me')
 *   @HttpCache({ ttl: 10, identity: (req) => (req.user as User | undefined)?.id })   // per user, private
 *   me(@Req() req: Request) { ... }
 *
 *   @Get()
 *   @HttpCache({ key: 'users:all', ttl: (req, body) => ((body as User[]).length > 0 ? 60 : 5) })   // cache.delete('users:all')
 *   findAll() { ... }
 * }
 * ```
 */
export function HttpCache(options: HttpCacheOptions = {}): ClassDecorator & MethodDecorator {
  const checked = Object.freeze({ ...checkHttpCacheOptions('@HttpCache', options) });
  const decorator = (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const host: unknown = propertyKey === undefined ? target : descriptor?.value;
    if (typeof host !== 'function') throw new InvalidOptionError('@HttpCache', `${String(propertyKey)} is not a method`);
    if (propertyKey === undefined && typeof checked.key === 'string') {
      throw new InvalidOptionError('@HttpCache.key', `a constant key on a controller would make all its routes one entry (${JSON.stringify(checked.key)}): declare it on each handler`);
    }
    Reflect.defineMetadata(HTTP_CACHE_METADATA, checked, host);
  };
  return decorator as ClassDecorator & MethodDecorator;
}

/**
 * Never caches a route (or every route of a controller): the handler always runs, nothing is read or stored,
 * `X-Cache: BYPASS`. Useful under a global `LayerCacheInterceptor`. (Not HTTP's `Cache-Control: no-cache`,
 * which means "revalidate before use": a skipped route is not cached at all.)
 * @example
 * ```ts
 * @Get('now')
 * @SkipCache()
 * now() { return { now: new Date() }; }
 * ```
 */
export function SkipCache(): ClassDecorator & MethodDecorator {
  const decorator = (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const host: unknown = propertyKey === undefined ? target : descriptor?.value;
    if (typeof host !== 'function') throw new InvalidOptionError('@SkipCache', `${String(propertyKey)} is not a method`);
    Reflect.defineMetadata(HTTP_SKIP_CACHE_METADATA, true, host);
  };
  return decorator as ClassDecorator & MethodDecorator;
}

/** The `@HttpCache` options of a route: the controller's, overridden field by field by the handler's; `undefined` without any. */
export function getHttpCacheOptions(controller: object, handler: object): HttpCacheOptions | undefined {
  const fromClass = Reflect.getMetadata(HTTP_CACHE_METADATA, controller) as HttpCacheOptions | undefined;
  const fromHandler = Reflect.getMetadata(HTTP_CACHE_METADATA, handler) as HttpCacheOptions | undefined;
  if (fromClass === undefined) return fromHandler;
  return fromHandler === undefined ? fromClass : { ...fromClass, ...fromHandler };
}

/** Whether `@SkipCache` marks the route's handler or controller. */
export function isSkipCacheRoute(controller: object, handler: object): boolean {
  return Reflect.getMetadata(HTTP_SKIP_CACHE_METADATA, handler) === true || Reflect.getMetadata(HTTP_SKIP_CACHE_METADATA, controller) === true;
}
