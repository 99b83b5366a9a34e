/**
 * `stats`: what Redis alone can tell about the cache under a prefix, without the application. One SCAN of the
 * prefix (every master of a Cluster) sorts the keys into entries (per top-level namespace, memoized calls apart)
 * and the library's own keys (tag records, namespace generations, revalidation locks, load
 * leases); a sample of entries is read header-only (GETRANGE of the 56-byte envelope header, entry-codec.ts, and
 * STRLEN) for their states and sizes; PUBSUB NUMSUB counts the stacks subscribed to the invalidation bus and to
 * single-flight fill notices; INFO gives the server's memory, eviction policy and evictions.
 */
import { systemClock } from '../core/clock.js';
import { hasEnvelopeMagic } from '../core/entry-codec.js';
import { NAMESPACE_SEPARATOR } from '../core/keys.js';
import { escapeGlob, pipelineReplies } from '../redis/redis-client.js';
import { invalidationChannel } from '../redis/redis-invalidation-bus.options.js';
import { LOAD_CHANNEL_MARK, LOAD_KEY_MARK } from '../redis/redis-load.lease.js';
import { LOCK_KEY_MARK } from '../redis/redis-revalidation.lock.js';
import { tagKeyPrefix } from '../redis/redis-tag.store.js';
import { CLI_EXIT, humanBytes, progressLine, type CliContext, type CliResult } from './cli-context.js';
import { INTERNAL_KEY_MARK, printable } from './cli-keyspace.js';

/** Entries read header-only for states and sizes. */
const SAMPLE_SIZE = 200;
const SCAN_COUNT = 1000;
const HEADER_BYTES = 56;

export async function runStats(context: CliContext): Promise<CliResult> {
  const { command, connection } = context;
  const prefix = command.connection.prefix;
  const tags = tagKeyPrefix(prefix);
  const counts = { entries: 0, memoized: 0, tagRecords: 0, generations: 0, locks: 0, leases: 0, otherInternal: 0 };
  const namespaces = new Map<string, number>();
  const generationKeys: string[] = [];
  const sample: string[] = [];
  const progress = progressLine(context.io.stderr, !command.json);
  for (const node of connection.nodes()) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const key of keys) {
        const rest = key.slice(prefix.length);
        if (!rest.startsWith(INTERNAL_KEY_MARK)) {
          counts.entries++;
          if (rest.includes('\u001d')) counts.memoized++;
          const separator = rest.indexOf(NAMESPACE_SEPARATOR);
          // eslint-disable-next-line no-control-regex
          const space = separator < 0 ? '' : rest.slice(0, separator).replace(/^\d+\u001c/, '');
          namespaces.set(space, (namespaces.get(space) ?? 0) + 1);
          if (sample.length < SAMPLE_SIZE) sample.push(key);
        } else if (key.startsWith(`${tags}t:`)) counts.tagRecords++;
        else if (key.startsWith(`${tags}g:`)) {
          counts.generations++;
          if (generationKeys.length < 100) generationKeys.push(key);
        } else if (key.startsWith(tags)) continue;
        else if (key.startsWith(prefix + LOCK_KEY_MARK)) counts.locks++;
        else if (key.startsWith(prefix + LOAD_KEY_MARK)) counts.leases++;
        else counts.otherInternal++;
      }
      progress.update(`scanning: ${counts.entries} entries, ${counts.tagRecords} tag records`);
    } while (cursor !== '0');
  }
  progress.done();
  const [generations, sampled, bus, server] = await Promise.all([
    readGenerations(context, generationKeys, tags.length + 2),
    sampleEntries(context, sample),
    subscribers(context),
    serverInfo(context),
  ]);
  const byNamespace = Object.fromEntries([...namespaces].sort((a, b) => b[1] - a[1]));
  const document = { prefix, ...counts, namespaces: byNamespace, generationsBumped: generations, sample: sampled, bus, server };
  return { exitCode: CLI_EXIT.ok, document, lines: humanLines(document) };
}

/** The bumped scopes and their generations (at most 100). */
async function readGenerations(context: CliContext, keys: readonly string[], strip: number): Promise<Record<string, number>> {
  if (keys.length === 0) return {};
  const pipeline = context.connection.client.pipeline();
  for (const key of keys) pipeline.get(key);
  const values = pipelineReplies(await pipeline.exec()) as (string | null)[];
  const out: Record<string, number> = {};
  keys.forEach((key, i) => {
    const scope = key.slice(strip);
    out[scope === '' ? '(root)' : scope.slice(0, -1).split(NAMESPACE_SEPARATOR).join('/')] = Number(values[i] ?? 0);
  });
  return out;
}

