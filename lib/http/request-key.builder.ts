/**
 * The cache key of a request: a SHA-256 hash of a structured, length-prefixed encoding of the method, the
 * route (controller, handler and declared path patterns), the route parameters, the canonical query and the
 * vary inputs (host name of host-routed routes, keyed headers, identity; see `route-request.key.ts`).
 * Every string is written as `<length>:<text>` and every value carries a type tag, so no choice of input can
 * make two different requests encode alike (no delimiter injection), and the key has a fixed length whatever
 * the request.
 */
import { createHash } from 'node:crypto';

/** What the key of one request is made of. */
export interface RequestKeyParts {
  /** `GET` (a HEAD request uses the GET entry). */
  readonly method: string;
  /** Identifies the route: controller, handler and path patterns (precomputed per route). */
  readonly route: string;
  /** The route parameters (`req.params`). */
  readonly params: unknown;
  /** The parsed query (`req.query`), nested objects kept; its key order does not matter. */
  readonly query: unknown;
  /** The vary inputs: the host name (host-routed routes), header names and values, then the identity. */
  readonly vary: readonly unknown[];
}

/** Prefix of every HTTP key, so HTTP entries never collide with keys of `get`/`@Cacheable`. */
export const HTTP_KEY_PREFIX = 'http:';

/** Builds the key of a request (see the file header); `http:` + 43 characters of base64url. */
export function buildRequestKey(parts: RequestKeyParts): string {
  const out: string[] = ['v1'];
  encodeString(parts.method, out);
  encodeString(parts.route, out);
  encodeValue(parts.params, out, 0);
  encodeValue(parts.query, out, 0);
  encodeValue(parts.vary, out, 0);
  return HTTP_KEY_PREFIX + createHash('sha256').update(out.join('')).digest('base64url');
}

/** Deeper structures are cut here (a query parser may produce them; they only need to be told apart). */
const MAX_DEPTH = 32;

function encodeString(text: string, out: string[]): void {
  out.push(`s${text.length}:`, text);
}

/** A canonical, type-tagged encoding: object keys sorted, arrays in order, strings length-prefixed. */
function encodeValue(value: unknown, out: string[], depth: number): void {
  if (depth > MAX_DEPTH) {
    out.push('X');
    return;
  }
  if (value === undefined) out.push('u');
  else if (value === null) out.push('n');
  else if (typeof value === 'string') encodeString(value, out);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    const text = String(value);
    out.push(`${typeof value === 'number' ? 'd' : typeof value === 'boolean' ? 'b' : 'i'}${text.length}:`, text);
  } else if (Array.isArray(value)) {
    out.push(`a${value.length}[`);
    for (const item of value) encodeValue(item, out, depth + 1);
    out.push(']');
  } else if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    out.push(`o${keys.length}{`);
    for (const key of keys) {
      encodeString(key, out);
      encodeValue(record[key], out, depth + 1);
    }
    out.push('}');
  } else {
    encodeString(String(value), out); // functions and symbols never come from a request
  }
}
