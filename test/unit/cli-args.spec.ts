/**
 * The admin CLI's command line (lib/cli/cli-args.ts) and key helpers (cli-keyspace.ts), without Redis: defaults
 * from the environment, where the bus secret may come from (never only argv), and every bad input rejected with
 * an `InvalidOptionError` naming the option.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HELP, parseCliArgs, type CliCommand } from '../../lib/cli/cli-args.js';
import { keyParts, printable } from '../../lib/cli/cli-keyspace.js';
import { InvalidOptionError } from '../../lib/core/errors.js';

function parse(argv: string[], env: Record<string, string> = {}): CliCommand {
  const command = parseCliArgs(argv, env);
  if (command === HELP) throw new Error('expected a command');
  return command;
}

function optionOf(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseCliArgs(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('parseCliArgs', () => {
  it('takes the connection from the environment, then the defaults', () => {
    expect(parse(['stats']).connection).toEqual({ urls: ['redis://127.0.0.1:6379'], cluster: false, prefix: 'lc:', timeoutMs: 5000 });
    expect(parse(['stats'], { LAYERCACHE_REDIS_URL: 'redis://cache:6380', LAYERCACHE_PREFIX: 'app:' }).connection).toMatchObject({ urls: ['redis://cache:6380'], prefix: 'app:' });
    expect(parse(['stats', '--redis', 'redis://x:1', '--prefix', 'p:', '--timeout', '2'], { LAYERCACHE_PREFIX: 'app:' }).connection).toMatchObject({ urls: ['redis://x:1'], prefix: 'p:', timeoutMs: 2000 });
    expect(parse(['keys', '*', '--timeout', '250ms']).connection.timeoutMs).toBe(250);
  });

  it('answers HELP for --help or no command', () => {
    expect(parseCliArgs(['--help'], {})).toBe(HELP);
    expect(parseCliArgs([], {})).toBe(HELP);
  });

  it('reads the bus secret from LAYERCACHE_SECRET or --secret-file, and warns when it is on argv', () => {
    expect(parse(['invalidate', '--key', 'k'], { LAYERCACHE_SECRET: 'env-secret' })).toMatchObject({ secret: 'env-secret', warnings: [] });
    const dir = mkdtempSync(join(tmpdir(), 'cli-secret-'));
    try {
      writeFileSync(join(dir, 'secret'), 'file-secret\n');
      expect(parse(['invalidate', '--key', 'k', '--secret-file', join(dir, 'secret')], { LAYERCACHE_SECRET: 'env-secret' }).secret).toBe('file-secret');
      writeFileSync(join(dir, 'empty'), '');
      expect(optionOf(['invalidate', '--key', 'k', '--secret-file', join(dir, 'empty')])).toContain('--secret-file');
      expect(optionOf(['invalidate', '--key', 'k', '--secret-file', join(dir, 'missing')])).toContain('--secret-file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const onArgv = parse(['invalidate', '--key', 'k', '--secret', 'argv-secret']);
    expect(onArgv.secret).toBe('argv-secret');
    expect(onArgv.warnings).toEqual([expect.stringContaining('visible to other users')]);
    expect(parse(['invalidate', '--key', 'k']).secret).toBeUndefined();
  });

  it('parses each invalidation', () => {
    expect(parse(['invalidate', '--key', 'a', '--key', 'b', '--namespace', 'n'])).toMatchObject({ keys: ['a', 'b'], namespaces: ['n'] });
    expect(parse(['invalidate', '--tag', 'a', '--tag', 'b', '--tag-mode', 'all'])).toMatchObject({ tags: ['a', 'b'], tagMode: 'all' });
    expect(parse(['invalidate', '--key-prefix', 'user:', '--limit', '50'])).toMatchObject({ keyPrefix: 'user:', limit: 50 });
    expect(parse(['invalidate', '--namespace', 'a', '--namespace', 'b'])).toMatchObject({ namespaces: ['a', 'b'], keys: [], tags: [] });
  });

  it.each([
    [['frob'], 'command'],
    [['keys'], 'keys'],
    [['keys', 'a', 'b'], 'keys'],
    [['inspect'], 'inspect'],
    [['stats', 'extra'], 'stats'],
    [['stats', '--bogus'], '--bogus'],
    [['stats', '--limit', '5'], '--limit'],
    [['keys', '*', '--limit', '0'], '--limit'],
    [['keys', '*', '--limit', '1.5'], '--limit'],
    [['keys', '*', '--tag', 'x'], '--tag'],
    [['stats', '--redis', 'http://x'], '--redis'],
    [['stats', '--redis', 'not a url'], '--redis'],
    [['stats', '--redis', 'redis://a:1', '--redis', 'redis://b:1'], '--redis'],
    [['stats', '--prefix', ''], '--prefix'],
    [['stats', '--timeout', 'soon'], '--timeout'],
    [['stats', '--timeout', '0'], '--timeout'],
    [['invalidate'], 'invalidate'],
    [['invalidate', '--key', 'a', '--tag', 'b'], '--tag'],
    [['invalidate', '--tag', 'a', '--key-prefix', 'b'], '--key-prefix'],
    [['invalidate', '--key', 'a', '--tag-mode', 'all'], '--tag-mode'],
    [['invalidate', '--tag', 'a', '--tag-mode', 'some'], '--tag-mode'],
    [['invalidate', '--key', 'a', '--limit', '3'], '--limit'],
    [['invalidate', '--tag', 'a', '--namespace', 'n'], '--namespace'],
    [['invalidate', '--key', 'a', '--secret', 's', '--secret-file', 'f'], '--secret'],
    [['invalidate', '--key', 'a', '--secret', ''], '--secret'],
    [['stats', '--redis'], '--redis'],
  ])('rejects %j naming %s', (argv, option) => {
    expect(optionOf(argv)).toContain(`"${option}"`);
  });
});

describe('CLI key helpers', () => {
  it('takes an internal key apart into namespaces, generations and key', () => {
    expect(keyParts('user:1')).toEqual({ namespaces: [], generations: [0], key: 'user:1' });
    expect(keyParts('3\u001cusers\u001f2\u001cposts\u001f7')).toEqual({ namespaces: ['users', 'posts'], generations: [3, 2, 0], key: '7' });
    expect(keyParts('users\u001f1\u001c42')).toEqual({ namespaces: ['users'], generations: [0, 1], key: '42' });
  });

  it('prints control characters visibly', () => {
    expect(printable('a\u001fb\u001c\u007f')).toBe('a\\u001fb\\u001c\\u007f');
  });
});
