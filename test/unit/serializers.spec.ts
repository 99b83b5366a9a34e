import { JsonSerializer } from '../../lib/core/json.serializer.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import type { Serializer } from '../../lib/core/serializer.js';

const msgpack = new MsgpackSerializer();
const json = new JsonSerializer();
const SAME = Symbol('same as written');

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** One value, and what each serializer reads back (SAME: an equal value of the same types). */
const VALUES: [name: string, value: () => unknown, msgpack: unknown, json: unknown][] = [
  ['a string', () => 'unicode ✓ ключ 🔑', SAME, SAME],
  ['a number', () => 3.25, SAME, SAME],
  ['true', () => true, SAME, SAME],
  ['null', () => null, SAME, SAME],
  ['undefined (a negative entry)', () => undefined, SAME, SAME],
  ['a nested object and array', () => ({ a: [1, { b: 'c' }], d: {} }), SAME, SAME],
  ['a Date', () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), SAME, SAME],
  ['a Map with non-string keys', () => new Map<unknown, unknown>([['a', 1], [2, { n: new Set(['x']) }], [new Date(0), null]]), SAME, SAME],
  ['a Set', () => new Set<unknown>([1, 'two', null]), SAME, SAME],
  ['a BigInt', () => 2n ** 70n, SAME, SAME],
  ['a negative BigInt', () => -(2n ** 64n) - 1n, SAME, SAME],
  ['a Buffer', () => Buffer.from('buffer bytes'), SAME, SAME],
  ['a Uint8Array (not a Buffer)', () => new Uint8Array([0, 1, 254, 255]), SAME, SAME],
  ['an own __proto__ key', () => JSON.parse('{"__proto__":{"polluted":true},"a":1}') as unknown, SAME, SAME],
  ['an object whose single key is a tag name', () => ({ $date: 'not a date' }), SAME, SAME],
  ['an object whose single key starts with $', () => ({ $ref: { $escape: 1 } }), SAME, SAME],
  ['an object with several $ keys', () => ({ $date: 1, $set: 2 }), SAME, SAME],
  ['undefined inside an object', () => ({ present: 1, missing: undefined }), SAME, { present: 1 }],
  ['undefined inside an array', () => [1, undefined, 3], SAME, [1, null, 3]],
  ['NaN and ±Infinity', () => [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], SAME, [null, null, null]],
  ['-0', () => -0, 0, 0],
  ['a class instance', () => new Point(1, 2), { x: 1, y: 2 }, { x: 1, y: 2 }],
  ['a function inside an object', () => ({ f: () => 1, a: 1 }), { f: undefined, a: 1 }, { a: 1 }],
];

describe.each([
  ['MsgpackSerializer', msgpack, 2],
  ['JsonSerializer', json, 3],
] as const)('%s round trips', (_name, serializer: Serializer, column) => {
  it.each(VALUES)('%s', (_, make, ...expected) => {
    const want = expected[column - 2] === SAME ? make() : expected[column - 2];
    const got = serializer.decode(serializer.encode(make()));
    expect(got).toStrictEqual(want);
    if (want instanceof Uint8Array) expect(Buffer.isBuffer(got)).toBe(Buffer.isBuffer(want));
    if (typeof want === 'number') expect(Object.is(got, want)).toBe(true);
    if (want !== null && typeof want === 'object') expect(Object.getPrototypeOf(got)).toBe(Object.getPrototypeOf(want));
  });

  it('an invalid Date', () => {
    const got = serializer.decode(serializer.encode(new Date(Number.NaN)));
    expect(got).toBeInstanceOf(Date);
    expect((got as Date).getTime()).toBeNaN();
  });
});

