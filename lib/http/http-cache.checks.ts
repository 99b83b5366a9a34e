/**
 * Checks of the HTTP caching options a user writes: the route options (`@HttpCache`, `forRoot({ http: { defaults } })`)
 * and the app-wide ones (`forRoot({ http })`). Unknown names, bad values and combinations a route cannot honour
 * (a declared key beside `vary` or `identity`) are an `InvalidOptionError` naming the option, at decoration or
 * module registration time. Checks that need the handler's parameters run when the route's plan is resolved
 * (http-route.plan.ts).
 */
import { toMilliseconds } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkKey, checkName } from '../core/keys.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { basePolicy, resolvePolicy } from '../stack/cache-stack.options.js';
import {
  HTTP_CACHE_OPTION_NAMES,
  LAYER_CACHE_HTTP_OPTION_NAMES,
  routeEntryOptions,
  type HttpCacheOptions,
  type LayerCacheHttpOptions,
} from './http-cache.options.js';

/** A resolvable policy, to check route entry options eagerly. */
const ROUTE_CHECK_BASE = basePolicy(0);

/** A header or cookie name (an RFC 9110 token). */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Names of other libraries' route options, with what to write here instead. */
const RENAMED_ROUTE_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  perUserKey: 'a per-user key is `identity: (req) => req.user.id`',
  cacheKey: '@CacheKey(name) of @nestjs/cache-manager is `key: name` here',
  ttlSeconds: '`ttl` is in seconds already (a number), or a string with its unit',
});

/**
 * Validates route options, naming the option in an `InvalidOptionError`.
 * @param label e.g. `@HttpCache`, used in error messages.
 */
export function checkHttpCacheOptions(label: string, options: HttpCacheOptions | undefined): HttpCacheOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionError(label, 'expected an options object');
  checkOptionKeys(options, HTTP_CACHE_OPTION_NAMES, { at: label, renamed: RENAMED_ROUTE_OPTIONS });
  try {
    // A ttl function of the route takes (request, body): it is checked as a function here, called per response.
    resolvePolicy(routeEntryOptions(options), ROUTE_CHECK_BASE);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${label}.${error.option}`, error.message.replace(/^Invalid option "[^"]*": /, ''));
    throw error;
  }
  checkDeclaredKey(label, options);
  if (options.identity !== undefined && typeof options.identity !== 'function') throw new InvalidOptionError(`${label}.identity`, 'expected a function of the request');
  checkIgnoreCookies(`${label}.ignoreCookies`, options.ignoreCookies);
  if (options.vary !== undefined) {
    if (!Array.isArray(options.vary)) throw new InvalidOptionError(`${label}.vary`, 'expected an array of request header names');
    for (const header of options.vary) {
      if (typeof header !== 'string' || !TOKEN.test(header)) throw new InvalidOptionError(`${label}.vary`, `not a header name: ${JSON.stringify(header)}`);
    }
  }
  if (options.stack !== undefined && (typeof options.stack !== 'string' || options.stack === '')) {
    throw new InvalidOptionError(`${label}.stack`, 'expected the name of a registered stack');
  }
  if (options.shared === true && options.identity !== undefined) {
    throw new InvalidOptionError(`${label}.shared`, 'a route with an identity cannot be shared (its responses are private)');
  }
  if (options.maxBodySize !== undefined && (!Number.isSafeInteger(options.maxBodySize) || options.maxBodySize < 0)) {
    throw new InvalidOptionError(`${label}.maxBodySize`, 'expected a non-negative integer number of bytes');
  }
  if (options.cacheableStatus !== undefined && typeof options.cacheableStatus !== 'function') {
    throw new InvalidOptionError(`${label}.cacheableStatus`, 'expected a function of the status');
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    if (!Array.isArray(options.tags)) throw new InvalidOptionError(`${label}.tags`, 'expected an array of tag names or a function');
    for (const tag of options.tags) {
      try {
        checkName('tag', tag);
      } catch (error) {
        throw new InvalidOptionError(`${label}.tags`, (error as Error).message);
      }
    }
  }
  return options;
}

/**
 * Validates the app-wide options (`forRoot({ http })`), naming the option.
 * @param label e.g. `http`.
 */
export function checkLayerCacheHttpOptions(label: string, options: LayerCacheHttpOptions | undefined): LayerCacheHttpOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(label, 'expected an object ({ defaults, ignoreCookies, cacheUndecoratedRoutes })');
  }
  checkOptionKeys(options, LAYER_CACHE_HTTP_OPTION_NAMES, { at: label });
  if (options.cacheUndecoratedRoutes !== undefined && typeof options.cacheUndecoratedRoutes !== 'boolean') {
    throw new InvalidOptionError(`${label}.cacheUndecoratedRoutes`, `expected a boolean, got ${typeof options.cacheUndecoratedRoutes}`);
  }
  checkIgnoreCookies(`${label}.ignoreCookies`, options.ignoreCookies);
  const defaults = options.defaults as HttpCacheOptions | undefined;
  if (defaults !== undefined) {
    for (const name of ['key', 'identity', 'tags'] as const) {
      if (defaults !== null && typeof defaults === 'object' && defaults[name] !== undefined) {
        throw new InvalidOptionError(`${label}.defaults.${name}`, 'is per route (@HttpCache), not an app-wide default');
      }
    }
    checkHttpCacheOptions(`${label}.defaults`, defaults);
  }
  return options;
}

/** A string key is a valid stack key; a function is called per request; neither combines with `vary` or `identity`. */
function checkDeclaredKey(label: string, options: HttpCacheOptions): void {
  const key = options.key;
  if (key === undefined) return;
  if (typeof key === 'string') {
    try {
      checkKey(key, true);
    } catch (error) {
      throw new InvalidOptionError(`${label}.key`, (error as Error).message);
    }
  } else if (typeof key !== 'function') {
    throw new InvalidOptionError(`${label}.key`, 'expected a key (string) or a function of the request returning one (a per-user key is now `identity`)');
  }
  if (options.vary !== undefined && options.vary.length > 0) {
    throw new InvalidOptionError(
      `${label}.vary`,
      "a declared key names one entry, which headers cannot split: build the header's value into the key function instead (and set `Vary` with @Header)",
    );
  }
  if (options.identity !== undefined) {
    throw new InvalidOptionError(
      `${label}.identity`,
      "a declared key names one entry for every user: drop `identity` and build the user into the key (a per-user route keeps its computed key and is invalidated through tags: `tags: (req) => ['user:' + req.user.id]`)",
    );
  }
}

/** `true`, or a non-empty list of cookie names. */
function checkIgnoreCookies(option: string, value: unknown): void {
  if (value === undefined || value === true) return;
  if (!Array.isArray(value)) throw new InvalidOptionError(option, 'expected a list of cookie names, or true for every cookie');
  for (const name of value as unknown[]) {
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new InvalidOptionError(option, `not a cookie name: ${JSON.stringify(name)}`);
  }
}

/** The milliseconds of a per-request ttl function's result. @throws InvalidOptionError for a result that is no duration */
export function requestTtlMs(value: unknown): number {
  if (typeof value !== 'number' && typeof value !== 'string') throw new InvalidOptionError('ttl', `the route's ttl function returned ${typeof value}, not a duration`);
  return toMilliseconds(value, 'ttl');
}
