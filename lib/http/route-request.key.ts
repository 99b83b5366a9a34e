/**
 * The key of one request of a planned route: what `LayerCacheInterceptor.trackBy` hashes. The inputs are the
 * route params and query (always), the host name on host-routed controllers (so `@HostParam` values, which Nest
 * derives from it, are covered), the keyed headers (normalised when declared in `vary`, as received when the
 * handler reads them), and the identity. A declared key (`@HttpCache({ key })`) replaces all of it: the entry's key
 * is the declared string, or what the key function returns, as is. Routes keyed by their URL (and host) alone memoize keys per host
 * and URL (a hot URL is hashed once); the memo is bounded per route.
 */
import type { HttpCacheRequest } from './http-cache.options.js';
import type { HttpRoutePlan } from './http-route.plan.js';
import { buildRequestKey } from './request-key.builder.js';

/** URLs whose keys are remembered per route and host (see {@link RequestKeys}). */
const MAX_MEMOIZED_URLS = 1_000;
/** Hosts whose URLs' keys are remembered per host-routed route. */
const MAX_MEMOIZED_HOSTS = 100;

/** Label of the host name among the key's inputs: not a header name (`@` is no token character), so never a header's. */
const HOST_INPUT = '@host';

/** What reads the host name Nest routed a request by (the HTTP adapter). */
export interface HostnameReader {
  getRequestHostname(request: never): string | undefined;
}

/** Computes request keys, memoizing those of URL-keyed routes (one instance per interceptor). */
export class RequestKeys {
  /** Per route, per host name (`''` on routes that are not host-routed), the keys of recent URLs. */
  private readonly keysByUrl = new WeakMap<HttpRoutePlan, Map<string, Map<string, string>>>();

  /**
   * The key of `request`, or `undefined` when the identity or the key function gives no value (the request bypasses).
   * @param adapter reads the host name Nest routed the request by (only on host-routed controllers).
   */
  keyOf(plan: HttpRoutePlan, request: HttpCacheRequest, adapter: HostnameReader): string | undefined {
    const declared = plan.declaredKey;
    if (declared !== undefined) {
      if (typeof declared === 'string') return declared;
      const key = declared(request);
      return key === undefined || key === null ? undefined : String(key);
    }
    const url = request['url'];
    const host = plan.hostKeyed ? (adapter.getRequestHostname(request as never) ?? '').toLowerCase() : '';
    if (plan.urlKeyed && typeof url === 'string') {
      let hosts = this.keysByUrl.get(plan);
      if (hosts === undefined) this.keysByUrl.set(plan, (hosts = new Map()));
      let keys = hosts.get(host);
      if (keys === undefined) {
        if (hosts.size >= MAX_MEMOIZED_HOSTS) hosts.clear();
        hosts.set(host, (keys = new Map()));
      }
      let key = keys.get(url);
      if (key === undefined) {
        const vary = plan.hostKeyed ? [HOST_INPUT, host] : [];
        key = buildRequestKey({ method: 'GET', route: plan.route, params: request.params ?? null, query: request.query ?? null, vary });
        if (keys.size >= MAX_MEMOIZED_URLS) keys.clear();
        keys.set(url, key);
      }
      return key;
    }
    const vary: unknown[] = [];
    if (plan.hostKeyed) vary.push(HOST_INPUT, host);
    for (const header of plan.keyedHeaders) {
      const raw = request.headers[header.name];
      const value = raw === undefined ? null : Array.isArray(raw) ? raw.join(', ') : raw;
      vary.push(header.name, value === null || header.normalize === undefined ? value : header.normalize(value));
    }
    if (plan.identity !== undefined) {
      const user = plan.identity(request);
      if (user === undefined || user === null) return undefined;
      vary.push('user', user);
    }
    return buildRequestKey({ method: 'GET', route: plan.route, params: request.params ?? null, query: request.query ?? null, vary });
  }
}

/**
 * Whether every cookie of a `Cookie` header is one the route ignores (`true`: any). Names are case-sensitive (RFC
 * 6265); a pair without `=` is a cookie with an empty name, never ignored but by `true`; empty pairs are skipped.
 */
export function onlyIgnoredCookies(header: string | readonly string[], ignored: ReadonlySet<string> | true | undefined): boolean {
  if (ignored === undefined) return false;
  if (ignored === true) return true;
  const text = typeof header === 'string' ? header : header.join('; ');
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    const name = (eq < 0 ? '' : pair.slice(0, eq)).trim();
    if (eq < 0 && pair.trim() === '') continue;
    if (!ignored.has(name)) return false;
  }
  return true;
}

/** Whether a request carries a body (`Content-Length` above 0, or `Transfer-Encoding`). */
export function carriesBody(request: HttpCacheRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
