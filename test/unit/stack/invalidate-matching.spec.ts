import { InvalidationLimitError, InvalidationScanError, InvalidOptionError } from '../../../lib/core/errors.js';
import { globMatcher, toRedisGlob } from '../../../lib/core/key-glob.js';
import { buildTwoLayerStack } from '../../support/stack-builder.js';

describe('invalidateByPrefix / invalidateByPattern', () => {
  async function seeded() {
    const built = buildTwoLayerStack();
    const { stack } = built;
    await stack.setMany(['user:1', 'user:2', 'user:10', 'users', 'order:1'].map((key) => ({ key, value: key })));
    await stack.namespace('user:').set('nested', 'n'); // a namespace whose name looks like the prefix
    return built;
  }

  it('deletes the keys under a prefix in every layer, and only them (not a namespace of a similar name)', async () => {
    const { stack, l1, l2 } = await seeded();
    expect(await stack.invalidateByPrefix('user:')).toBe(3);
    for (const key of ['user:1', 'user:2', 'user:10']) {
      expect(await stack.get(key)).toBeUndefined();
      expect(l1.get(key)).toBeUndefined();
      expect(await l2.get(key)).toBeUndefined();
    }
    expect(await stack.get('users')).toBe('users');
    expect(await stack.get('order:1')).toBe('order:1');
    expect(await stack.namespace('user:').get('nested')).toBe('n');
  });

  it('matches * and ? and treats every other character literally', async () => {
    const { stack } = await seeded();
    await stack.set('a.b', 1);
    await stack.set('axb', 2);
    expect(await stack.invalidateByPattern('user:?')).toBe(2);
    expect(await stack.get('user:10')).toBe('user:10');
    expect(await stack.invalidateByPattern('*:1*')).toBe(2); // user:10, order:1
    expect(await stack.invalidateByPattern('a.b')).toBe(1);
    expect(await stack.get('axb')).toBe(2);
    expect(await stack.get('users')).toBe('users');
  });

  it('works inside a namespace, on that namespace only', async () => {
    const { stack } = await seeded();
    const ns = stack.namespace('n');
    await ns.set('user:1', 'in-ns');
    expect(await ns.invalidateByPattern('user:*')).toBe(1);
    expect(await ns.get('user:1')).toBeUndefined();
    expect(await stack.get('user:1')).toBe('user:1');
  });

  it('over the limit, nothing is deleted and the error says so', async () => {
    const { stack, l2 } = await seeded();
    const attempt = stack.invalidateByPrefix('user:', { limit: 2 });
    await expect(attempt).rejects.toBeInstanceOf(InvalidationLimitError);
    await expect(stack.invalidateByPrefix('user:', { limit: 2 })).rejects.toThrow('matches more than 2 keys; nothing was deleted');
    expect(await stack.get('user:1')).toBe('user:1');
    expect(l2.calls['delete'] ?? 0).toBe(0);
    expect(await stack.invalidateByPrefix('user:', { limit: 3 })).toBe(3);
  });

  it('a layer failing while listing deletes nothing and rejects with a typed error', async () => {
    const { stack, l2 } = await seeded();
    l2.fail();
    await expect(stack.invalidateByPattern('user:*')).rejects.toBeInstanceOf(InvalidationScanError);
    l2.heal();
    expect(await stack.get('user:1')).toBe('user:1');
  });

  it('rejects bad input with typed errors', async () => {
    const { stack } = await seeded();
    await expect(stack.invalidateByPrefix('')).rejects.toThrow('non-empty');
    await expect(stack.invalidateByPattern('a\u001fb')).rejects.toThrow('control character');
    await expect(stack.invalidateByPrefix('x', { limit: -1 })).rejects.toBeInstanceOf(InvalidOptionError);
  });
});

describe('key globs', () => {
  it.each([
    ['user:*', 'user:1', true],
    ['user:*', 'user:', true],
    ['user:?', 'user:10', false],
    ['a.b', 'axb', false],
    ['[x]', '[x]', true],
    ['*', 'ns\u001fkey', false],
    ['*', '\u001ehashed', false],
  ])('%s on %j → %s', (glob, key, expected) => {
    expect(globMatcher(glob)(key)).toBe(expected);
  });

  it('escapes Redis glob metacharacters other than * and ?', () => {
    expect(toRedisGlob('a[b]*c?\\^-')).toBe('a\\[b\\]*c?\\\\\\^\\-');
    expect(toRedisGlob(undefined)).toBe('*');
  });
});
