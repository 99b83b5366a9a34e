import { buildRequestKey, type RequestKeyParts } from '../../lib/http/request-key.builder.js';

const base: RequestKeyParts = { method: 'GET', route: '["C","h","c","h"]', params: { id: '1' }, query: {}, vary: [] };
const key = (parts: Partial<RequestKeyParts>) => buildRequestKey({ ...base, ...parts });

describe('buildRequestKey', () => {
  it('is a fixed-length hash whatever the input', () => {
    expect(key({ query: { q: 'x'.repeat(100_000) } })).toMatch(/^http:[\w-]{43}$/);
  });

  it('ignores the order of query keys, nested ones included', () => {
    expect(key({ query: { a: '1', b: { y: '2', x: ['3', '4'] } } })).toBe(key({ query: { b: { x: ['3', '4'], y: '2' }, a: '1' } }));
  });

  it('keeps nested query objects and array order apart', () => {
    expect(key({ query: { a: { b: '1' } } })).not.toBe(key({ query: { a: { b: '2' } } }));
    expect(key({ query: { a: ['1', '2'] } })).not.toBe(key({ query: { a: ['2', '1'] } }));
    expect(key({ query: { a: ['1'] } })).not.toBe(key({ query: { a: '1' } }));
  });

  it('cannot be forged by delimiters inside values', () => {
    expect(key({ query: { a: 'x&b=y' } })).not.toBe(key({ query: { a: 'x', b: 'y' } }));
    expect(key({ query: { 'a:1': '' } })).not.toBe(key({ query: { a: '1:' } }));
    expect(key({ vary: ['accept-language', 'en', 'user', 'x'] })).not.toBe(key({ vary: ['accept-language', 'en\u0000user', 'x'] }));
    expect(key({ route: 'ab', params: { id: 'c' } })).not.toBe(key({ route: 'a', params: { id: 'bc' } }));
  });

  it('tells methods, routes, params, vary inputs and value types apart', () => {
    const all = [
      key({}),
      key({ method: 'POST' }),
      key({ route: 'other' }),
      key({ params: { id: '2' } }),
      key({ vary: ['user', 'alice'] }),
      key({ vary: ['user', 'bob'] }),
      key({ query: { n: 1 } }),
      key({ query: { n: '1' } }),
      key({ query: { n: null } }),
      key({ query: { n: undefined } }),
    ];
    expect(new Set(all).size).toBe(all.length);
  });
});
