/**
 * Decides what to keep of one handler run: a `StoredResponse`, or a passthrough (handed to its own request,
 * never stored) naming why. Never stored: streaming bodies, `Set-Cookie`, `Cache-Control: no-store`, `private`
 * on routes without an identity, statuses the route does not store, bodies that do not serialize, entries
 * over the route's byte budget (`maxBodySize`: the body as sent plus the content type, ETag and headers stored
 * with it), and responses whose tags or per-request ttl cannot be computed.
 */
import { resolveCacheTags } from '../common/cache-tags.metadata.js';
import { requestTtlMs } from './http-cache.checks.js';
import type { HttpCacheRequest } from './http-cache.options.js';
import {
  bodyBytes,
  computeEtag,
  isStreamingBody,
  type HandlerHeaders,
  type HandlerOutcome,
  type NotStoredReason,
  type PassthroughResponse,
  type StoredResponse,
} from './http-response.record.js';
import { isReplayable } from './response-replay.js';
import type { HttpRoutePlan } from './http-route.plan.js';

/** Captures a handler's value and the headers it set (see the file header). */
export function captureResponse(plan: HttpRoutePlan, request: HttpCacheRequest, value: unknown, headers: HandlerHeaders): HandlerOutcome {
  const pass = (reason: NotStoredReason, error?: unknown): PassthroughResponse => ({ type: 'passthrough', value, reason, ...(error !== undefined && { error }) });
  if (isStreamingBody(value)) return pass('streaming-body');
  if (headers.setsCookie) return pass('set-cookie');
  const cacheControl = headers.cacheControl;
  if (cacheControl !== undefined && cacheControl.includes('no-store')) return pass('no-store');
  if (cacheControl !== undefined && cacheControl.includes('private') && plan.identity === undefined) return pass('private');
  if (!plan.statusCacheable) return pass('status');
  const bytes = bodyBytes(value);
  if (bytes === undefined) return pass('not-serializable');
  if (bytes.length > plan.maxBodySize) return pass('over-budget');
  const etag = headers.etag ?? computeEtag(plan.status, headers.contentType, bytes);
  if (bytes.length + headerBytes(headers, etag) > plan.maxBodySize) return pass('over-budget');
  let tags: readonly string[];
  try {
    tags = tagsOf(plan, request, value);
  } catch (error) {
    return pass('tags-failed', error);
  }
  let ttlMs: number | undefined;
  if (plan.ttlFn !== undefined) {
    try {
      ttlMs = requestTtlMs(plan.ttlFn(request, value));
    } catch (error) {
      return pass('ttl-failed', error);
    }
  }
  const stored: StoredResponse = {
    type: 'stored',
    status: plan.status,
    body: value,
    contentType: headers.contentType,
    headers: headers.headers,
    etag,
    tags,
    ...(ttlMs !== undefined && { ttlMs }),
  };
  // Checked (and remembered) here, so a response that could not be replayed is never stored (e.g. a status
  // outside 200-599 allowed by `cacheableStatus`) and in-process hits of this object check nothing again.
  return isReplayable(stored) ? stored : pass('not-replayable');
}

/**
 * The tags of a route's entry: `@CacheTags` values (functions get the route parameters' values in path order
 * as `args`, and the body as `result`), then the route's `tags` option (a function gets the request and body).
 */
function tagsOf(plan: HttpRoutePlan, request: HttpCacheRequest, body: unknown): readonly string[] {
  if (plan.entryOptions.tags === undefined) return [];
  const params = request.params !== null && typeof request.params === 'object' ? Object.values(request.params) : [];
  const tags = resolveCacheTags(plan.tagValues, params, body);
  const own = plan.tagsOption === undefined ? [] : typeof plan.tagsOption === 'function' ? plan.tagsOption(request, body) : plan.tagsOption;
  for (const tag of own) if (!tags.includes(tag)) tags.push(tag);
  return tags;
}

/** The bytes of what is stored beside the body: content type, ETag and headers (names and values, UTF-8). */
function headerBytes(headers: HandlerHeaders, etag: string): number {
  let total = Buffer.byteLength(etag) + (headers.contentType === undefined ? 0 : Buffer.byteLength(headers.contentType));
  for (const [name, value] of headers.headers) {
    total += Buffer.byteLength(name);
    if (typeof value === 'string') total += Buffer.byteLength(value);
    else for (const item of value) total += Buffer.byteLength(item);
  }
  return total;
}
