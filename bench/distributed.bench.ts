/**
 * (f) Several instances: two child processes (test/support/peer-process.ts), each a
 * `CacheStack([MemoryLayer, RedisLayer])` with the `RedisInvalidationBus` and the `RedisSingleFlightCoordinator`,
 * on the benchmark's redis-server, driven over IPC by this process.
 *
 * Every instant is taken inside the peers on CLOCK_MONOTONIC (`process.hrtime.bigint()`), one clock for every
 * process of the host, so an interval between two processes is exact and contains no IPC: the parent only asks
 * for the timestamps afterwards.
 *
 * (f1) Invalidation propagation: A writes a key that B holds in L1 (`stack.set` with a new value, or
 *      `stack.delete`); delay = the instant B's memory layer dropped the copy (a hook on its delete, called
 *      synchronously by the bus handler) − the instant A's call resolved (and − the instant it started).
 *      Baseline: a plain `PUBLISH` by A's ioredis client → the message handler of a plain subscriber in B.
 *      Reference: a plain `SET`, then `PUBLISH` (the least any write-then-announce does). Cases interleaved.
 * (f2) Time to first value, 100 concurrent cold gets, 20 ms loader: one process doing 100 concurrent
 *      `get(coldKey, loader)` (baseline) vs two processes doing 50 each, started at the same monotonic instant
 *      (each peer waits for it, then timestamps its own start and its first and last value). Fresh key per
 *      repetition; loader calls counted over both processes. The target compares, per repetition, the slower
 *      process's time to all its values (from its own start) with the one process's; the time from the earlier
 *      start to the last value (start skew included) is printed too.
 */
import { Peer, monoAfter, monoElapsedNs, monoNow, type ObservedAt, type TimedCall, type TimedLoad } from '../test/support/peer-client.js';
import { makeValue, sleep } from './fixtures.js';
import { collectGarbage, formatNs, formatRatio, percentile, printTable, type TargetResult } from './harness.js';

const PREFIX = 'bench-dist:';
/** How long a peer waits for a drop or a message before the sample counts as missed, in ms. */
const OBSERVE_TIMEOUT_MS = 1_000;
/** How long (f1) keeps re-reading a key until B holds it in L1 before it gives up, in ms (a busy machine is slow). */
const HOLD_TIMEOUT_MS = 5_000;

/** The two peer processes of the section. */
export interface DistributedPeers {
  readonly a: Peer;
  readonly b: Peer;
  /** Asks both to close and exit (killing a peer that does not within 5 s). */
  stop(): Promise<void>;
  /** Kills both at once (SIGKILL), synchronously: the last resort when this process exits. */
  kill(): void;
}

