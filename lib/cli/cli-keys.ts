/**
 * `keys <pattern>`: the entry keys of a namespace (the root without `--namespace`) at its current generation whose
 * key matches the glob of `invalidateByPattern` (`*`, `?`; control characters never match, so nested namespaces,
 * older generations and the library's own keys — tag store, locks, leases — are never listed). SCAN MATCH on the
 * server (every master of a Cluster), the exact check here, until more than `--limit` keys (default 1000) were
 * found: the output then says it was cut. Progress on stderr only when stderr is a terminal.
 */
import { globMatcher, toRedisGlob } from '../core/key-glob.js';
import { escapeGlob } from '../redis/redis-client.js';
import { CLI_EXIT, progressLine, type CliContext, type CliResult } from './cli-context.js';
import { printable, resolveNamespace } from './cli-keyspace.js';

/** Default of `--limit` for `keys`. */
export const DEFAULT_KEYS_LIMIT = 1000;
const SCAN_COUNT = 1000;

export async function runKeys(context: CliContext): Promise<CliResult> {
  const { command, connection, tagStore } = context;
  const pattern = command.argument as string;
  const limit = command.limit ?? DEFAULT_KEYS_LIMIT;
  const namespace = await resolveNamespace(tagStore, command.namespaces);
  const start = command.connection.prefix + namespace.prefix;
  const match = escapeGlob(start) + toRedisGlob(pattern);
  const matches = globMatcher(pattern);
  const found = new Set<string>();
  let scanned = 0;
  let calls = 0;
  let truncated = false;
  const progress = progressLine(context.io.stderr, !command.json);
  for (const node of connection.nodes()) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      calls++;
      scanned += keys.length;
      for (const key of keys) {
        if (!key.startsWith(start) || !matches(key.slice(start.length))) continue;
        if (found.size === limit) {
          truncated = true;
          break;
        }
        found.add(key.slice(start.length));
      }
      progress.update(`scanning: ${calls} SCAN calls, ${found.size} keys found`);
    } while (cursor !== '0' && !truncated);
    if (truncated) break;
  }
  progress.done();
  const keys = [...found].sort();
  const document = { pattern, namespaces: namespace.names, generations: namespace.generations, count: keys.length, limit, truncated, scanned, keys };
  const lines = keys.map(printable);
  if (truncated) context.io.stderr.write(`(stopped at --limit ${limit}: more keys match)\n`);
  return { exitCode: CLI_EXIT.ok, document, lines };
}
