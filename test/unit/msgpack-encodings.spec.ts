/**
 * MsgpackSerializer's two encodings (msgpack.serializer.ts): plain for objects without a Map, records otherwise;
 * messages of the earlier version (records only) still read; an earlier version reads a plain message as
 * undecodable, never as another value.
 */
import { Packr } from 'msgpackr';
import { decodeEntry, encodeEntry, undecodableReason } from '../../lib/core/entry-codec.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { ESCAPED_KEYS_MARK, escapeProtoKeys, PROTO_KEY_BYTES, unescapeProtoKeys } from '../../lib/core/proto-keys.js';
import type { Serializer } from '../../lib/core/serializer.js';
import { jsonDocument } from '../support/json-document.js';
import { makeEntry } from '../support/layer-contract.js';

const serializer = new MsgpackSerializer();
const records = new Packr({ structuredClone: true, useBigIntExtension: true, moreTypes: true });

/** The serializer of the version before the plain encoding: records, and 0xC1 + records for escaped keys. */
const earlier: Serializer = {
  encode(value) {
    const bytes = records.pack(value);
    if (bytes.indexOf(PROTO_KEY_BYTES) === -1) return bytes;
    return Buffer.concat([Buffer.from([ESCAPED_KEYS_MARK]), records.pack(escapeProtoKeys(value))]);
  },
  decode(bytes) {
    if (bytes[0] !== ESCAPED_KEYS_MARK) return records.unpack(bytes);
    return unescapeProtoKeys(records.unpack(bytes.subarray(1)));
  },
};

const header = (value: unknown): number[] => [...Buffer.from(serializer.encode(value)).subarray(0, 2)];

class Temperature {
  constructor(readonly celsius: number) {}
}

describe('MsgpackSerializer encodings', () => {
  it.each<[string, () => unknown]>([
    ['a plain object', () => ({ id: 1, name: 'a' })],
    ['an array of same-shaped objects', () => Array.from({ length: 8 }, (_, i) => ({ id: i, sku: `S${i}` }))],
    ['128 values (an array of 63 objects of one key: 127, in an object: 128)', () => ({ list: Array.from({ length: 63 }, (_, i) => ({ i })) })],
    ['objects inside a Set', () => new Set([{ a: 1 }, { a: 2 }])],
    ['objects beside Dates, Buffers, byte arrays and BigInts', () => ({ at: new Date(0), raw: Buffer.from('x'), bytes: new Uint8Array([1]), n: 2n ** 70n })],
    ['shared references', () => {
      const shared = { a: 1 };
      return { x: shared, y: shared };
    }],
  ])('writes %s plain (0xC1 0x01) and reads it back equal', (_, make) => {
    expect(header(make())).toEqual([0xc1, 0x01]);
    expect(serializer.decode(serializer.encode(make()))).toStrictEqual(make());
  });

  it('writes a null-prototype object plain and reads it back as the earlier version did: a plain object', () => {
    const value = Object.assign(Object.create(null) as object, { a: 1 });
    expect(header(value)).toEqual([0xc1, 0x01]);
    expect(serializer.decode(serializer.encode(value))).toStrictEqual(earlier.decode(earlier.encode(value)));
  });

  it('keeps shared references shared in a plain message', () => {
    const shared = { a: 1 };
    const got = serializer.decode(serializer.encode({ x: shared, y: [shared] })) as { x: object; y: object[] };
    expect(got.y[0]).toBe(got.x);
  });

  it('writes an own __proto__ key plain with escaped keys (0xC1 0x02)', () => {
    const value = JSON.parse('{"__proto__":{"a":1},"b":2}') as unknown;
    expect(header(value)).toEqual([0xc1, 0x02]);
    expect(JSON.stringify(serializer.decode(serializer.encode(value)))).toBe('{"__proto__":{"a":1},"b":2}');
  });

  it.each<[string, () => unknown]>([
    ['a Map', () => new Map([['a', { b: 1 }]])],
    ['a Map deep inside objects', () => ({ a: [{ b: new Map([[1, 2]]) }] })],
    ['a class instance', () => ({ t: new Temperature(21) })],
    ['an Error', () => ({ e: new Error('boom') })],
    ['a RegExp', () => ({ r: /x/g })],
    ['a cyclic value', () => {
      const node: Record<string, unknown> = { n: 1 };
      node['self'] = node;
      return node;
    }],
    ['more than 128 values (64 objects of one key in an array: 129)', () => Array.from({ length: 64 }, (_, i) => ({ i }))],
    ['a 20 KB document', () => jsonDocument(20_000)],
  ])('writes a value holding %s with records, as the earlier version did', (_, make) => {
    expect(Buffer.from(serializer.encode(make()))).toEqual(Buffer.from(earlier.encode(make())));
  });

  it.each<[string, unknown]>([
    ['a string', 'text'],
    ['a number', 42],
    ['an array of primitives', [1, 'two', null, true]],
    ['a Date', new Date(0)],
    ['undefined', undefined],
  ])('writes %s (no object) byte for byte as the earlier version did, so it reads it', (_, value) => {
    expect(Buffer.from(serializer.encode(value))).toEqual(Buffer.from(earlier.encode(value)));
    expect(earlier.decode(serializer.encode(value))).toStrictEqual(value);
  });

  it.each<[string, unknown]>([
    ['a plain object', { id: 1, tags: ['a'] }],
    ['a Map', new Map<unknown, unknown>([[1, { a: 1 }]])],
    ['an own __proto__ key', JSON.parse('{"__proto__":1,"m":{"k":[1]}}') as unknown],
    ['a cyclic value', (() => {
      const node: Record<string, unknown> = { n: 1 };
      node['self'] = node;
      return node;
    })()],
  ])('reads %s as the earlier version wrote it', (_, value) => {
    const got = serializer.decode(earlier.encode(value));
    expect(JSON.stringify(got, (_k, v: unknown) => (v === got && _k !== '' ? '[self]' : v instanceof Map ? [...v] : v))).toBe(
      JSON.stringify(value, (_k, v: unknown) => (v === value && _k !== '' ? '[self]' : v instanceof Map ? [...v] : v)),
    );
    if (value instanceof Map) expect(got).toBeInstanceOf(Map);
  });

  it.each<[string, unknown]>([
    ['a plain object', { id: 1, name: 'a' }],
    ['an own __proto__ key', JSON.parse('{"__proto__":1,"b":{}}') as unknown],
  ])('an earlier version reads %s written plain as undecodable (a miss), never as a Map', (_, value) => {
    expect(() => earlier.decode(serializer.encode(value))).toThrow(/end of buffer not reached/);
    const bytes = encodeEntry(makeEntry(value, Date.UTC(2026, 0, 1)), serializer);
    expect(undecodableReason(decodeEntry(bytes, earlier))).toMatch(/serializer cannot decode/);
  });
});