/** Starts the two peers on `redisUrl` (same prefix: one group). */
export async function startDistributedPeers(redisUrl: string): Promise<DistributedPeers> {
  const [a, b] = await Promise.all([
    Peer.start('A', { redisUrl, prefix: PREFIX, leaseSeconds: 5 }),
    Peer.start('B', { redisUrl, prefix: PREFIX, leaseSeconds: 5 }),
  ]);
  return {
    a,
    b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
    kill() {
      a.kill();
      b.kill();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (f1) invalidation propagation

export interface PropagationBenchOptions {
  /** Measured samples per case (after the warm-up rounds). */
  readonly samples: number;
  /** Samples per case per round. @default 25 */
  readonly perRound?: number;
}

interface PropagationCase {
  readonly name: string;
  /** One sample: arms B, writes on A, reads B's observation; `undefined` when B saw nothing in time. */
  readonly sample: (n: number) => Promise<{ call: TimedCall; seen: ObservedAt } | undefined>;
}

interface PropagationSeries {
  readonly name: string;
  readonly fromResolveNs: number[];
  readonly fromStartNs: number[];
  /** A's call itself: resolved − started. */
  readonly callNs: number[];
  missed: number;
  polled: number;
}

/** (f1): prints the table; no target of its own (the issue asks for the numbers). */
export async function benchPropagation(peers: DistributedPeers, options: PropagationBenchOptions): Promise<void> {
  const { a, b } = peers;
  const channel = `${PREFIX}bench-raw-channel`;
  await b.call({ op: 'rawSubscribe', channel });

  const raw = (setFirst: boolean): PropagationCase['sample'] =>
    async (n) => {
      const message = `f1-${setFirst ? 'set' : 'pub'}-${n}`;
      await b.call({ op: 'watchMessage', message });
      const call = await a.call<TimedCall>({ op: 'rawPublish', channel, message, setKey: setFirst ? `${PREFIX}bench-raw-key` : undefined });
      try {
        return { call, seen: await b.call<ObservedAt>({ op: 'messageTime', message, timeoutMs: OBSERVE_TIMEOUT_MS }) };
      } catch {
        return undefined;
      }
    };
  const viaStack = (kind: 'set' | 'delete'): PropagationCase['sample'] =>
    async (n) => {
      const key = `f1:${kind}:${n % 16}`;
      await a.call({ op: 'set', key, value: `old-${n}` });
      // B reads the key into its L1. A's set() resolves before its announcement reaches B, and a read of B still
      // in flight when it arrives is not kept in L1: read again until the copy is held.
      const since = monoNow();
      for (let attempt = 1; ; attempt++) {
        const read = await b.call({ op: 'get', key });
        if (read !== `old-${n}`) throw new Error(`(f1) B read ${JSON.stringify(read)} for ${key}, expected "old-${n}"`);
        if (await b.call<boolean>({ op: 'watchDrop', key })) break;
        if (monoElapsedNs(since, monoNow()) > HOLD_TIMEOUT_MS * 1e6) throw new Error(`(f1) B does not keep ${key} in L1 (${attempt} reads in ${HOLD_TIMEOUT_MS} ms)`);
        await sleep(1);
      }
      const call = await a.call<TimedCall>({ op: 'timedWrite', kind, key, value: kind === 'set' ? `new-${n}` : undefined });
      try {
        return { call, seen: await b.call<ObservedAt>({ op: 'dropTime', key, timeoutMs: OBSERVE_TIMEOUT_MS }) };
      } catch {
        return undefined;
      }
    };
  const cases: PropagationCase[] = [
    { name: 'raw ioredis PUBLISH (A) → message handler (B)', sample: raw(false) },
    { name: 'raw ioredis SET, then PUBLISH (A) → message handler (B)', sample: raw(true) },
    { name: 'stack.set(key, newValue) (A) → L1 copy dropped (B)', sample: viaStack('set') },
    { name: 'stack.delete(key) (A) → L1 copy dropped (B)', sample: viaStack('delete') },
  ];

  const perRound = Math.max(1, Math.min(options.perRound ?? 25, options.samples));
  const rounds = Math.ceil(options.samples / perRound);
  const warmupRounds = 2;
  const series: PropagationSeries[] = cases.map((c) => ({ name: c.name, fromResolveNs: [], fromStartNs: [], callNs: [], missed: 0, polled: 0 }));
  let n = 0;
  for (let round = 0; round < warmupRounds + rounds; round++) {
    const measured = round >= warmupRounds;
    for (let offset = 0; offset < cases.length; offset++) {
      const index = (round + offset) % cases.length;
      const into = series[index] as PropagationSeries;
      collectGarbage();
      for (let s = 0; s < perRound; s++) {
        const result = await (cases[index] as PropagationCase).sample(n++);
        if (!measured) continue;
        if (result === undefined) {
          into.missed++;
          continue;
        }
        if (result.seen.via === 'poll') into.polled++;
        into.fromResolveNs.push(monoElapsedNs(result.call.resolvedNs, result.seen.atNs));
        into.fromStartNs.push(monoElapsedNs(result.call.startNs, result.seen.atNs));
        into.callNs.push(monoElapsedNs(result.call.startNs, result.call.resolvedNs));
      }
    }
  }

  const baseline = series[0] as PropagationSeries;
  const baseP50 = median(baseline.fromStartNs);
  printTable(
    ['case', 'A call p50', 'p50 from resolve', 'p99 from resolve', 'p50 from call', 'p99 from call', 'x raw PUBLISH (p50 from call)', 'samples', 'missed'],
    series.map((s) => {
      const resolve = sorted(s.fromResolveNs);
      const start = sorted(s.fromStartNs);
      return [
        s.name,
        formatNs(median(s.callNs)),
        formatNs(percentile(resolve, 0.5)),
        formatNs(percentile(resolve, 0.99)),
        formatNs(percentile(start, 0.5)),
        formatNs(percentile(start, 0.99)),
        formatRatio(percentile(start, 0.5) / baseP50),
        String(start.length),
        String(s.missed),
      ];
    }),
  );
  const polled = series.reduce((sum, s) => sum + s.polled, 0);
  console.log(
    `  (${rounds} rounds of ${perRound} samples per case after ${warmupRounds} warm-up rounds; instants on CLOCK_MONOTONIC inside the peers` +
      `${polled > 0 ? `; ${polled} drops seen only by the 1 ms fallback poll` : ''})`,
  );
  const missed = series.reduce((sum, s) => sum + s.missed, 0);
  if (missed > 0) console.log(`  ${missed} writes were not observed by B within ${OBSERVE_TIMEOUT_MS} ms`);
}

// ---------------------------------------------------------------------------------------------------------------
// (f2) time to first value, 100 concurrent cold gets over one or two processes

const CALLERS = 100;
const LOADER_MS = 20;
/** Two-process time to all values may exceed the one-process figure by this much (the target), in ns. */
const TARGET_EXTRA_NS = 5_000_000;
/** How far ahead of now the common start instant is set (covers the IPC delivery), in ns. */
const START_LEAD_NS = 5_000_000;

export interface DistributedStampedeBenchOptions {
  /** Measured repetitions (after 2 warm-up repetitions), a fresh key each. */
  readonly repetitions: number;
}

interface LoadSeries {
  readonly name: string;
  readonly firstNs: number[];
  readonly allNs: number[];
}

/** (f2): prints the table and returns the target. */
export async function benchDistributedStampede(peers: DistributedPeers, options: DistributedStampedeBenchOptions): Promise<TargetResult[]> {
  const { a, b } = peers;
  const value = makeValue();
  const single: LoadSeries = { name: `one process (A): ${CALLERS} concurrent gets (baseline)`, firstNs: [], allNs: [] };
  const leader: LoadSeries = { name: `two processes: the loading process, ${CALLERS / 2} gets`, firstNs: [], allNs: [] };
  const follower: LoadSeries = { name: `two processes: the other process, ${CALLERS / 2} gets`, firstNs: [], allNs: [] };
  const slower: LoadSeries = { name: 'two processes: the slower one (target)', firstNs: [], allNs: [] };
  const both: LoadSeries = { name: 'two processes: the earlier start → the last value', firstNs: [], allNs: [] };
  const singleCalls: number[] = [];
  const pairCalls: number[] = [];
  const skewNs: number[] = [];
  /** The other process's last value − the loading process's last value (the fill notice and one L2 read). */
  const lagNs: number[] = [];
  let mismatches = 0;
  const warmup = 2;

  const runSingle = async (key: string, measured: boolean): Promise<void> => {
    const startAtNs = monoAfter(monoNow(), START_LEAD_NS);
    const t = await a.call<TimedLoad>({ op: 'loadTimed', key, count: CALLERS, delayMs: LOADER_MS, value, startAtNs });
    if (!t.allMatch) mismatches++;
    if (!measured) return;
    single.firstNs.push(monoElapsedNs(t.startNs, t.firstNs));
    single.allNs.push(monoElapsedNs(t.startNs, t.lastNs));
    singleCalls.push(t.loaderCalls);
  };
  const runPair = async (key: string, measured: boolean): Promise<void> => {
    const startAtNs = monoAfter(monoNow(), START_LEAD_NS);
    const request = { op: 'loadTimed', key, count: CALLERS / 2, delayMs: LOADER_MS, value, startAtNs } as const;
    const [ta, tb] = await Promise.all([a.call<TimedLoad>(request), b.call<TimedLoad>(request)]);
    if (!ta.allMatch || !tb.allMatch) mismatches++;
    if (!measured) return;
    // The loading process is the one whose loader ran (A when neither or both did).
    const [lead, follow] = tb.loaderCalls > ta.loaderCalls ? [tb, ta] : [ta, tb];
    leader.firstNs.push(monoElapsedNs(lead.startNs, lead.firstNs));
    leader.allNs.push(monoElapsedNs(lead.startNs, lead.lastNs));
    follower.firstNs.push(monoElapsedNs(follow.startNs, follow.firstNs));
    follower.allNs.push(monoElapsedNs(follow.startNs, follow.lastNs));
    slower.firstNs.push(Math.max(monoElapsedNs(ta.startNs, ta.firstNs), monoElapsedNs(tb.startNs, tb.firstNs)));
    slower.allNs.push(Math.max(monoElapsedNs(ta.startNs, ta.lastNs), monoElapsedNs(tb.startNs, tb.lastNs)));
    const earlier = monoElapsedNs(ta.startNs, tb.startNs) >= 0 ? ta.startNs : tb.startNs;
    const firstAt = monoElapsedNs(ta.firstNs, tb.firstNs) >= 0 ? ta.firstNs : tb.firstNs;
    const lastAt = monoElapsedNs(ta.lastNs, tb.lastNs) >= 0 ? tb.lastNs : ta.lastNs;
    both.firstNs.push(monoElapsedNs(earlier, firstAt));
    both.allNs.push(monoElapsedNs(earlier, lastAt));
    skewNs.push(Math.abs(monoElapsedNs(ta.startNs, tb.startNs)));
    lagNs.push(monoElapsedNs(lead.lastNs, follow.lastNs));
    pairCalls.push(ta.loaderCalls + tb.loaderCalls);
  };

  for (let rep = -warmup; rep < options.repetitions; rep++) {
    const measured = rep >= 0;
    const runs = [
      () => runSingle(`f2:${rep + warmup}:single`, measured),
      () => runPair(`f2:${rep + warmup}:pair`, measured),
    ];
    if ((rep + warmup) % 2 === 1) runs.reverse();
    for (const run of runs) {
      collectGarbage();
      await run();
    }
  }
  if (mismatches > 0) throw new Error(`(f2) ${mismatches} repetitions returned a value other than the loader's`);

  const singleAll = median(single.allNs);
  printTable(
    ['case', 'p50 first value', 'p50 all values', 'max all values', 'x one process (p50 all)', 'loader calls/rep'],
    [single, leader, follower, slower, both].map((s) => [
      s.name,
      formatNs(median(s.firstNs)),
      formatNs(median(s.allNs)),
      formatNs(Math.max(...s.allNs)),
      formatRatio(median(s.allNs) / singleAll),
      s === single ? range(singleCalls) : s === slower ? range(pairCalls) : '-',
    ]),
  );
  console.log(
    `  (${options.repetitions} repetitions, ${LOADER_MS} ms loader, fresh key each; times from each process's own start unless noted;\n` +
      `   start skew between the two processes p50 ${formatNs(median(skewNs))}, max ${formatNs(Math.max(...skewNs))}; ` +
      `the other process's last value came p50 ${formatNs(median(lagNs))} (max ${formatNs(Math.max(...lagNs))}) after the loading process's)`,
  );

  const pairAll = median(slower.allNs);
  const extra = pairAll - singleAll;
  const calls = [...singleCalls, ...pairCalls];
  const onePerRep = calls.every((c) => c === 1);
  return [
    {
      target: `two processes x ${CALLERS / 2} concurrent cold gets (${LOADER_MS} ms loader) have all values within 5 ms of one process x ${CALLERS}, 1 loader call`,
      measured:
        `p50 ${formatNs(pairAll)} vs ${formatNs(singleAll)} (${extra >= 0 ? '+' : ''}${formatNs(extra)}), ` +
        `${pairCalls.reduce((sum, c) => sum + c, 0)} loader calls in ${pairCalls.length} two-process repetitions ` +
        `(${singleCalls.reduce((sum, c) => sum + c, 0)} in ${singleCalls.length} one-process)`,
      pass: extra <= TARGET_EXTRA_NS && onePerRep,
    },
  ];
}

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function median(values: readonly number[]): number {
  return percentile(sorted(values), 0.5);
}

function range(values: readonly number[]): string {
  if (values.length === 0) return '-';
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min === max ? String(min) : `${min}-${max}`;
}
