/**
 * The command line of `npx nestjs-layercache`: `node:util` parseArgs (no CLI framework), one `CliCommand` per
 * run. Every bad input throws an `InvalidOptionError` naming the option (exit code 2). Hard parts: `--prefix` is
 * the Redis key prefix (as in `RedisLayer`), so invalidation by key prefix is `--key-prefix`; the bus secret is
 * read from `LAYERCACHE_SECRET` or `--secret-file` (argv is visible to every user of the host), `--secret` only
 * as a last resort.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toMilliseconds } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';

/** The commands. */
export type CliCommandName = 'stats' | 'keys' | 'inspect' | 'invalidate';

/** What every command shares. */
export interface CliConnectionSettings {
  /** Redis URLs: one server, or the startup nodes of a Cluster (`cluster`). */
  readonly urls: readonly string[];
  readonly cluster: boolean;
  /** The `RedisLayer` prefix of the application. */
  readonly prefix: string;
  /** Longest wait for the connection and for each command, in milliseconds. */
  readonly timeoutMs: number;
}

/** One parsed command line. */
export interface CliCommand {
  readonly name: CliCommandName;
  readonly connection: CliConnectionSettings;
  readonly json: boolean;
  /** `keys`: the glob (`*`, `?`); `inspect`: the user key. */
  readonly argument: string | undefined;
  /** Nested namespaces, outermost first (`--namespace a --namespace b` is `a` → `b`). */
  readonly namespaces: readonly string[];
  /** `keys` and `invalidate --key-prefix`: the most keys listed / deleted. */
  readonly limit: number | undefined;
  readonly hashLongKeys: boolean;
  /** `invalidate`: what to invalidate. */
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly tagMode: 'any' | 'all';
  readonly keyPrefix: string | undefined;
  /** `invalidate`: the bus secret (`LAYERCACHE_SECRET`, `--secret-file`, `--secret`). */
  readonly secret: string | undefined;
  /** Warnings about the command line itself (e.g. a secret on argv), printed on stderr. */
  readonly warnings: readonly string[];
}

/** What `--help` prints. */
export const CLI_USAGE = `Usage: nestjs-layercache <command> [options]

Commands:
  stats                      what Redis holds for the cache: entries, namespaces, tag records, generations,
                             locks and leases, bus subscribers, server memory
  keys <pattern>             entry keys matching a glob (* any run, ? one character), by SCAN
  inspect <key>              one entry: state, remaining windows, tags (and whether they reject it), version, size
  invalidate                 through the library's protocol (peers' in-process copies are dropped via the bus):
    --key <key>                delete keys (repeatable)
    --tag <tag>                invalidate tags (repeatable; --tag-mode all: only entries carrying all of them)
    --key-prefix <p>           delete the keys starting with <p> (SCAN; nothing when more than --limit match)
    --namespace <n>            alone: the namespace's next generation (O(1), every key of it at once)

Options:
  --redis <url>              Redis URL (repeatable with --cluster)  [env LAYERCACHE_REDIS_URL, default redis://127.0.0.1:6379]
  --cluster                  the URLs are startup nodes of a Redis Cluster
  --prefix <p>               the application's RedisLayer prefix  [env LAYERCACHE_PREFIX, default lc:]
  --namespace <n>            the namespace of the key / pattern (repeatable: nested namespaces, outermost first)
  --limit <n>                keys: most keys listed (default 1000); invalidate --key-prefix: most keys deleted (default 10000)
  --hash-long-keys           keys over 1024 characters are hashed (the stack's hashLongKeys)
  --secret-file <path>       the bus secret (distributed.secret), read from a file  [env LAYERCACHE_SECRET]
  --timeout <duration>       connection and command timeout (default 5s)
  --json                     one JSON document on stdout
  -h, --help                 this text

Exit codes: 0 done, 1 not found (inspect), 2 usage error, 3 Redis unreachable or failing.`;