describe('JsonSerializer', () => {
  const text = (value: unknown): string => Buffer.from(json.encode(value)).toString('utf8');

  it('writes JSON-native values as plain JSON', () => {
    const value = { id: 7, name: 'Ada', tags: ['a', 'b'], nested: { ok: true, none: null }, score: 1.5 };
    expect(text(value)).toBe(JSON.stringify(value));
  });

  it('writes the other types as documented tagged objects', () => {
    expect(text(new Date(Date.UTC(2026, 0, 2)))).toBe('{"$date":"2026-01-02T00:00:00.000Z"}');
    expect(text(new Date(Number.NaN))).toBe('{"$date":null}');
    expect(text(-12n)).toBe('{"$bigint":"-12"}');
    expect(text(Buffer.from('hi'))).toBe('{"$buffer":"aGk="}');
    expect(text(new Uint8Array([104, 105]))).toBe('{"$bytes":"aGk="}');
    expect(text(new Map([['k', 1]]))).toBe('{"$map":[["k",1]]}');
    expect(text(new Set([1, 2]))).toBe('{"$set":[1,2]}');
    expect(text(undefined)).toBe('{"$undefined":true}');
    expect(text({ $date: 'x' })).toBe('{"$escape":{"$date":"x"}}');
    expect(text({ at: new Date(0), $a: 1, b: 2 })).toBe('{"at":{"$date":"1970-01-01T00:00:00.000Z"},"$a":1,"b":2}');
  });

  it('writes what toJSON returns (JSON.stringify does the same)', () => {
    const value = { toJSON: () => ({ kind: 'custom' }) };
    expect(json.decode(json.encode({ v: value }))).toStrictEqual({ v: { kind: 'custom' } });
  });

  it('reads tagged JSON written by another language', () => {
    const foreign = '{"when":{"$date":"2026-01-02T00:00:00Z"},"n":{"$bigint":"9007199254740993"},"m":{"$map":[[1,"one"]]},"raw":{"$bytes":"AAE="}}';
    expect(json.decode(Buffer.from(foreign))).toStrictEqual({
      when: new Date('2026-01-02T00:00:00Z'),
      n: 9007199254740993n,
      m: new Map([[1, 'one']]),
      raw: new Uint8Array([0, 1]),
    });
  });

  it('never sets a prototype from data', () => {
    const got = json.decode(Buffer.from('{"__proto__":{"polluted":true},"x":{"$escape":{"__proto__":{"$set":[1]}}}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toStrictEqual({ polluted: true });
    expect(Object.getOwnPropertyDescriptor(got.x, '__proto__')?.value).toStrictEqual(new Set([1]));
  });

  const refused: [string, unknown, RegExp][] = [
    ['a cycle', (() => {
      const a: Record<string, unknown> = {};
      a.self = a;
      return a;
    })(), /cyclic/],
    ['a Float64Array', new Float64Array([1]), /cannot encode a Float64Array/],
    ['an ArrayBuffer', new ArrayBuffer(2), /cannot encode a ArrayBuffer/],
    ['a top-level function', () => 1, /cannot encode a function/],
    ['a top-level symbol', Symbol('s'), /cannot encode a symbol/],
  ];
  it.each(refused)('refuses %s with a TypeError', (_, value, message) => {
    expect(() => json.encode(value)).toThrow(TypeError);
    expect(() => json.encode(value)).toThrow(message);
  });

  it('keeps shared references as copies (a DAG, not a cycle)', () => {
    const shared = { n: 1 };
    const got = json.decode(json.encode({ a: shared, b: shared })) as { a: object; b: object };
    expect(got.a).toStrictEqual(shared);
    expect(got.a).not.toBe(got.b);
  });

  const malformed: [string, string, RegExp][] = [
    ['not JSON', '{"a":', /JSON/],
    ['an unknown tag', '{"$regexp":"a+"}', /unknown tag "\$regexp"/],
    ['a $date that is not a date', '{"$date":"soon"}', /malformed \$date/],
    ['a $bigint that is not an integer', '{"$bigint":"1.5"}', /malformed \$bigint/],
    ['a $map that is not pairs', '{"$map":[[1]]}', /malformed \$map/],
    ['a $set that is not an array', '{"$set":1}', /malformed \$set/],
    ['an $escape that is not an object', '{"$escape":[1]}', /malformed \$escape/],
  ];
  it.each(malformed)('throws on %s (the entry is then undecodable: a miss)', (_, input, message) => {
    expect(() => json.decode(Buffer.from(input))).toThrow(message);
  });
});
