/**
 * The default serializer, on msgpackr (a runtime dependency: ~2.4x faster and ~40% smaller than
 * `v8.serialize` on typical JSON-like values, measured here, with the same type coverage). Structured-clone
 * mode keeps Date, Map, Set, BigInt, Buffer vs Uint8Array, `undefined` inside objects and arrays, NaN and
 * ±Infinity, and cyclic references. Every message is self-describing (no shared structures), so processes
 * of different versions read each other's entries. Own `__proto__` keys are kept (msgpackr alone renames
 * them `__proto_`), without ever setting a prototype: see proto-keys.ts.
 */
import { Packr } from 'msgpackr';
import type { Serializer } from './serializer.js';
import { ESCAPED_KEYS_MARK, escapeProtoKeys, PROTO_KEY_BYTES, unescapeProtoKeys } from './proto-keys.js';

/** The default `Serializer` of `RedisLayer`: msgpack with structured-clone types; pass one to share its setup or to wrap it. */
export class MsgpackSerializer implements Serializer {
  private readonly packr = new Packr({ structuredClone: true, useBigIntExtension: true, moreTypes: true });

  encode(value: unknown): Uint8Array {
    const bytes = this.packr.pack(value);
    if (bytes.indexOf(PROTO_KEY_BYTES) === -1) return bytes; // no key `__proto__` anywhere: the common case
    const escaped = this.packr.pack(escapeProtoKeys(value));
    const out = Buffer.allocUnsafe(escaped.length + 1);
    out[0] = ESCAPED_KEYS_MARK;
    out.set(escaped, 1);
    return out;
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes[0] !== ESCAPED_KEYS_MARK) return this.packr.unpack(bytes);
    return unescapeProtoKeys(this.packr.unpack(bytes.subarray(1)));
  }
}
