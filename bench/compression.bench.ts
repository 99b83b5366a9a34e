/**
 * (j) RedisLayer compression: one 20 KB JSON document (test/support/json-document.ts) stored with none / gzip /
 * brotli (/ zstd where the running Node has it), side by side in one run: the bytes Redis holds (STRLEN), the L2
 * hit latency (`stack.get` on a stack whose only layer is the RedisLayer: GET + inflate + decode), interleaved
 * against a raw GET of the uncompressed entry, and the write (`stack.set`: encode + compress + SET).
 * Hard part: each case must really read its own compressed entry — checked by the stored flags byte before timing.
 */
import { Redis } from 'ioredis';
import { CacheStack, RedisLayer, type CompressionAlgorithm } from '../lib/index.js';
import { zstdAvailable } from '../lib/core/entry-compression.js';
import { jsonDocument } from '../test/support/json-document.js';
import { byName, formatNs, formatRatio, printTable, runLatency, type LatencyCase, type TargetResult } from './harness.js';

const PREFIX = 'bench:compression:';
const FLAG_COMPRESSED = 8;

export interface CompressionBenchOptions {
  readonly port: number;
  readonly quick: boolean;
}

export async function benchCompression(options: CompressionBenchOptions): Promise<TargetResult[]> {
  const client = new Redis({ host: '127.0.0.1', port: options.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const stacks: CacheStack[] = [];
  try {
    const doc = jsonDocument(20_000);
    const algorithms: (CompressionAlgorithm | 'none')[] = ['none', 'gzip', 'brotli', ...(zstdAvailable() ? (['zstd'] as const) : [])];
    const stored = new Map<string, number>();
    const readCases: LatencyCase[] = [{ name: 'raw GET (none)', op: () => client.getBuffer(`${PREFIX}none`) }];
    const writeCases: LatencyCase[] = [];
    for (const algorithm of algorithms) {
      const layer = new RedisLayer({ client, prefix: PREFIX, ...(algorithm !== 'none' && { compression: algorithm }) });
      const stack = new CacheStack([layer], { ttl: '1h' });
      stacks.push(stack);
      await stack.set(algorithm, doc);
      const bytes = await client.getBuffer(`${PREFIX}${algorithm}`);
      const compressed = bytes !== null && ((bytes[3] as number) & FLAG_COMPRESSED) !== 0;
      if (bytes === null || compressed !== (algorithm !== 'none')) throw new Error(`(j) setup: the ${algorithm} entry is missing or not as written`);
      stored.set(algorithm, bytes.length);
      readCases.push({ name: `get ${algorithm}`, op: () => stack.get(algorithm) });
      writeCases.push({ name: `set ${algorithm}`, op: () => stack.set(`w:${algorithm}`, doc) });
    }
    console.log(`  document: ${JSON.stringify(doc).length} bytes as JSON; defaults: threshold 1 KiB, gzip level 6, brotli quality 5, zstd level 3`);
    if (!zstdAvailable()) console.log(`  zstd: not in this Node's zlib (${process.version}; needs 22.15+ / 23.8+), skipped`);
    const rounds = options.quick ? 6 : 30;
    const latency = { opsPerSlice: 100, rounds, warmupRounds: Math.max(2, Math.round(rounds / 10)) };
    const reads = await runLatency(readCases, latency);
    const writes = await runLatency(writeCases, latency);
    const none = stored.get('none') as number;
    const raw = byName(reads, 'raw GET (none)');
    const getNone = byName(reads, 'get none');
    printTable(
      ['compression', 'stored bytes', 'x none', 'hit p50', 'hit p99', 'hit p50 - none', 'set p50'],
      algorithms.map((algorithm) => {
        const hit = byName(reads, `get ${algorithm}`);
        const write = byName(writes, `set ${algorithm}`);
        const size = stored.get(algorithm) as number;
        return [algorithm, String(size), formatRatio(size / none), formatNs(hit.p50Ns), formatNs(hit.p99Ns), formatNs(hit.p50Ns - getNone.p50Ns), formatNs(write.p50Ns)];
      }),
    );
    console.log(`  (raw GET of the uncompressed entry: p50 ${formatNs(raw.p50Ns)}; ${raw.samples} sequential operations per case)`);

    const gzipBytes = stored.get('gzip') as number;
    const gzipHit = byName(reads, 'get gzip');
    return [
      {
        target: '(j) gzip stores a 20 KB JSON document in at most 30% of the uncompressed bytes',
        measured: `${gzipBytes} vs ${none} bytes (${formatRatio(gzipBytes / none)})`,
        pass: gzipBytes <= none * 0.3,
      },
      {
        target: '(j) an L2 hit with gzip costs at most 300 µs more (p50) than without compression',
        measured: `+${formatNs(gzipHit.p50Ns - getNone.p50Ns)} (${formatNs(gzipHit.p50Ns)} vs ${formatNs(getNone.p50Ns)})`,
        pass: gzipHit.p50Ns - getNone.p50Ns <= 300_000,
      },
    ];
  } finally {
    await Promise.all(stacks.map((stack) => stack.close()));
    client.disconnect();
  }
}
