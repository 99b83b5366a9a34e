/**
 * (f2) Time to first value, 100 concurrent cold gets, 20 ms loader, on the two peers of (f) (distributed.bench.ts:
 * how they run, and the CLOCK_MONOTONIC instants taken inside them): one process doing 100 concurrent
 * `get(coldKey, loader)` (baseline) vs two processes doing 50 each, started at the same monotonic instant
 * (each peer waits for it, then timestamps its own start and its first and last value). Fresh key per
 * repetition; loader calls counted over both processes. The target compares, per repetition, the slower
 * process's time to all its values (from its own start) with the one process's; the time from the earlier
 * start to the last value (start skew included) is printed too.
 */
import { monoAfter, monoElapsedNs, monoNow, type TimedLoad } from '../test/support/peer-client.js';
import { makeValue } from './fixtures.js';
import { collectGarbage, formatNs, formatRatio, printTable, type TargetResult } from './harness.js';
import { median, range, type DistributedPeers } from './distributed.bench.js';

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
