/**
 * Replaying a stored response onto Nest's reply, and the check that a value read from the cache is one.
 * A value of the cache comes from Redis (any process, any version) or from an application writing the key
 * itself: before a single header is set, it must be a well-formed `StoredResponse` whose header names are
 * tokens and whose values hold no control characters (Node throws on CR/LF, which would fail the request).
 * A value that is not is a miss for the interceptor (logged once per route, overwritten by the next response).
 * Values already checked are remembered by identity (the in-process layer hands back the same object), so a
 * hit of the in-process layer checks nothing twice and allocates nothing.
 */
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { Clock } from '../core/clock.js';
import type { HttpCacheRequest } from './http-cache.options.js';
import { matchesEtag, type StoredResponse } from './http-response.record.js';
import { cacheControlOf, type HttpRoutePlan } from './http-route.plan.js';
import { markNotModified } from './not-modified.hook.js';

/** The value of the `X-Cache` response header. */
export type XCacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What Node accepts in a header value (its `checkInvalidHeaderChar`): no CR, LF, NUL or other controls but tab. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const replayable = new WeakSet<object>();

const isFieldValue = (value: unknown): value is string => typeof value === 'string' && FIELD_VALUE.test(value);

/** Whether `value` (read from the cache) is a `StoredResponse` that can be replayed (see the file header). */
export function isReplayable(value: unknown): value is StoredResponse {
  if (value === null || typeof value !== 'object') return false;
  if (replayable.has(value)) return true;
  const stored = value as Partial<Record<keyof StoredResponse, unknown>>;
  if (stored.type !== 'stored' || !Number.isInteger(stored.status) || (stored.status as number) < 200 || (stored.status as number) > 599) return false;
  if (stored.contentType !== undefined && !isFieldValue(stored.contentType)) return false;
  if (!isFieldValue(stored.etag)) return false;
  if (!Array.isArray(stored.tags) || !stored.tags.every((tag) => typeof tag === 'string')) return false;
  if (!Array.isArray(stored.headers)) return false;
  for (const header of stored.headers as unknown[]) {
    if (!Array.isArray(header) || header.length !== 2 || typeof header[0] !== 'string' || !TOKEN.test(header[0])) return false;
    const headerValue: unknown = header[1];
    if (Array.isArray(headerValue) ? !headerValue.every(isFieldValue) : !isFieldValue(headerValue)) return false;
  }
  replayable.add(value);
  return true;
}

/** The deadlines of the entry a response is served from (`ReadInfo`, `CacheReadResult`). */
export interface ServedEntry {
  /** When it was produced (ms), `undefined` for a miss. */
  readonly createdAt: number | undefined;
  /** When it stops being fresh (ms), `undefined` when not known. */
  readonly freshUntil?: number | undefined;
}

/**
 * Sets the headers of a stored response (Nest's own reply then sends its status and body, returned here):
 * `X-Cache`, `Age` (not on a MISS), the stored content type and headers (unless the handler just ran for this
 * request and set them itself), `ETag`, `Vary`, `Cache-Control`; marks a matching `If-None-Match` for a 304.
 * Nothing is set once the headers are sent (checked once: nothing here sends them).
 */
export function replayStored(
  adapter: AbstractHttpAdapter,
  clock: Clock,
  request: HttpCacheRequest,
  response: object,
  plan: HttpRoutePlan,
  stored: StoredResponse,
  status: XCacheStatus,
  served: ServedEntry,
  ranHere: boolean,
): unknown {
  if (adapter.isHeadersSent(response) === true) return stored.body;
  adapter.setHeader(response, 'X-Cache', status);
  const now = clock.now();
  const createdAt = served.createdAt;
  const ageMs = createdAt === undefined ? 0 : Math.max(0, now - createdAt);
  if (status !== 'MISS') adapter.setHeader(response, 'Age', String(Math.floor(ageMs / 1000)));
  if (!ranHere) {
    if (stored.contentType !== undefined) adapter.setHeader(response, 'Content-Type', stored.contentType);
    const headers = stored.headers;
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i] as (typeof headers)[number];
      adapter.setHeader(response, header[0], header[1] as string);
    }
  }
  adapter.setHeader(response, 'ETag', stored.etag);
  if (plan.varyHeader !== undefined) adapter.setHeader(response, 'Vary', plan.varyHeader);
  const freshUntil = served.freshUntil;
  const cacheControl = cacheControlOf(plan, status === 'STALE', ageMs, freshUntil === undefined ? undefined : freshUntil - now);
  if (cacheControl !== undefined) adapter.setHeader(response, 'Cache-Control', cacheControl);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && plan.status < 300 && matchesEtag(ifNoneMatch, stored.etag)) markNotModified(request);
  return stored.body;
}
