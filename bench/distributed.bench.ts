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
 * (f2) Time to first value over two processes: distributed-stampede.bench.ts.
 */
import { Peer, monoElapsedNs, monoNow, type ObservedAt, type TimedCall } from '../test/support/peer-client.js';
import { sleep } from './fixtures.js';
import { collectGarbage, formatNs, formatRatio, percentile, printTable } from './harness.js';

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

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** The median of `values` (shared with (f2)). */
export function median(values: readonly number[]): number {
  return percentile(sorted(values), 0.5);
}

/** `min-max` of `values`, or the one value when they are equal (shared with (f2)). */
export function range(values: readonly number[]): string {
  if (values.length === 0) return '-';
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min === max ? String(min) : `${min}-${max}`;
}
