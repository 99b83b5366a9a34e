/**
 * What a cached route stores, and the checks that decide whether a handler's response may be stored.
 * A response is a value of the stack like any other: the status, the body as the handler returned it
 * (JSON-able value, string, Buffer — replayed through Nest's own reply, so byte-identical), the content type
 * and the headers the handler set (minus hop-by-hop headers and `Set-Cookie`), its ETag and tags.
 */
import { createHash } from 'node:crypto';
import type { Observable } from 'rxjs';

/** A stored response (the value kept in the stack). */
export interface StoredResponse {
  readonly type: 'stored';
  /** The status Nest sends for the route (`@HttpCode`, else 200). */
  readonly status: number;
  /** The handler's value (`undefined` for an empty body). */
  readonly body: unknown;
  /** The `Content-Type` the handler set, if any (otherwise Nest picks it from the body again). */
  readonly contentType: string | undefined;
  /** Other headers the handler set, lower-case names. */
  readonly headers: readonly (readonly [string, string | readonly string[]])[];
  /** The strong ETag of this representation (the handler's own, if it set one). */
  readonly etag: string;
  /** The entry's tags. */
  readonly tags: readonly string[];
  /** The fresh ttl (ms) the route's per-request `ttl` function gave this response; absent on other routes. */
  readonly ttlMs?: number;
}

/**
 * Why a response was not stored: a streaming body, `Set-Cookie`, `Cache-Control: no-store`, `Cache-Control:
 * private` on a route without an identity, a status the route does not store, a body that does not
 * serialize, an entry over the route's byte budget (`maxBodySize`), tags or a per-request ttl that could not be computed, a
 * response that could not be replayed (a status outside 200-599).
 */
export type NotStoredReason =
  | 'streaming-body'
  | 'set-cookie'
  | 'no-store'
  | 'private'
  | 'status'
  | 'not-serializable'
  | 'over-budget'
  | 'tags-failed'
  | 'ttl-failed'
  | 'not-replayable';

/** A response that is handed to its request but not stored (a stream, a Set-Cookie, too large, ...). */
export interface PassthroughResponse {
  readonly type: 'passthrough';
  readonly value: unknown;
  /** Why it was not stored (counted by `LayerCacheInterceptor.getNotStoredCounts()`). */
  readonly reason: NotStoredReason;
  /** The error behind `reason`, when one was thrown (e.g. a tag function). */
  readonly error?: unknown;
}

/** A 4xx thrown by the handler: authoritative, shared with collapsed requests, never stored. */
export interface RejectedResponse {
  readonly type: 'rejected';
  readonly error: unknown;
}

/** What one run of a cached route's handler produced. */
export type HandlerOutcome = StoredResponse | PassthroughResponse | RejectedResponse;

/** Headers never stored nor replayed: hop-by-hop ones (RFC 9110 §7.6.1), cookies, and those computed per response. */
const SKIPPED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'content-length',
  'content-type',
  'date',
  'age',
  'etag',
  'x-cache',
]);

/** Whether `value` is a body that is produced while it is sent: never stored (duck-typed, no `instanceof`). */
export function isStreamingBody(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string | symbol, unknown>;
  return (
    typeof candidate.getStream === 'function' || // StreamableFile
    typeof candidate.getReader === 'function' || // web ReadableStream
    typeof candidate.pipe === 'function' || // Node stream
    (typeof candidate.arrayBuffer === 'function' && 'headers' in candidate) || // web Response
    typeof candidate[Symbol.asyncIterator] === 'function' // async iterables, Node Readable
  );
}

/** The body as bytes on the wire (JSON for objects), or `undefined` when it cannot be serialized. */
export function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (typeof body !== 'object') return Buffer.from(String(body), 'utf8');
  try {
    const json = JSON.stringify(body) as string | undefined;
    return json === undefined ? undefined : Buffer.from(json, 'utf8');
  } catch {
    return undefined;
  }
}

/** A strong ETag of a representation: a hash of status, content type and body bytes. */
export function computeEtag(status: number, contentType: string | undefined, bytes: Buffer): string {
  const hash = createHash('sha256').update(`${status}\n${contentType ?? ''}\n`).update(bytes).digest('base64url');
  return `"${hash.slice(0, 27)}"`;
}

/** Whether an `If-None-Match` request header matches `etag` (weak comparison, RFC 9110 §13.1.2). */
export function matchesEtag(ifNoneMatch: string | string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const raw = Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch;
  const target = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const part of raw.split(',')) {
    const tag = part.trim();
    if (tag === '*') return true;
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === target) return true;
  }
  return false;
}

/** The headers of a response as `[lower-case name, value]` pairs. */
export type HeaderSnapshot = ReadonlyMap<string, unknown>;

/** Reads every header of a response (Express `ServerResponse` and Fastify `Reply` both have `getHeaders()`). */
export function snapshotHeaders(response: unknown): HeaderSnapshot {
  const reader = response as { getHeaders?: () => Record<string, unknown> } | null;
  const headers = typeof reader?.getHeaders === 'function' ? reader.getHeaders() : {};
  const map = new Map<string, unknown>();
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) map.set(name.toLowerCase(), value);
  return map;
}

/** What the handler changed on the response: its headers that may be stored, content type, ETag, cookies, Cache-Control. */
export interface HandlerHeaders {
  readonly headers: [string, string | readonly string[]][];
  readonly contentType: string | undefined;
  readonly etag: string | undefined;
  readonly setsCookie: boolean;
  readonly cacheControl: string | undefined;
}

/** Compares the headers before and after the handler ran. */
export function handlerHeaders(before: HeaderSnapshot, after: HeaderSnapshot): HandlerHeaders {
  const headers: [string, string | readonly string[]][] = [];
  for (const [name, value] of after) {
    if (SKIPPED_HEADERS.has(name) || sameHeader(before.get(name), value)) continue;
    headers.push([name, Array.isArray(value) ? value.map(String) : String(value)]);
  }
  const contentType = after.get('content-type');
  const etag = after.get('etag');
  const cacheControl = after.get('cache-control');
  return {
    headers,
    contentType: contentType === undefined ? undefined : String(contentType),
    etag: etag === undefined ? undefined : String(etag),
    setsCookie: after.has('set-cookie'),
    cacheControl: cacheControl === undefined ? undefined : String(cacheControl).toLowerCase(),
  };
}

function sameHeader(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => String(item) === String(b[i]));
  return a !== undefined && String(a) === String(b);
}

/** The stored headers of the entry being replaced (a background run cannot read the sent response's). */
export function headersOf(stale: HandlerOutcome | undefined): HandlerHeaders {
  const stored = stale?.type === 'stored' ? stale : undefined;
  return {
    headers: stored === undefined ? [] : [...stored.headers] as [string, string | readonly string[]][],
    contentType: stored?.contentType,
    etag: undefined,
    setsCookie: false,
    cacheControl: undefined,
  };
}

/** Whether an error is an HTTP 4xx (duck-typed `getStatus()`, as HttpException across package copies). */
export function isClientError(error: unknown): boolean {
  const status = (error as { getStatus?: () => unknown } | null)?.getStatus?.();
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The last value of an Observable (duck-typed: Nest 11 and 12 may hand over another rxjs copy). */
export function lastValue(source: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let last: unknown;
    source.subscribe({ next: (value) => (last = value), error: reject, complete: () => resolve(last) });
  });
}
