/**
 * The default serializer, on msgpackr (a runtime dependency: ~2.4x faster and ~40% smaller than
 * `v8.serialize` on typical JSON-like values, measured here, with the same type coverage). Structured-clone
 * mode keeps Date, Map, Set, BigInt, Buffer vs Uint8Array, `undefined` inside objects and arrays, NaN and
 * ±Infinity, and cyclic references. Every message is self-describing (no shared structures), so processes
 * of different versions read each other's entries. Own `__proto__` keys are kept (msgpackr alone renames
 * them `__proto_`), without ever setting a prototype: see proto-keys.ts.
 *
 * Two encodings (the trade-off, measured in docs/benchmarks.md (b) and docs/storage.md):
 * - **plain** (small values of plain objects): objects as msgpack maps. For a small value decoding is ~40%
 *   cheaper than with records: msgpackr compiles a reader (`new Function`) for every object shape repeated in a
 *   message, and as messages are self-describing that work is redone on every read. The price: keys of
 *   same-shaped objects repeated (+17% bytes for the 1 KB benchmark value).
 * - **records** (msgpackr's default, the only format of earlier versions): objects as record structures. Past
 *   ~100 values the compile is paid off and records decode faster (2.5x on a 20 KB document) and smaller (-30%),
 *   so values of more than {@link PLAIN_MAX_VALUES} values keep them. Records are also what tells an object
 *   from a Map, so a value holding a Map (or a class instance, an Error, a RegExp, a cycle) keeps them; and a
 *   value without objects is the same either way, so it keeps them and stays readable by earlier versions.
 *
 * Framing: a records message has no header (0xC1 + records, keys escaped). A plain message starts with
 * 0xC1 then 0x01 (0x02: keys escaped). 0xC1 is a byte msgpack never uses; an earlier version reads a plain
 * message as 0xC1 + a complete msgpack value (the integer 1 or 2) followed by more bytes, which msgpackr
 * rejects: a miss, never a wrong value, during a rolling deploy. The byte after 0xC1 in an escaped records
 * message opens a value holding keys, never the integers 1 or 2.
 */
import { Packr } from 'msgpackr';
import type { Serializer } from './serializer.js';
import { ESCAPED_KEYS_MARK, escapeProtoKeys, PROTO_KEY_BYTES, unescapeProtoKeys } from './proto-keys.js';

/** Second byte of a plain message (after {@link ESCAPED_KEYS_MARK}); +1 when its keys are escaped. */
const PLAIN = 0x01;
const PLAIN_ESCAPED = 0x02;
/** Values (objects, arrays, primitives inside) a value written plain holds at most: the measured crossover. */
const PLAIN_MAX_VALUES = 128;

const TYPES = { structuredClone: true, useBigIntExtension: true, moreTypes: true } as const;

/** The default `Serializer` of `RedisLayer`: msgpack with structured-clone types; pass one to share its setup or to wrap it. */
export class MsgpackSerializer implements Serializer {
  private readonly records = new Packr(TYPES);
  private readonly plain = new Packr({ ...TYPES, useRecords: false, mapsAsObjects: true, variableMapSize: true });

  encode(value: unknown): Uint8Array {
    const plain = encodesPlain(value);
    const packr = plain ? this.plain : this.records;
    let bytes = packr.pack(value);
    const escaped = bytes.indexOf(PROTO_KEY_BYTES) !== -1;
    if (!plain && !escaped) return bytes; // the common case of earlier versions, byte for byte
    if (escaped) bytes = packr.pack(escapeProtoKeys(value));
    const header = plain ? 2 : 1;
    const out = Buffer.allocUnsafe(bytes.length + header);
    out[0] = ESCAPED_KEYS_MARK;
    if (plain) out[1] = escaped ? PLAIN_ESCAPED : PLAIN;
    out.set(bytes, header);
    return out;
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes[0] !== ESCAPED_KEYS_MARK) return this.records.unpack(bytes);
    const kind = bytes[1];
    if (kind === PLAIN) return this.plain.unpack(bytes.subarray(2));
    if (kind === PLAIN_ESCAPED) return unescapeProtoKeys(this.plain.unpack(bytes.subarray(2)));
    return unescapeProtoKeys(this.records.unpack(bytes.subarray(1)));
  }
}

/**
 * Whether `value` is written plain: at most {@link PLAIN_MAX_VALUES} values (a cycle exceeds it), at least one an
 * object msgpack writes as a map (else the encodings are the same), none a plain message would read back
 * differently (a Map, or anything the walk does not know).
 */
function encodesPlain(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: unknown[] = [value];
  let objects = false;
  for (let visited = 0; pending.length > 0; visited++) {
    if (visited === PLAIN_MAX_VALUES) return false;
    const item = pending.pop();
    if (typeof item !== 'object' || item === null) continue;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) pending.push(item[i]);
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto === Object.prototype || proto === null) {
      objects = true;
      for (const key in item) pending.push((item as Record<string, unknown>)[key]);
    } else if (item instanceof Set) {
      for (const member of item) pending.push(member);
    } else if (!(item instanceof Date || ArrayBuffer.isView(item) || item instanceof ArrayBuffer)) {
      return false; // a Map, a class instance (its toJSON), an Error, a RegExp...: as earlier versions wrote them
    }
  }
  return objects;
}
