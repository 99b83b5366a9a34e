import { Packr } from 'msgpackr';
import { decodeEntry, encodeEntry, undecodableReason } from '../../lib/core/entry-codec.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { makeEntry } from '../support/layer-contract.js';

/** Own `__proto__` keys through the default serializer: kept, never a prototype. */
describe('MsgpackSerializer and own __proto__ keys', () => {
  const serializer = new MsgpackSerializer();
  const roundTrip = <T>(value: T): T => serializer.decode(serializer.encode(value)) as T;

  afterEach(() => {
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined(); // never a polluted Object.prototype
  });

  it('keeps an own __proto__ key as an own property, with its prototype untouched and the key order kept', () => {
    const text = '{"a":1,"__proto__":{"polluted":"yes","isAdmin":true},"z":2}';
    const decoded = roundTrip(JSON.parse(text) as Record<string, unknown>);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect((decoded as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    expect(Object.keys(decoded)).toEqual(['a', '__proto__', 'z']);
    expect(JSON.stringify(decoded)).toBe(text);
  });

  it('keeps them in nested objects, arrays of objects, Map values and Set items', () => {
    const text = '{"list":[{"__proto__":1},{"b":{"__proto__":[{"__proto__":null}]}}],"deep":{"x":{"__proto__":"s"}}}';
    const value = JSON.parse(text) as Record<string, unknown>;
    const decoded = roundTrip({ json: value, map: new Map([['k', JSON.parse('{"__proto__":2}') as unknown]]), set: new Set([JSON.parse('{"__proto__":3}') as unknown]) });
    expect(JSON.stringify(decoded.json)).toBe(text);
    const inMap = decoded.map.get('k') as object;
    expect(Object.hasOwn(inMap, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(inMap)).toBe(Object.prototype);
    const inSet = [...decoded.set][0] as object;
    expect(Object.hasOwn(inSet, '__proto__')).toBe(true);
    expect(JSON.stringify(inSet)).toBe('{"__proto__":3}');
  });

  it('keeps keys that look like an escaped __proto__ exactly as they were', () => {
    const text = '{"__proto__":1,"__proto_":2,"__proto__\\u0000":3,"__proto__\\u0000\\u0000":4,"__proto":5}';
    const decoded = roundTrip(JSON.parse(text) as Record<string, unknown>);
    expect(JSON.stringify(decoded)).toBe(text);
    // Without any key __proto__, such keys take the plain path and are kept too.
    const plain = '{"__proto_":2,"__proto__\\u0000":3}';
    expect(JSON.stringify(roundTrip(JSON.parse(plain) as unknown))).toBe(plain);
  });

  it('keeps shared and cyclic references on the escaped path', () => {
    const shared = JSON.parse('{"__proto__":"shared"}') as Record<string, unknown>;
    const value: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
    value['self'] = value;
    const decoded = roundTrip(value);
    expect(decoded['a']).toBe(decoded['b']);
    expect((decoded['list'] as unknown[])[0]).toBe(decoded['a']);
    expect(decoded['self']).toBe(decoded);
    expect(Object.hasOwn(decoded['a'] as object, '__proto__')).toBe(true);
  });

  it('keeps every other type on the escaped path', () => {
    const value = {
      ...(JSON.parse('{"__proto__":{"k":1}}') as object),
      date: new Date('2026-12-03T10:00:00Z'),
      big: 2n ** 70n,
      buffer: Buffer.from('bytes'),
      u8: new Uint8Array([1, 2]),
      missing: undefined,
      nan: Number.NaN,
      nested: new Map<unknown, unknown>([[1, new Set([1])]]),
    };
    const decoded = roundTrip(value);
    expect(decoded).toEqual(value);
    expect(Buffer.isBuffer(decoded.u8)).toBe(false);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
  });

  it('a class instance with an own __proto__ key comes back as a plain object that keeps it', () => {
    class Tagged {
      constructor() {
        Object.defineProperty(this, '__proto__', { value: 'own', enumerable: true, writable: true, configurable: true });
      }
    }
    const decoded = roundTrip({ t: new Tagged() }).t as object;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(JSON.stringify(decoded)).toBe('{"__proto__":"own"}');
  });

  it('values without a __proto__ key are not escaped; a "__proto__" string value round-trips', () => {
    const records = new Packr({ structuredClone: true, useBigIntExtension: true, moreTypes: true });
    const value = new Map([['a', [1, { b: 'c' }]]]);
    expect(Buffer.from(serializer.encode(value))).toEqual(records.pack(value));
    expect(Buffer.from(serializer.encode({ a: 1 })).subarray(0, 2)).toEqual(Buffer.from([0xc1, 0x01]));
    expect(roundTrip({ key: '__proto__', list: ['__proto__'] })).toEqual({ key: '__proto__', list: ['__proto__'] });
  });

  it('a version without this support reads such an entry as undecodable (a miss), never as a changed value', () => {
    const bytes = encodeEntry(makeEntry(JSON.parse('{"__proto__":1}') as unknown, Date.UTC(2026, 0, 1)), serializer);
    const older = new Packr({ structuredClone: true, useBigIntExtension: true, moreTypes: true });
    const olderSerializer = { encode: (v: unknown) => older.pack(v), decode: (b: Uint8Array) => older.unpack(b) as unknown };
    expect(undecodableReason(decodeEntry(bytes, olderSerializer))).toMatch(/serializer cannot decode/);
    expect(JSON.stringify(decodeEntry(bytes, serializer)?.value)).toBe('{"__proto__":1}');
  });
});
