/**
 * Keys. User keys are non-empty strings of at most {@link MAX_KEY_LENGTH} characters without control
 * characters. Control characters are reserved for the library's own encodings, which is what makes them
 * collision-free: a namespace is joined with U+001F (a user key can never contain it, so namespace `a`
 * never reaches into namespace `ab` or a root key `a:x`), and a hashed long key starts with U+001E.
 */
import { createHash } from 'node:crypto';
import { InvalidKeyError } from './errors.js';

/** The longest user key accepted as is; longer keys are rejected, or hashed with `hashLongKeys`. */
export const MAX_KEY_LENGTH = 1024;

/** Joins a namespace name to what follows it. */
export const NAMESPACE_SEPARATOR = '\u001f';

const HASHED_KEY_MARK = '\u001e';
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Checks a user key and returns the key to store under: the key itself, or its SHA-256 when it is over
 * {@link MAX_KEY_LENGTH} characters and `hashLongKeys` is set.
 * @throws InvalidKeyError naming the problem.
 */
export function checkKey(key: unknown, hashLongKeys: boolean): string {
  if (typeof key !== 'string') throw new InvalidKeyError(`Cache key must be a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidKeyError('Cache key must not be empty');
  if (CONTROL_CHARS.test(key)) {
    throw new InvalidKeyError(`Cache key ${JSON.stringify(truncate(key))} contains a control character`);
  }
  if (key.length > MAX_KEY_LENGTH) {
    if (!hashLongKeys) {
      throw new InvalidKeyError(
        `Cache key ${JSON.stringify(truncate(key))} is ${key.length} characters long (max ${MAX_KEY_LENGTH}); ` +
          'shorten it or enable the hashLongKeys option',
      );
    }
    return HASHED_KEY_MARK + createHash('sha256').update(key).digest('base64url');
  }
  return key;
}

/** Checks a namespace or tag name with the same rules as keys (never hashed). */
export function checkName(kind: 'namespace' | 'tag' | 'prefix', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidKeyError(`A ${kind} must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (CONTROL_CHARS.test(name)) {
    throw new InvalidKeyError(`The ${kind} ${JSON.stringify(truncate(name))} contains a control character`);
  }
  if (name.length > MAX_KEY_LENGTH) {
    throw new InvalidKeyError(`The ${kind} ${JSON.stringify(truncate(name))} is longer than ${MAX_KEY_LENGTH}`);
  }
  return name;
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 61)}...` : value;
}

/**
 * Encodes function arguments into a stable key that cannot collide: every value carries its type, strings
 * are quoted, object keys are sorted. `f('a:b')`, `f('a', 'b')`, `f(1)`, `f('1')`, `f(null)` and
 * `f(undefined)` all differ. Functions, symbols and cyclic structures cannot be keys.
 * @throws InvalidKeyError for arguments that cannot be encoded.
 */
export function encodeArguments(args: readonly unknown[]): string {
  if (args.length === 1) return encodeValue(args[0], []);
  let out = '(';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) out += ',';
    out += encodeValue(args[i], []);
  }
  return out + ')';
}

function encodeValue(value: unknown, seen: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'object':
      return value === null ? 'null' : encodeObject(value, seen);
    default:
      throw new InvalidKeyError(`Cannot build a cache key from an argument of type ${typeof value}`);
  }
}

function encodeObject(value: object, seen: object[]): string {
  if (seen.includes(value)) throw new InvalidKeyError('Cannot build a cache key from a cyclic argument');
  seen.push(value);
  try {
    if (value instanceof Date) return `Date(${value.getTime()})`;
    if (ArrayBuffer.isView(value)) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      return `${value.constructor.name}(${bytes.toString('base64')})`;
    }
    if (Array.isArray(value)) return `[${value.map((item) => encodeValue(item, seen)).join(',')}]`;
    if (value instanceof Map) {
      const items = [...value].map(([k, v]) => `${encodeValue(k, seen)}=>${encodeValue(v, seen)}`).sort();
      return `Map{${items.join(',')}}`;
    }
    if (value instanceof Set) {
      return `Set{${[...value].map((item) => encodeValue(item, seen)).sort().join(',')}}`;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return `json(${encodeValue(toJSON.call(value), seen)})`;
    const keys = Object.keys(value).sort();
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      if (i > 0) out += ',';
      out += `${JSON.stringify(k)}:${encodeValue((value as Record<string, unknown>)[k], seen)}`;
    }
    return out + '}';
  } finally {
    seen.pop();
  }
}
