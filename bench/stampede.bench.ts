/**
 * (c) Stampede: 100 concurrent `stack.get(coldKey, loader)` with a 20 ms loader (a real timer). Each
 * repetition uses a fresh key; measured: wall time until all 100 callers have their value, and the number
 * of loader calls (must be 1). The baseline is the ideal: 100 callers awaiting one shared 20 ms promise.
 */
import { Redis } from 'ioredis';
import { CacheStack, MemoryLayer, RedisLayer, type CacheLayer } from '../lib/index.js';
import { makeValue, sleep, type BenchValue } from './fixtures.js';
import { collectGarbage, formatNs, formatRatio, percentile, printTable, type TargetResult } from './harness.js';

const CALLERS = 100;
const LOADER_MS = 20;

export interface StampedeBenchOptions {
  readonly repetitions: number;
  /** When set, a second stack (MemoryLayer + RedisLayer) is measured too. */
  readonly redisPort: number | undefined;
}

interface Series {
  readonly name: string;
  readonly wallNs: number[];
  readonly loaderCalls: number[];
  /** Redis commands issued per repetition (read outside the timed window), when the stack has a Redis layer. */
  readonly redisCommands: number[];
  /** The commands of the last measured repetition by name, e.g. `get 1, set 1`. */
  lastCommands?: string;
}

export async function benchStampede(options: StampedeBenchOptions): Promise<TargetResult[]> {
  const value = makeValue();
  const client =
    options.redisPort === undefined
      ? undefined
      : new Redis({ host: '127.0.0.1', port: options.redisPort, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client?.connect();
  try {
    const stacks: { name: string; redis: boolean; make: () => CacheLayer[] }[] = [
      { name: 'CacheStack [MemoryLayer]', redis: false, make: () => [new MemoryLayer({ maxSize: 10_000 })] },
    ];
    if (client !== undefined) {
      stacks.push({
        name: 'CacheStack [MemoryLayer, RedisLayer]',
        redis: true,
        make: () => [new MemoryLayer({ maxSize: 10_000 }), new RedisLayer({ client, prefix: 'bench-stampede:' })],
      });
    }

    const baseline: Series = {
      name: `ideal: ${CALLERS} awaits of one shared ${LOADER_MS} ms promise`,
      wallNs: [],
      loaderCalls: [],
      redisCommands: [],
    };
    const series: Series[] = stacks.map((s) => ({ name: s.name, wallNs: [], loaderCalls: [], redisCommands: [] }));
    const built = stacks.map((s) => new CacheStack(s.make(), { ttl: '1h' }));
    const warmup = 2;

    // Interleaved: each repetition runs the baseline and every stack once, with fresh keys.
    for (let rep = -warmup; rep < options.repetitions; rep++) {
      collectGarbage();
      const ideal = await timeIdeal(value);
      if (rep >= 0) {
        baseline.wallNs.push(ideal);
        baseline.loaderCalls.push(1);
      }
      for (let i = 0; i < built.length; i++) {
        collectGarbage();
        const stack = built[i] as CacheStack;
        const key = `cold:${process.pid}:${rep + warmup}:${i}`;
        let calls = 0;
        const loader = async (): Promise<BenchValue> => {
          calls++;
          await sleep(LOADER_MS);
          return value;
        };
        const withRedis = client !== undefined && (stacks[i] as { redis: boolean }).redis;
        const commandsBefore = withRedis ? await commandCounts(client) : undefined;
        const start = process.hrtime.bigint();
        const answers = await Promise.all(Array.from({ length: CALLERS }, () => stack.get(key, loader)));
        const wall = Number(process.hrtime.bigint() - start);
        if (!answers.every((a) => a?.id === value.id)) throw new Error(`stampede: a caller did not get the value (${key})`);
        const used = commandsBefore === undefined ? undefined : commandsUsed(commandsBefore, await commandCounts(client as Redis));
        if (rep >= 0) {
          (series[i] as Series).wallNs.push(wall);
          (series[i] as Series).loaderCalls.push(calls);
          if (used !== undefined) {
            (series[i] as Series).redisCommands.push(used.total);
            (series[i] as Series).lastCommands = used.names;
          }
        }
      }
    }
    await Promise.all(built.map((s) => s.close()));

    const idealP50 = median(baseline.wallNs);
    printTable(
      ['case', 'p50 wall', 'max wall', 'x ideal', 'loader calls/rep', 'Redis cmds/rep'],
      [baseline, ...series].map((s) => [
        s.name,
        formatNs(median(s.wallNs)),
        formatNs(Math.max(...s.wallNs)),
        formatRatio(median(s.wallNs) / idealP50),
        range(s.loaderCalls),
        s.redisCommands.length === 0 ? '-' : range(s.redisCommands),
      ]),
    );
    console.log(`  (${options.repetitions} repetitions of ${CALLERS} concurrent cold gets, ${LOADER_MS} ms loader)`);
    for (const s of series) if (s.lastCommands !== undefined) console.log(`  Redis commands of the last repetition, ${s.name}: ${s.lastCommands} (INFO commandstats: a script's own calls count too)`);

    return series.map((s) => {
      const p50 = median(s.wallNs);
      const calls = s.loaderCalls.reduce((sum, c) => sum + c, 0);
      const onePerRep = s.loaderCalls.every((c) => c === 1);
      return {
        target: `${CALLERS} concurrent cold gets with a ${LOADER_MS} ms loader finish within 25 ms, 1 loader call [${s.name}]`,
        measured: `p50 ${formatNs(p50)} (ideal ${formatNs(idealP50)}), ${calls} loader calls in ${s.loaderCalls.length} repetitions`,
        pass: p50 <= 25_000_000 && onePerRep,
      };
    });
  } finally {
    client?.disconnect();
  }
}

async function timeIdeal(value: BenchValue): Promise<number> {
  const start = process.hrtime.bigint();
  const shared = sleep(LOADER_MS).then(() => value);
  await Promise.all(Array.from({ length: CALLERS }, async () => shared));
  return Number(process.hrtime.bigint() - start);
}

/** Commands the server has executed so far by name (INFO commandstats), the INFO calls included. */
async function commandCounts(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  const counts = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(match[1] as string, Number(match[2]));
  return counts;
}

/** The commands run between two {@link commandCounts}, without the INFO that took the first one. */
function commandsUsed(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): { total: number; names: string } {
  const used: string[] = [];
  let total = 0;
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (delta <= 0) continue;
    total += delta;
    used.push(`${name} ${delta}`);
  }
  return { total, names: used.sort().join(', ') };
}

function range(values: readonly number[]): string {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min === max ? String(min) : `${min}-${max}`;
}

function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 0.5);
}