/** States and sizes of the sampled entries, from their headers only. */
async function sampleEntries(context: CliContext, keys: readonly string[]): Promise<Record<string, number>> {
  const states = { sampled: keys.length, fresh: 0, stale: 0, errorWindow: 0, expired: 0, undecodable: 0, averageSize: 0, largestSize: 0 };
  if (keys.length === 0) return states;
  const client = context.connection.client;
  const replies = await Promise.all(
    keys.map(async (key) => {
      const [header, length] = await Promise.all([client.getrangeBuffer(key, 0, HEADER_BYTES - 1).catch(() => null), client.strlen(key).catch(() => 0)]);
      return { header, length };
    }),
  );
  const now = systemClock.now();
  let total = 0;
  for (const { header, length } of replies) {
    total += length;
    if (length > states.largestSize) states.largestSize = length;
    if (header === null || header.length < HEADER_BYTES || !hasEnvelopeMagic(header)) {
      states.undecodable++;
      continue;
    }
    if (now < header.readDoubleLE(12)) states.fresh++;
    else if (now < header.readDoubleLE(20)) states.stale++;
    else if (now < header.readDoubleLE(28)) states.errorWindow++;
    else states.expired++;
  }
  states.averageSize = Math.round(total / keys.length);
  return states;
}

/** Subscribers of the invalidation bus and of fill notices (summed over the masters of a Cluster). */
async function subscribers(context: CliContext): Promise<{ invalidationSubscribers: number; fillSubscribers: number }> {
  const prefix = context.command.connection.prefix;
  let invalidation = 0;
  let fill = 0;
  for (const node of context.connection.nodes()) {
    const reply = (await node.call('PUBSUB', 'NUMSUB', invalidationChannel(prefix), prefix + LOAD_CHANNEL_MARK)) as (string | number)[];
    invalidation += Number(reply[1] ?? 0);
    fill += Number(reply[3] ?? 0);
  }
  return { invalidationSubscribers: invalidation, fillSubscribers: fill };
}

/** The server's memory, eviction policy and keyspace counters (summed over the masters of a Cluster). */
async function serverInfo(context: CliContext): Promise<Record<string, string | number>> {
  const out = { nodes: 0, redisVersion: '', usedMemory: 0, maxMemory: 0, maxMemoryPolicy: '', evictedKeys: 0, expiredKeys: 0, keys: 0 };
  for (const node of context.connection.nodes()) {
    const info = parseInfo(await node.info());
    out.nodes++;
    out.redisVersion = info['redis_version'] ?? out.redisVersion;
    out.usedMemory += Number(info['used_memory'] ?? 0);
    out.maxMemory += Number(info['maxmemory'] ?? 0);
    out.maxMemoryPolicy = info['maxmemory_policy'] ?? out.maxMemoryPolicy;
    out.evictedKeys += Number(info['evicted_keys'] ?? 0);
    out.expiredKeys += Number(info['expired_keys'] ?? 0);
    out.keys += await node.dbsize();
  }
  return out;
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

function humanLines(document: Record<string, unknown>): string[] {
  const d = document as {
    prefix: string;
    entries: number;
    memoized: number;
    tagRecords: number;
    generations: number;
    locks: number;
    leases: number;
    otherInternal: number;
    namespaces: Record<string, number>;
    generationsBumped: Record<string, number>;
    sample: Record<string, number>;
    bus: { invalidationSubscribers: number; fillSubscribers: number };
    server: Record<string, string | number>;
  };
  const spaces = Object.entries(d.namespaces).slice(0, 10).map(([name, count]) => `${name === '' ? '(root)' : printable(name)} ${count}`);
  const s = d.sample;
  return [
    `prefix            ${printable(d.prefix)}`,
    `entries           ${d.entries} (${d.memoized} memoized calls)`,
    `namespaces        ${spaces.length === 0 ? 'none' : spaces.join(', ')}${Object.keys(d.namespaces).length > 10 ? ', …' : ''}`,
    `sample of ${s['sampled']}     fresh ${s['fresh']}, stale ${s['stale']}, error-window ${s['errorWindow']}, expired ${s['expired']}, undecodable ${s['undecodable']}; average ${humanBytes(s['averageSize'] ?? 0)}, largest ${humanBytes(s['largestSize'] ?? 0)}`,
    `tag records       ${d.tagRecords}`,
    `generations       ${Object.keys(d.generationsBumped).length === 0 ? 'none bumped' : Object.entries(d.generationsBumped).map(([scope, g]) => `${printable(scope)} ${g}`).join(', ')}`,
    `locks / leases    ${d.locks} revalidation locks, ${d.leases} load leases`,
    `bus subscribers   ${d.bus.invalidationSubscribers} on the invalidation bus, ${d.bus.fillSubscribers} on fill notices`,
    `redis             ${d.server['redisVersion']}, ${d.server['nodes']} node(s), ${humanBytes(Number(d.server['usedMemory']))} used${Number(d.server['maxMemory']) > 0 ? ` of ${humanBytes(Number(d.server['maxMemory']))}` : ' (no maxmemory)'}, policy ${d.server['maxMemoryPolicy']}, ${d.server['evictedKeys']} evicted, ${d.server['keys']} keys in the database`,
  ];
}
