/**
 * `JsonSerializer`: values as UTF-8 JSON text, for shared layers that services in other languages read too
 * (docs/storage.md "Serializers" has the format, side by side with `MsgpackSerializer`). JSON-native values are
 * plain JSON; the types JSON lacks are written as tagged objects — an object with exactly one key naming the
 * type: `{"$date": "2026-01-02T03:04:05.006Z"}`, `{"$bigint": "-12"}`, `{"$buffer": "<base64>"}` (a Node Buffer),
 * `{"$bytes": "<base64>"}` (a Uint8Array), `{"$map": [[key, value], ...]}`, `{"$set": [...]}`, and
 * `{"$undefined": true}` for a top-level `undefined` (a negative entry).
 * Hard parts: escaping — a value object with exactly one key starting with `$` would read as a tag, so it is
 * written as `{"$escape": {...}}` (its own values still encoded); a reader takes the inner object as it is. Any
 * other single `$` key is an unknown tag: the reader throws (the entry is undecodable, a miss), never guesses.
 * Own `__proto__` keys are kept without ever setting a prototype (JSON.parse makes them own properties; the
 * walk assigns them with `Object.defineProperty`).
 * Lost, as with `JSON.stringify`: `undefined` inside objects (the key is dropped) and arrays (null), NaN and
 * ±Infinity (null), -0 (0), functions and symbols (dropped, null in arrays), prototypes (class instances are
 * read back as plain objects; a `toJSON()` result is what is written), shared references (duplicated).
 * Refused with a TypeError (the write is skipped and counted): cycles, typed arrays other than Uint8Array,
 * ArrayBuffer, a top-level function or symbol.
 */
import type { Serializer } from './serializer.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The tags of the format, each the single key of a tagged object. */
const TAGS = new Set(['$date', '$bigint', '$buffer', '$bytes', '$map', '$set', '$undefined', '$escape']);

/**
 * A `Serializer` writing JSON, for layers shared with services in other languages: plain JSON for JSON-native
 * values, tagged objects (`{"$date": "..."}`) for Date, Map, Set, BigInt, Buffer and Uint8Array. Loses what
 * `JSON.stringify` loses (`undefined` in objects, NaN/Infinity, prototypes); see docs/storage.md.
 *
 * @example
 * new RedisLayer({ client, serializer: new JsonSerializer() });
 */
export class JsonSerializer implements Serializer {
  encode(value: unknown): Uint8Array {
    const tree = value === undefined ? { $undefined: true } : toJson(value, new Set(), 'top');
    if (tree === undefined) throw new TypeError(`JsonSerializer cannot encode a ${typeof value}`);
    return Buffer.from(JSON.stringify(tree), 'utf8');
  }

  decode(bytes: Uint8Array): unknown {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return fromJson(JSON.parse(text) as Json);
  }
}

/** Where a value sits: an object drops what JSON cannot hold, an array writes null for it, the top refuses it. */
type Position = 'top' | 'object' | 'array';

/** The JSON tree of `value` (`undefined`: drop the key). `ancestors` detects cycles. */
function toJson(value: unknown, ancestors: Set<object>, position: Position): Json | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return { $bigint: value.toString() };
    case 'undefined':
    case 'function':
    case 'symbol':
      return position === 'array' ? null : undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) {
    const time = object.getTime();
    return { $date: Number.isNaN(time) ? null : object.toISOString() };
  }
  if (object instanceof Uint8Array) {
    const base64 = Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
    return Buffer.isBuffer(object) ? { $buffer: base64 } : { $bytes: base64 };
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    throw new TypeError(`JsonSerializer cannot encode a ${object.constructor.name} (only Buffer and Uint8Array; use MsgpackSerializer)`);
  }
  if (ancestors.has(object)) throw new TypeError('JsonSerializer cannot encode a cyclic value');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) return Array.from(object, (item: unknown) => toJson(item, ancestors, 'array') as Json);
    if (object instanceof Map) {
      return { $map: Array.from(object, ([key, item]: [unknown, unknown]) => [toJson(key, ancestors, 'array'), toJson(item, ancestors, 'array')] as Json) };
    }
    if (object instanceof Set) return { $set: Array.from(object, (item: unknown) => toJson(item, ancestors, 'array') as Json) };
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJson(toJSON.call(object) as unknown, ancestors, position);
    const out: { [key: string]: Json } = {};
    const keys = Object.keys(object);
    for (const key of keys) {
      const item = toJson((object as Record<string, unknown>)[key], ancestors, 'object');
      if (item === undefined) continue;
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      else out[key] = item;
    }
    const written = Object.keys(out);
    return written.length === 1 && (written[0] as string).startsWith('$') ? { $escape: out } : out;
  } finally {
    ancestors.delete(object);
  }
}

/** The value of a parsed JSON tree, tags revived (in place: the tree is the parser's own). */
function fromJson(json: Json): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) {
    for (let i = 0; i < json.length; i++) json[i] = fromJson(json[i] as Json) as Json;
    return json;
  }
  const keys = Object.keys(json);
  if (keys.length === 1 && (keys[0] as string).startsWith('$')) return fromTagged(keys[0] as string, json[keys[0] as string] as Json);
  return reviveValues(json);
}

/** Revives the values of `object` in place, keeping its keys as they are. */
function reviveValues(object: { [key: string]: Json }): unknown {
  for (const key of Object.keys(object)) {
    const value = fromJson(object[key] as Json);
    if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
    else object[key] = value as Json;
  }
  return object;
}

function fromTagged(tag: string, payload: Json): unknown {
  if (!TAGS.has(tag)) throw new TypeError(`JsonSerializer: unknown tag ${JSON.stringify(tag)}`);
  switch (tag) {
    case '$date':
      if (payload === null) return new Date(Number.NaN);
      return new Date(checked(payload, typeof payload === 'string' && !Number.isNaN(Date.parse(payload)), tag) as string);
    case '$bigint':
      return BigInt(checked(payload, typeof payload === 'string' && /^-?\d+$/.test(payload), tag) as string);
    case '$buffer':
      return Buffer.from(checked(payload, typeof payload === 'string', tag) as string, 'base64');
    case '$bytes':
      return new Uint8Array(Buffer.from(checked(payload, typeof payload === 'string', tag) as string, 'base64'));
    case '$map': {
      const pairs = checked(payload, Array.isArray(payload) && payload.every((pair) => Array.isArray(pair) && pair.length === 2), tag) as Json[][];
      return new Map(pairs.map(([key, value]) => [fromJson(key as Json), fromJson(value as Json)]));
    }
    case '$set':
      return new Set((checked(payload, Array.isArray(payload), tag) as Json[]).map(fromJson));
    case '$undefined':
      return undefined;
    default: // $escape
      return reviveValues(checked(payload, payload !== null && typeof payload === 'object' && !Array.isArray(payload), tag) as { [key: string]: Json });
  }
}

/** `payload` when `valid`, else a TypeError naming the tag. */
function checked(payload: Json, valid: boolean, tag: string): Json {
  if (!valid) throw new TypeError(`JsonSerializer: malformed ${tag} payload`);
  return payload;
}
