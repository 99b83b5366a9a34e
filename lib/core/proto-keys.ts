/**
 * Own `__proto__` keys through msgpack. msgpackr decodes an object key `__proto__` as `__proto_` (so that
 * decoding can never set a prototype), which would silently change such values on their way through Redis.
 * `MsgpackSerializer` keeps them instead: when a message holds the string `__proto__` at all (a byte search,
 * so values without one pay nothing more), the value is packed again with its keys escaped — every key
 * `__proto__` followed by n NUL characters (n ≥ 0) gets one more NUL, which is reversible and leaves no key
 * `__proto__` for msgpackr to rename — and the message is marked by a leading 0xC1 byte (a byte msgpack never
 * uses and this Packr never starts a message with). Decoding a marked message unescapes the keys in place
 * with `Object.defineProperty`, so the object gets an own property named `__proto__` and its prototype is
 * never touched (no prototype pollution). Processes of versions without this read a marked message as
 * undecodable: a miss, not a changed value.
 *
 * Walked: plain and null-prototype objects, arrays, Maps (their keys and values) and Sets, with shared and
 * cyclic references kept; class instances as msgpackr packs them (their `toJSON()` result when they have
 * one, else their own keys, decoded as a plain object). Dates, RegExps, Errors and binary data are leaves.
 */

/** The msgpack encoding of the string `__proto__` (fixstr of 9 bytes), as it appears among the keys. */
export const PROTO_KEY_BYTES = Buffer.from([0xa9, ...Buffer.from('__proto__', 'latin1')]);
/** The first byte of a message whose keys are escaped. */
export const ESCAPED_KEYS_MARK = 0xc1;

/** Whether `key` is `__proto__` followed by NULs only (none or more). */
function isProtoKey(key: string): boolean {
  if (!key.startsWith('__proto__')) return false;
  for (let i = 9; i < key.length; i++) if (key.charCodeAt(i) !== 0) return false;
  return true;
}

/** A copy of `value` with every key matching `__proto__\0*` given one more NUL (see the file comment). */
export function escapeProtoKeys(value: unknown, copies = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null || isLeaf(value)) return value;
  const known = copies.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    copies.set(value, out);
    for (let i = 0; i < value.length; i++) out.push(escapeProtoKeys(value[i], copies));
    return out;
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    copies.set(value, out);
    for (const [k, v] of value) out.set(escapeProtoKeys(k, copies), escapeProtoKeys(v, copies));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    copies.set(value, out);
    for (const item of value) out.add(escapeProtoKeys(item, copies));
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (proto !== Object.prototype && proto !== null && typeof toJSON === 'function') {
    const json: unknown = toJSON.call(value);
    return json === value ? value : escapeProtoKeys(json, copies);
  }
  const out: Record<string, unknown> = {};
  copies.set(value, out);
  for (const key of Object.keys(value)) {
    define(out, isProtoKey(key) ? `${key}\u0000` : key, escapeProtoKeys((value as Record<string, unknown>)[key], copies));
  }
  return out;
}

/** Undoes {@link escapeProtoKeys} in place on a decoded value (keys keep their order). */
export function unescapeProtoKeys(value: unknown, seen = new Set<object>()): unknown {
  if (typeof value !== 'object' || value === null || isLeaf(value) || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const item of value) unescapeProtoKeys(item, seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      unescapeProtoKeys(k, seen);
      unescapeProtoKeys(v, seen);
    }
  } else if (value instanceof Set) {
    for (const item of value) unescapeProtoKeys(item, seen);
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.some((key) => key.length > 9 && isProtoKey(key))) {
      const values = keys.map((key) => record[key]);
      for (const key of keys) delete record[key];
      keys.forEach((key, i) => define(record, key.length > 9 && isProtoKey(key) ? key.slice(0, -1) : key, values[i]));
    }
    for (const key of Object.keys(record)) unescapeProtoKeys(record[key], seen);
  }
  return value;
}

/** An own, enumerable data property, even for the key `__proto__` (an assignment would set the prototype). */
function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isLeaf(value: object): boolean {
  return value instanceof Date || value instanceof RegExp || value instanceof Error || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}
