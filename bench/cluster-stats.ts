/**
 * Helpers of section (p) (bench/cluster-tags.bench.ts): the commands each master of a Redis Cluster has served
 * (INFO commandstats, read on a plain connection per master), and a bounded-concurrency runner of async operations.
 *
 * Hard part: reading the counters is itself a command on each master. Every `INFO` call is left out of the
 * counts (`cmdstat_info`): the library never sends INFO, so what is counted is the library's (and ioredis') load.
 */
import { Redis } from 'ioredis';
import type { ClusterNodeAddress } from '../test/support/redis-cluster.js';

/** Calls per command name on one master, `info` excluded. */
export type CommandCounts = Map<string, number>;

/** Plain (non-cluster) connections to each master, to read its INFO commandstats. */
export class MasterStats {
  private readonly clients: Redis[];

  constructor(readonly nodes: readonly ClusterNodeAddress[]) {
    this.clients = nodes.map((node) => new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 1, lazyConnect: true }));
  }

  async connect(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.connect()));
  }

  /** `host:port` of each master, in the order of the counts. */
  get labels(): string[] {
    return this.nodes.map((node) => `${node.host}:${node.port}`);
  }

  /** The calls served so far by each master, per command (INFO itself excluded), in node order. */
  async read(): Promise<CommandCounts[]> {
    return Promise.all(this.clients.map(async (client) => parseCommandStats(await client.info('commandstats'))));
  }

  disconnect(): void {
    for (const client of this.clients) client.disconnect();
  }
}

/** `cmdstat_<name>:calls=<n>,...` lines as name → calls, `info` left out. */
export function parseCommandStats(text: string): CommandCounts {
  const counts: CommandCounts = new Map();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1] as string;
    if (name !== 'info') counts.set(name, Number(match[2]));
  }
  return counts;
}

/** What each master served between two readings (`after - before`), per command. */
export function countsBetween(before: readonly CommandCounts[], after: readonly CommandCounts[]): CommandCounts[] {
  return after.map((counts, i) => {
    const delta: CommandCounts = new Map();
    for (const [name, calls] of counts) {
      const served = calls - (before[i]?.get(name) ?? 0);
      if (served > 0) delta.set(name, served);
    }
    return delta;
  });
}

/** Adds `more` into `into` (per master, per command). */
export function addCounts(into: CommandCounts[], more: readonly CommandCounts[]): void {
  more.forEach((counts, i) => {
    const target = (into[i] ??= new Map());
    for (const [name, calls] of counts) target.set(name, (target.get(name) ?? 0) + calls);
  });
}

/** Every call of `counts`. */
export function totalOf(counts: CommandCounts): number {
  let total = 0;
  for (const calls of counts.values()) total += calls;
  return total;
}

/** The busiest master's index and its share (0..1) of all the calls in `perMaster`. */
export function busiest(perMaster: readonly CommandCounts[]): { index: number; share: number; total: number } {
  const totals = perMaster.map(totalOf);
  const total = totals.reduce((sum, n) => sum + n, 0);
  const index = totals.indexOf(Math.max(...totals));
  return { index, share: total === 0 ? Number.NaN : (totals[index] ?? 0) / total, total };
}

/** The `top` most called commands of `counts`, as `name n` text (`get 1200, hgetall 800`). */
export function topCommands(counts: CommandCounts, top = 4): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, calls]) => `${name} ${calls}`)
    .join(', ');
}

/**
 * Runs `op(i)` with at most `concurrency` in flight, `i` counting from 0, until `count` operations were started
 * or `until()` turns true (checked before each start). Resolves with the number of operations completed.
 */
export async function runBounded(
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  limits: { readonly count?: number; readonly until?: () => boolean },
): Promise<number> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while ((limits.count === undefined || next < limits.count) && !(limits.until?.() ?? false)) {
      await op(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
