/**
 * `invalidate`: through the same protocol as the library, so peers' in-process copies go too. Builds a
 * `CacheStack` on one `RedisLayer` with a `RedisInvalidationBus` on the application's prefix (what the module's
 * `redis` shortcut builds, lib/module/stack-resources.factory.ts; the bus signs with the secret when one is
 * given) and calls `deleteMany`, `invalidateByTags`, `invalidateByPrefix` or `bumpGeneration` (a namespace alone:
 * O(1), what docs/distributed.md recommends over a scan). Hard part: the library never fails the caller for a
 * cache failure (a tag invalidation Redis did not take is queued, an announcement that could not be published is
 * counted), but a script must know: writes are `writePolicy: 'strict'`, and after the call the stack's counters
 * (layer errors, bus publish errors) are checked once its background work (the announcement) settled.
 */
import { InvalidationLimitError, InvalidOptionError } from '../core/errors.js';
import type { CacheLogger } from '../core/logger.js';
import { RedisInvalidationBus } from '../redis/redis-invalidation.bus.js';
import { RedisLayer } from '../redis/redis.layer.js';
import { CacheStack } from '../stack/cache-stack.js';
import { CLI_EXIT, type CliContext, type CliResult } from './cli-context.js';
import { CliConnectionError } from './cli-connection.js';
import { printable } from './cli-keyspace.js';

/** Default of `--limit` for `invalidate --key-prefix` (the stack's `invalidationLimit`). */
export const DEFAULT_INVALIDATE_LIMIT = 10_000;

export async function runInvalidate(context: CliContext): Promise<CliResult> {
  const { command, connection } = context;
  const prefix = command.connection.prefix;
  const warnings: string[] = [];
  const logger: CacheLogger = {
    warn: (message: string) => void warnings.push(message),
    error: (message: string) => void warnings.push(message),
    log: () => undefined,
  };
  const bus = new RedisInvalidationBus({ client: connection.client, prefix, logger, ...(command.secret !== undefined && { secret: command.secret }) });
  const stack = new CacheStack([new RedisLayer({ client: connection.client, prefix })], {
    invalidationBus: bus,
    writePolicy: 'strict',
    layerTimeout: command.connection.timeoutMs,
    logger,
  });
  try {
    await stack.ready();
    let view = stack;
    for (const name of command.namespaces) view = view.namespace(name);
    await stack.ready();
    // Our own bus is one of the subscribers.
    const peers = Math.max(0, (await subscriberCount(context, bus.channel)) - 1);
    let action: string;
    let result: Record<string, unknown>;
    if (command.keys.length > 0) {
      await view.deleteMany(command.keys);
      action = 'delete';
      result = { keys: command.keys };
    } else if (command.tags.length > 0) {
      await view.invalidateByTags(command.tags, command.tagMode);
      action = 'invalidate-tags';
      result = { tags: command.tags, mode: command.tagMode };
    } else if (command.keyPrefix !== undefined) {
      const limit = command.limit ?? DEFAULT_INVALIDATE_LIMIT;
      let deleted: number;
      try {
        deleted = await view.invalidateByPrefix(command.keyPrefix, { limit });
      } catch (error) {
        if (error instanceof InvalidationLimitError) throw new InvalidOptionError('--limit', `${error.message}; nothing was deleted (raise --limit, or invalidate by tag or namespace)`);
        throw error;
      }
      action = 'invalidate-prefix';
      result = { keyPrefix: command.keyPrefix, deleted, limit };
    } else {
      action = 'bump-generation';
      result = { generation: await view.bumpGeneration() };
    }
    await stack.idle();
    const metrics = stack.getMetrics();
    const layer = metrics.layers['redis'];
    const failures = (layer?.errors ?? 0) + (layer?.skipped ?? 0) + metrics.tagStore.errors;
    if (failures > 0) throw new CliConnectionError(`Redis did not take the invalidation (${failures} failed commands)${warnings.length > 0 ? `: ${warnings.join('; ')}` : ''}`);
    const published = metrics.bus?.published ?? 0;
    if ((metrics.bus?.publishErrors ?? 0) > 0) throw new CliConnectionError(`the invalidation was stored in Redis but not announced to the peers: ${warnings.join('; ')}`);
    const document = { action, namespaces: command.namespaces, ...result, announced: published > 0, messages: published, peers, signed: command.secret !== undefined, channel: bus.channel };
    return { exitCode: CLI_EXIT.ok, document, lines: humanLines(action, result, published, peers, command.namespaces) };
  } finally {
    await stack.close();
  }
}

/** Subscribers of `channel` (summed over the masters of a Cluster: a subscription lives on one node). */
async function subscriberCount(context: CliContext, channel: string): Promise<number> {
  let count = 0;
  for (const node of context.connection.nodes()) {
    const reply = (await node.call('PUBSUB', 'NUMSUB', channel)) as (string | number)[];
    count += Number(reply[1] ?? 0);
  }
  return count;
}

function humanLines(action: string, result: Record<string, unknown>, published: number, peers: number, namespaces: readonly string[]): string[] {
  const where = namespaces.length === 0 ? '' : ` in namespace ${namespaces.map(printable).join('/')}`;
  const what =
    action === 'delete'
      ? `deleted ${(result['keys'] as string[]).map(printable).join(', ')}${where}`
      : action === 'invalidate-tags'
        ? `invalidated tag${(result['tags'] as string[]).length > 1 ? 's' : ''} ${(result['tags'] as string[]).map(printable).join(', ')}${(result['tags'] as string[]).length > 1 ? ` (${String(result['mode'])})` : ''}`
        : action === 'invalidate-prefix'
          ? `deleted ${String(result['deleted'])} keys starting with ${printable(String(result['keyPrefix']))}${where}`
          : `moved ${namespaces.length === 0 ? 'the whole cache' : `namespace ${namespaces.map(printable).join('/')}`} to generation ${String(result['generation'])}`;
  return [what, `announced on the invalidation bus (${published} message${published === 1 ? '' : 's'}) to ${peers} subscribed instance${peers === 1 ? '' : 's'}`];
}
