/**
 * What a route's handler reads from the request, from the route-arguments metadata Nest writes for its
 * parameter decorators (`'__routeArguments__'` on the controller class, per method name; keys
 * `"<RouteParamtypes>:<index>"`, custom decorators `"<id>__customRouteArgs__:<index>"`). Read once per route.
 *
 * The hard part is deciding what is safe to cache: route params and the query are always in the key; a header
 * read by name is keyed; the host is keyed on host-routed controllers; the whole request (`@Req()`) and all
 * headers (`@Headers()`) are keyed only by what the route declares; arguments that depend on the client in a way
 * no request header describes (`@Ip()`, `@Session()`, custom decorators, which see the whole request) make the
 * route uncacheable unless it declares `vary`, `key` or `identity`; arguments that can see cookies (`@Req()`,
 * `@Headers()`, `@Session()`, custom decorators) keep `ignoreCookies` off the route; a request body (`@Body()`, files) makes a request that
 * carries one bypass.
 */

/** Nest's `RouteParamtypes`, as the numbers written in the metadata keys. */
const PARAM = Object.freeze({
  request: '0',
  response: '1',
  next: '2',
  body: '3',
  query: '4',
  param: '5',
  headers: '6',
  session: '7',
  file: '8',
  files: '9',
  host: '10',
  ip: '11',
  rawBody: '12',
});

/** Nest's metadata keys (`@nestjs/common` constants, written out to import from package roots only). */
export const ROUTE_ARGUMENTS_METADATA = '__routeArguments__';
const CUSTOM_ARGUMENT_MARK = '__customRouteArgs__';
const RESPONSE_PASSTHROUGH_METADATA = '__responsePassthrough__';
const CONTROLLER_HOST_METADATA = 'host';

/** What one route's handler reads, as far as caching is concerned. */
export interface RouteArguments {
  /** The handler sends the response itself (`@Res()` without `passthrough`, or `@Next()`). */
  readonly sendsItself: boolean;
  /** Lower-case names of the headers read one by one with `@Headers(name)`. */
  readonly headers: readonly string[];
  /** The controller is host-routed (`@Controller({ host })`): the host (and so `@HostParam`) selects the answer. */
  readonly hostRouted: boolean;
  /** The handler reads the request body (`@Body()`, `@RawBody()`, `@UploadedFile(s)()`). */
  readonly readsBody: boolean;
  /** Arguments whose value depends on the client beyond the URL and headers, e.g. `@Ip()`, for messages. */
  readonly opaque: readonly string[];
  /** Arguments that can see the request's cookies (or the session they carry): `@Req()`, `@Headers()`, `@Session()`, custom decorators. */
  readonly seesCookies: readonly string[];
  /** Arguments read from the URL or the host: `@Param`, `@Query`, `@HostParam` (a constant declared key cannot describe them). */
  readonly urlReads: readonly string[];
}

interface ArgumentMetadata {
  readonly data?: unknown;
  readonly factory?: { readonly name?: string };
}

/** Reads what the handler `handler` of `controller` takes (see the file header). */
export function readRouteArguments(controller: object, handler: { readonly name: string }): RouteArguments {
  const args = Reflect.getMetadata(ROUTE_ARGUMENTS_METADATA, controller, handler.name) as Record<string, ArgumentMetadata> | undefined;
  const headers: string[] = [];
  const opaque: string[] = [];
  const seesCookies: string[] = [];
  const urlReads: string[] = [];
  let takesResponse = false;
  let readsBody = false;
  for (const [key, meta] of Object.entries(args ?? {})) {
    const type = key.slice(0, key.lastIndexOf(':'));
    if (type.includes(CUSTOM_ARGUMENT_MARK)) {
      const name = meta?.factory?.name;
      const label = `a custom parameter decorator${name === undefined || name === '' ? '' : ` (${name})`}`;
      opaque.push(label);
      seesCookies.push(label);
      continue;
    }
    switch (type) {
      case PARAM.response:
      case PARAM.next:
        takesResponse = true;
        break;
      case PARAM.headers:
        if (typeof meta?.data === 'string' && meta.data !== '') {
          const name = meta.data.toLowerCase();
          if (!headers.includes(name)) headers.push(name);
          if (name === 'cookie') seesCookies.push("@Headers('cookie')");
        } else seesCookies.push('@Headers()');
        break;
      case PARAM.request:
        seesCookies.push('@Req()');
        break;
      case PARAM.query:
        urlReads.push('@Query()');
        break;
      case PARAM.param:
        urlReads.push('@Param()');
        break;
      case PARAM.host:
        urlReads.push('@HostParam()');
        break;
      case PARAM.body:
      case PARAM.rawBody:
      case PARAM.file:
      case PARAM.files:
        readsBody = true;
        break;
      case PARAM.ip:
        opaque.push('@Ip()');
        break;
      case PARAM.session:
        opaque.push('@Session()');
        seesCookies.push('@Session()');
        break;
      default:
        break;
    }
  }
  return {
    sendsItself: takesResponse && Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, handler.name) !== true,
    headers,
    hostRouted: Reflect.getMetadata(CONTROLLER_HOST_METADATA, controller) !== undefined,
    readsBody,
    opaque,
    seesCookies,
    urlReads,
  };
}
