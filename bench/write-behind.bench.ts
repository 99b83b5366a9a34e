/**
 * (i) 1,000 sets per second for 10 s (2 s with --quick) on L1 + Redis, with `writeBehind` (flushInterval 100 ms)
 * and without: the Redis commands the sets cost (INFO commandstats delta: SETs, and every command), the write
 * round trips (without: one per set; with: one pipeline per flush, `writeBehind.batches`), and the callers'
 * p50 / p99 `set` latency. Two workloads: 1,000 distinct keys written in turn (no key is written twice within an
 * interval: write-behind saves round trips, not commands) and 50 hot keys (a key written again while queued is
 * replaced: one SET per key per flush).
 *
 * Open loop on the system clock: sets are started on schedule (one per millisecond) whether or not the previous
 * ones have resolved, as independent callers would; each set's latency is from its start to its resolution.
 * Each case has its own Redis prefix. Target (issue 14): with write-behind, at most one write round trip per 10
 * sets and a lower p50 set latency than without.
 */
import { Redis } from 'ioredis';
import { CacheStack, MemoryLayer, RedisLayer } from '../lib/index.js';
import { formatNs, percentile, printTable, type TargetResult } from './harness.js';

const RATE_PER_S = 1_000;

export interface WriteBehindBenchOptions {
  readonly port: number;
  readonly quick: boolean;
}

interface RunResult {
  readonly sets: number;
  readonly setCommands: number;
  readonly commands: number;
  readonly roundTrips: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
}

export async function benchWriteBehind(options: WriteBehindBenchOptions): Promise<TargetResult[]> {
  const seconds = options.quick ? 2 : 10;
  const client = new Redis({ host: '127.0.0.1', port: options.port, maxRetriesPerRequest: 1 });
  const info = new Redis({ host: '127.0.0.1', port: options.port, maxRetriesPerRequest: 1 });
  try {
    const rows: string[][] = [];
    const results: Record<string, RunResult> = {};
    for (const [workload, keys] of [['1,000 keys', 1_000], ['50 hot keys', 50]] as const) {
      for (const behind of [false, true]) {
        const r = await run(client, info, seconds, keys, behind);
        results[`${workload}/${behind}`] = r;
        rows.push([
          `${workload}, ${behind ? "writeBehind '100ms'" : 'without'}`,
          String(r.sets),
          String(r.setCommands),
          String(r.commands),
          String(r.roundTrips),
          formatNs(r.p50Ns),
          formatNs(r.p99Ns),
        ]);
      }
    }
    printTable([`${RATE_PER_S} sets/s for ${seconds} s`, 'sets', 'SET cmds', 'all cmds', 'write round trips', 'p50 set', 'p99 set'], rows);
    const on = results['1,000 keys/true'] as RunResult;
    const off = results['1,000 keys/false'] as RunResult;
    return [
      {
        target: '(i) writeBehind at 1,000 sets/s: at most one write round trip per 10 sets, p50 set latency below without',
        measured: `${on.roundTrips} round trips for ${on.sets} sets (without: ${off.roundTrips}); p50 ${formatNs(on.p50Ns)} vs ${formatNs(off.p50Ns)}`,
        pass: on.roundTrips * 10 <= on.sets && on.p50Ns < off.p50Ns,
      },
    ];
  } finally {
    client.disconnect();
    info.disconnect();
  }
}

/** Sets at `RATE_PER_S` for `seconds` over `keys` keys, then closes the stack (a write-behind stack flushes). */
async function run(client: Redis, info: Redis, seconds: number, keys: number, behind: boolean): Promise<RunResult> {
  const prefix = `bench:wb:${behind ? 'on' : 'off'}:${keys}:`;
  const stack = new CacheStack([new MemoryLayer(), new RedisLayer({ client, prefix })], {
    ttl: 60,
    ...(behind && { writeBehind: { flushInterval: '100ms' } }),
  });
  const total = seconds * RATE_PER_S;
  const latencies = new Float64Array(total);
  const before = await commandStats(info);
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let started = 0;
  while (started < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * RATE_PER_S) / 1_000) + 1);
    for (; started < due; started++) {
      const i = started;
      const t0 = process.hrtime.bigint();
      pending.push(stack.set(`k${i % keys}`, { i, payload: 'x'.repeat(64) }).then(() => void (latencies[i] = Number(process.hrtime.bigint() - t0))));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  await stack.close(); // flushes what is queued: its commands count too
  const metrics = stack.getMetrics();
  const after = await commandStats(info);
  const sorted = latencies.sort();
  await client.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end", 0, `${prefix}*`);
  return {
    sets: total,
    setCommands: after.set - before.set,
    // Minus the INFO call that read `after` itself.
    commands: after.all - before.all - 1,
    roundTrips: behind ? (metrics.writeBehind?.batches ?? 0) : total,
    p50Ns: percentile(sorted, 0.5),
    p99Ns: percentile(sorted, 0.99),
  };
}

/** SET calls and every command's calls so far (INFO commandstats). */
async function commandStats(info: Redis): Promise<{ set: number; all: number }> {
  const text = await info.info('commandstats');
  let set = 0;
  let all = 0;
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const calls = Number(match[2]);
    all += calls;
    if (match[1] === 'set') set = calls;
  }
  return { set, all };
}