const OPTIONS = {
  redis: { type: 'string', multiple: true },
  cluster: { type: 'boolean' },
  prefix: { type: 'string' },
  namespace: { type: 'string', multiple: true },
  limit: { type: 'string' },
  'hash-long-keys': { type: 'boolean' },
  key: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  'tag-mode': { type: 'string' },
  'key-prefix': { type: 'string' },
  secret: { type: 'string' },
  'secret-file': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMANDS: readonly CliCommandName[] = ['stats', 'keys', 'inspect', 'invalidate'];

/** Options each command accepts besides the connection ones and `--json`. */
const COMMAND_OPTIONS: Readonly<Record<CliCommandName, readonly string[]>> = {
  stats: [],
  keys: ['namespace', 'limit'],
  inspect: ['namespace', 'hash-long-keys'],
  invalidate: ['namespace', 'limit', 'hash-long-keys', 'key', 'tag', 'tag-mode', 'key-prefix', 'secret', 'secret-file'],
};
const COMMON_OPTIONS = new Set(['redis', 'cluster', 'prefix', 'timeout', 'json', 'help']);

/** `--help` (or no command at all) was asked for. */
export const HELP = Symbol('help');

/**
 * Parses `argv` (without `node` and the script). `env` supplies `LAYERCACHE_REDIS_URL`, `LAYERCACHE_PREFIX` and
 * `LAYERCACHE_SECRET`.
 * @throws InvalidOptionError naming the bad option or argument.
 */
export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand | typeof HELP {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const option = /'(-[^' ]+)[^']*'/.exec(message)?.[1] ?? 'arguments';
    throw new InvalidOptionError(option, message.replace(/\. To specify.*$/s, ''));
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0) return HELP;
  const name = positionals[0] as CliCommandName;
  if (!COMMANDS.includes(name)) throw new InvalidOptionError('command', `unknown command ${JSON.stringify(name)}; expected one of ${COMMANDS.join(', ')}`);
  const allowed = new Set([...COMMON_OPTIONS, ...COMMAND_OPTIONS[name]]);
  const stray = Object.keys(values).find((option) => !allowed.has(option));
  if (stray !== undefined) throw new InvalidOptionError(`--${stray}`, `does not apply to \`${name}\``);
  const argument = commandArgument(name, positionals.slice(1));
  const urls = values.redis ?? [env['LAYERCACHE_REDIS_URL'] ?? 'redis://127.0.0.1:6379'];
  for (const url of urls) checkUrl(url);
  if (urls.length > 1 && values.cluster !== true) throw new InvalidOptionError('--redis', 'given several times: add --cluster for the startup nodes of a Redis Cluster');
  const prefix = values.prefix ?? env['LAYERCACHE_PREFIX'] ?? 'lc:';
  if (prefix.length === 0) throw new InvalidOptionError('--prefix', 'expected a non-empty prefix');
  const timeout = values.timeout ?? '5s';
  const timeoutMs = toMilliseconds(/^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : timeout, '--timeout');
  if (!(timeoutMs >= 1)) throw new InvalidOptionError('--timeout', 'must be at least 1 ms');
  const warnings: string[] = [];
  const command: CliCommand = {
    name,
    connection: { urls, cluster: values.cluster === true, prefix, timeoutMs },
    json: values.json === true,
    argument,
    namespaces: values.namespace ?? [],
    limit: values.limit === undefined ? undefined : checkLimit(values.limit),
    hashLongKeys: values['hash-long-keys'] === true,
    keys: values.key ?? [],
    tags: values.tag ?? [],
    tagMode: checkTagMode(values['tag-mode']),
    keyPrefix: values['key-prefix'],
    secret: name === 'invalidate' ? readSecret(values.secret, values['secret-file'], env, warnings) : undefined,
    warnings,
  };
  if (name === 'invalidate') checkInvalidation(command, values['tag-mode'] !== undefined);
  return command;
}

function commandArgument(name: CliCommandName, rest: readonly string[]): string | undefined {
  const wanted = name === 'keys' ? 'a pattern' : name === 'inspect' ? 'a key' : undefined;
  if (wanted === undefined) {
    if (rest.length > 0) throw new InvalidOptionError(name, `takes no argument, got ${JSON.stringify(rest[0])}`);
    return undefined;
  }
  if (rest.length !== 1 || (rest[0] as string).length === 0) throw new InvalidOptionError(name, `expected ${wanted}: nestjs-layercache ${name} <${name === 'keys' ? 'pattern' : 'key'}>`);
  return rest[0];
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError('--redis', `expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new InvalidOptionError('--redis', `expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
}

function checkLimit(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(limit) || limit < 1) throw new InvalidOptionError('--limit', `expected a positive integer, got ${JSON.stringify(text)}`);
  return limit;
}

function checkTagMode(mode: string | undefined): 'any' | 'all' {
  if (mode === undefined || mode === 'any' || mode === 'all') return mode ?? 'any';
  throw new InvalidOptionError('--tag-mode', `expected any or all, got ${JSON.stringify(mode)}`);
}

/** The secret from `--secret-file`, else `LAYERCACHE_SECRET`, else `--secret` (with a warning: argv is public). */
function readSecret(option: string | undefined, file: string | undefined, env: Readonly<Record<string, string | undefined>>, warnings: string[]): string | undefined {
  if (option !== undefined && file !== undefined) throw new InvalidOptionError('--secret', 'give --secret or --secret-file, not both');
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InvalidOptionError('--secret-file', `cannot read ${JSON.stringify(file)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret.length === 0) throw new InvalidOptionError('--secret-file', `${JSON.stringify(file)} is empty`);
    return secret;
  }
  if (option !== undefined) {
    if (option.length === 0) throw new InvalidOptionError('--secret', 'expected a non-empty secret');
    warnings.push('--secret on the command line is visible to other users of this host (ps); prefer LAYERCACHE_SECRET or --secret-file');
    return option;
  }
  const fromEnv = env['LAYERCACHE_SECRET'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** `invalidate` takes exactly one of --key, --tag, --key-prefix, or a namespace alone. */
function checkInvalidation(command: CliCommand, tagModeGiven: boolean): void {
  const kinds = [command.keys.length > 0 && '--key', command.tags.length > 0 && '--tag', command.keyPrefix !== undefined && '--key-prefix'].filter(
    (kind): kind is string => kind !== false,
  );
  if (kinds.length > 1) throw new InvalidOptionError(kinds[1] as string, `give one of --key, --tag, --key-prefix per invalidation, not ${kinds.join(' and ')}`);
  if (kinds.length === 0 && command.namespaces.length === 0) {
    throw new InvalidOptionError('invalidate', 'expected what to invalidate: --key <key>, --tag <tag>, --key-prefix <prefix> or --namespace <name>');
  }
  if (tagModeGiven && command.tags.length === 0) throw new InvalidOptionError('--tag-mode', 'applies to --tag only');
  if (command.limit !== undefined && command.keyPrefix === undefined) throw new InvalidOptionError('--limit', 'applies to invalidate --key-prefix only');
  if (command.tags.length > 0 && command.namespaces.length > 0) throw new InvalidOptionError('--namespace', 'tags are shared by every namespace: drop --namespace with --tag');
}
