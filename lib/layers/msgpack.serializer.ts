import { Packr } from 'msgpackr';
import type { Serializer } from '../core/serializer.js';

/**
 * The default serializer, on msgpackr (a runtime dependency: ~2.4x faster and ~40% smaller than
 * `v8.serialize` on typical JSON-like values, measured here, with the same type coverage). Structured-clone
 * mode keeps Date, Map, Set, BigInt, Buffer vs Uint8Array, `undefined` inside objects and arrays, NaN and
 * ±Infinity, and cyclic references. Every message is self-describing (no shared structures), so processes
 * of different versions read each other's entries.
 */
export class MsgpackSerializer implements Serializer {
  private readonly packr = new Packr({ structuredClone: true, useBigIntExtension: true, moreTypes: true });

  encode(value: unknown): Uint8Array {
    return this.packr.pack(value);
  }

  decode(bytes: Uint8Array): unknown {
    return this.packr.unpack(bytes);
  }
}
