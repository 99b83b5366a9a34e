import { checkOptionKeys, closestName } from '../../lib/core/option-keys.js';
import { invalidOptionError } from '../support/option-error.js';

const KNOWN = ['ttl', 'staleWhileRevalidate', 'staleIfError', 'maxSize', 'name'];


describe('checkOptionKeys', () => {
  it('accepts known names, whatever their values', () => {
    expect(() => checkOptionKeys({ ttl: 1, name: undefined }, KNOWN)).not.toThrow();
    expect(() => checkOptionKeys({}, new Set(KNOWN))).not.toThrow();
  });

  it('names an unknown key with its path and the closest known option', () => {
    const error = invalidOptionError(() => checkOptionKeys({ ttl: 1, staleWhileRevalidte: '1m' }, KNOWN, { at: 'CacheStack' }));
    expect(error.option).toBe('CacheStack.staleWhileRevalidte');
    expect(error.message).toContain('did you mean "staleWhileRevalidate"?');
    expect(error.message).toContain('expected one of ttl, staleWhileRevalidate');
  });

  it('checks keys whose value is undefined (a typo is a mistake whatever its value)', () => {
    expect(invalidOptionError(() => checkOptionKeys({ maxSzie: undefined }, KNOWN)).message).toContain('did you mean "maxSize"?');
  });

  it('gives no suggestion when nothing is close', () => {
    const error = invalidOptionError(() => checkOptionKeys({ serializer: 1 }, KNOWN));
    expect(error.option).toBe('serializer');
    expect(error.message).not.toContain('did you mean');
  });

  it('gives the hint of a name from elsewhere instead of a suggestion', () => {
    const error = invalidOptionError(() => checkOptionKeys({ gracefulDegradation: true }, KNOWN, { renamed: { gracefulDegradation: 'the stack always degrades; see layerTimeout' } }));
    expect(error.message).toBe('Invalid option "gracefulDegradation": unknown option: the stack always degrades; see layerTimeout');
  });

  it('does not take inherited properties for hints (a key named "toString")', () => {
    expect(invalidOptionError(() => checkOptionKeys({ toString: 1 }, KNOWN, { renamed: {} })).message).toContain('unknown option');
  });
});

describe('closestName', () => {
  it.each([
    ['staleWhileRevalidte', 'staleWhileRevalidate'], // a dropped letter
    ['stlaeIfError', 'staleIfError'], // a transposition
    ['TTL', 'ttl'], // case
    ['maxsize', 'maxSize'],
    ['nmae', 'name'],
  ])('%s → %s', (typo, known) => {
    expect(closestName(typo, KNOWN)).toBe(known);
  });

  it('refuses what is too far for the name\'s length', () => {
    expect(closestName('tag', KNOWN)).toBeUndefined(); // 3 letters: at most 1 edit, and ttl is 2 away
    expect(closestName('loader', KNOWN)).toBeUndefined();
  });
});
