/**
 * Turns values into bytes for layers that leave the process (Redis, disk). The default
 * (`MsgpackSerializer`) round-trips Date, Map, Set, BigInt, Buffer/Uint8Array, `undefined` inside
 * objects, NaN and ±Infinity, so a value is the same whichever layer answered.
 */
export interface Serializer {
  /** Encodes a value. May throw for values it cannot represent (the write is then skipped and counted). */
  encode(value: unknown): Uint8Array;
  /** Decodes bytes written by {@link Serializer.encode}. May throw on foreign data (read as a miss). */
  decode(bytes: Uint8Array): unknown;
}
