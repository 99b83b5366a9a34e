/**
 * (g) Expiry spread of a burst: 10,000 keys written in one `setMany` on L1 + Redis, without and with
 * `ttlJitter: 0.1`, and the largest number of them whose Redis keys expire within any one second (from their
 * PTTLs, read back in one pipeline). Target (issue 13): at most 15% of them with jitter (without: all of them).
 *
 * Hard part: the PTTLs are read a few ms after the write, each a little later than the one before; the window
 * is a sliding one over the sorted expiry instants (read time + PTTL), so that drift cannot split one instant.
 */
import { Redis } from 'ioredis';
import { CacheStack, MemoryLayer, RedisLayer, type CacheStackOptions } from '../lib/index.js';
import { printTable, type TargetResult } from './harness.js';

const KEYS = 10_000;
const TTL_S = 100;
const PREFIX = 'bench:jitter:';

export interface JitterBenchOptions {
  readonly port: number;
}

export async function benchJitter(options: JitterBenchOptions): Promise<TargetResult[]> {
  const client = new Redis({ host: '127.0.0.1', port: options.port, maxRetriesPerRequest: 1 });
  try {
    const plain = await largestSecond(client, `${PREFIX}plain:`, { ttl: TTL_S });
    const jittered = await largestSecond(client, `${PREFIX}jittered:`, { ttl: TTL_S, ttlJitter: 0.1 });
    const share = (n: number): string => `${((n / KEYS) * 100).toFixed(1)}%`;
    printTable(
      ['10,000 keys in one setMany, ttl 100 s', 'most expiring within 1 s', 'share'],
      [
        ['without ttlJitter', String(plain), share(plain)],
        ['ttlJitter: 0.1', String(jittered), share(jittered)],
      ],
    );
    return [
      {
        target: '(g) ttlJitter 0.1: largest share of a 10,000-key burst expiring within one second <= 15%',
        measured: `${share(jittered)} (without jitter: ${share(plain)})`,
        pass: jittered <= KEYS * 0.15,
      },
    ];
  } finally {
    client.disconnect();
  }
}

/** Writes the burst under `prefix` and returns the largest number of keys expiring within one second. */
async function largestSecond(client: Redis, prefix: string, stackOptions: CacheStackOptions): Promise<number> {
  const stack = new CacheStack([new MemoryLayer({ maxSize: KEYS * 2 }), new RedisLayer({ client, prefix })], stackOptions);
  try {
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    await stack.setMany(keys.map((key) => ({ key, value: i32(key) })));
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.pttl(prefix + key);
    const readAt = Date.now();
    const replies = (await pipeline.exec()) ?? [];
    const expiries = replies.map(([error, ttl]) => {
      if (error !== null) throw error;
      return readAt + (ttl as number);
    });
    expiries.sort((a, b) => a - b);
    let most = 0;
    for (let start = 0, end = 0; start < expiries.length; start++) {
      while (end < expiries.length && (expiries[end] as number) < (expiries[start] as number) + 1000) end++;
      most = Math.max(most, end - start);
    }
    await client.unlink(...keys.map((key) => prefix + key));
    return most;
  } finally {
    await stack.close();
  }
}

function i32(key: string): number {
  return Number(key.slice(1));
}
