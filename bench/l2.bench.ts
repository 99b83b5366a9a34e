/**
 * (b) L2-only hits: a raw ioredis `getBuffer` of the stored bytes vs `stack.get(key)` on a stack whose
 * only layer is a RedisLayer (every get is a round trip plus decoding the envelope), interleaved, one
 * operation per sample against a private redis-server on loopback.
 */
import { Redis } from 'ioredis';
import { CacheStack, RedisLayer } from '../lib/index.js';
import { jsonBytes, makeValue, type BenchValue } from './fixtures.js';
import {
  byName,
  formatNs,
  formatRatio,
  printTable,
  runLatency,
  type LatencyCase,
  type LatencyResult,
  type TargetResult,
} from './harness.js';

const KEY = 'user:42';
const PREFIX = 'bench:';
const ENVELOPE_MAGIC = Buffer.from([0x4c, 0x43, 0x01]); // 'L' 'C' v1, see lib/core/entry-codec.ts

const CASE = {
  raw: 'await client.getBuffer(rawKey) (raw ioredis GET)',
  stack: 'await stack.get(key) L2 hit (RedisLayer only)',
} as const;

export interface L2BenchOptions {
  readonly port: number;
  readonly rounds: number;
}

export async function benchL2(options: L2BenchOptions): Promise<{ results: LatencyResult[]; targets: TargetResult[] }> {
  const client = new Redis({ host: '127.0.0.1', port: options.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const value = makeValue();
    const stack = new CacheStack([new RedisLayer({ client, prefix: PREFIX })], { ttl: '1h' });
    await stack.set(KEY, value);

    // The raw case reads exactly the bytes the layer wrote: find them instead of assuming the key format.
    const rawKey = await findEnvelopeKey(client);
    const bytes = await client.getBuffer(rawKey);
    const loaded = (await stack.get<BenchValue>(KEY))?.id;
    if (bytes === null || loaded !== value.id) throw new Error('L2 setup failed: the value is not readable back');
    console.log(
      `  value: ${jsonBytes(value)} bytes as JSON, ${bytes.length} bytes stored (envelope + msgpack) under ${JSON.stringify(rawKey)}`,
    );

    const cases: LatencyCase[] = [
      { name: CASE.raw, op: () => client.getBuffer(rawKey) },
      { name: CASE.stack, op: () => stack.get(KEY) },
    ];
    const results = await runLatency(cases, {
      opsPerSlice: 250,
      rounds: options.rounds,
      warmupRounds: Math.max(2, Math.round(options.rounds / 10)),
    });
    await stack.close();

    const raw = byName(results, CASE.raw);
    printTable(
      ['case', 'p50', 'p99', 'mean', 'p50 x raw'],
      results.map((r) => [r.name, formatNs(r.p50Ns), formatNs(r.p99Ns), formatNs(r.meanNs), formatRatio(r.p50Ns / raw.p50Ns)]),
    );
    console.log(`  (${raw.samples} sequential operations per case; baseline = the raw GET)`);

    const hit = byName(results, CASE.stack);
    const extra = hit.p50Ns - raw.p50Ns;
    const targets: TargetResult[] = [
      {
        target: 'L2-only hit p50 within 25 µs of a raw ioredis GET of the same bytes',
        measured: `+${formatNs(extra)} (${formatNs(hit.p50Ns)} vs ${formatNs(raw.p50Ns)}, ${formatRatio(hit.p50Ns / raw.p50Ns)})`,
        pass: extra <= 25_000,
      },
    ];
    return { results, targets };
  } finally {
    client.disconnect();
  }
}

async function findEnvelopeKey(client: Redis): Promise<string> {
  const keys = await client.keys(`${PREFIX}*`);
  for (const key of keys) {
    const bytes = await client.getBuffer(key).catch(() => null); // other types (tag store) answer WRONGTYPE
    if (bytes !== null && bytes.subarray(0, ENVELOPE_MAGIC.length).equals(ENVELOPE_MAGIC)) return key;
  }
  throw new Error(`no envelope found under ${PREFIX}* (keys: ${keys.join(', ')})`);
}
