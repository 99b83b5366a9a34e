/**
 * Benchmarks: `npm run bench` (node --expose-gc --import tsx bench/index.ts).
 *
 *   --quick     fewer rounds: a smoke run (every section runs, numbers are noisier), ~10-20 s
 *   --strict    exit with code 1 when a target FAILs (default: report only)
 *   --only=a,f  run only the listed sections (letters a-d, f-l, o, p; default: all)
 *
 * Starts its own redis-server on a free loopback port for the Redis cases and stops it at the end; without
 * a redis-server binary those cases are skipped with a message. Exit codes (run-guard.ts): 0 done, 1 a crash or a
 * FAIL under --strict or the watchdog, 2 a bad argument, 130/143 stopped by SIGINT/SIGTERM; the redis-server and
 * the peers of (f) are stopped on every one of them. Section (p) starts its own 3-master Redis Cluster (more
 * redis-servers, stopped at its end, and killed on any exit by test/support/redis-server.ts' exit hook).
 */
import { benchClusterTags } from './cluster-tags.bench.js';
import { benchCompression } from './compression.bench.js';
import { benchDecorators } from './decorators.bench.js';
import { benchDistributedStampede } from './distributed-stampede.bench.js';
import { benchDisk } from './disk.bench.js';
import { benchPropagation, startDistributedPeers } from './distributed.bench.js';
import { benchJitter } from './jitter.bench.js';
import { benchL1 } from './l1.bench.js';
import { benchL2 } from './l2.bench.js';
import { benchMetrics } from './metrics.bench.js';
import { benchRefreshAhead } from './refresh-ahead.bench.js';
import { benchWriteBehind } from './write-behind.bench.js';
import { redisServerAvailable as hasRedisServer, startRedisServer, type RedisServerHandle as BenchRedisServer } from '../test/support/redis-server.js';
import { benchStampede } from './stampede.bench.js';
import { benchTracing } from './tracing.bench.js';
import { printTargets, section, type TargetResult } from './harness.js';
import { parseArgs, runMain, UsageError, type RunGuard } from './run-guard.js';
import { cpus } from 'node:os';

const SECTIONS = ['a', 'b', 'c', 'd', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'o', 'p'];
/** The whole run is stopped past this (a hang, not a slow machine: a quick run takes ~10 s, a full one ~30 s here). */
const WATCHDOG_MS = { quick: 5 * 60_000, full: 20 * 60_000 };

async function main(guard: RunGuard): Promise<number> {
  const args = parseArgs(process.argv.slice(2), { flags: ['quick', 'strict'], options: ['only'] });
  const quick = args.flag('quick');
  const strict = args.flag('strict');
  const onlyArg = args.option('only');
  const only = onlyArg === undefined ? undefined : new Set(onlyArg.split(','));
  for (const letter of only ?? []) {
    if (!SECTIONS.includes(letter)) throw new UsageError(`--only: unknown section ${JSON.stringify(letter)} (sections: ${SECTIONS.join(', ')})`);
  }
  /** Whether section `letter` runs (see `--only`). */
  const runs = (letter: string): boolean => only === undefined || only.has(letter);
  guard.watchdog(quick ? WATCHDOG_MS.quick : WATCHDOG_MS.full);

  const started = Date.now();
  console.log(
    `nestjs-layercache benchmarks — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores` +
      `${quick ? ', --quick' : ''}${typeof (globalThis as { gc?: unknown }).gc === 'function' ? '' : ' (no --expose-gc)'}`,
  );
  const targets: TargetResult[] = [];

  if (runs('a')) {
    section('(a) L1 hit: interleaved, median ns per op (batches of 1,000 sequential ops)');
    targets.push(...(await benchL1({ rounds: quick ? 10 : 40 })).targets);
  }

  if (runs('o')) {
    section('(o) tracing (OpenTelemetry) off / on without an SDK / on with an SDK: L1 hit and miss, median ns per op');
    targets.push(...(await benchTracing({ rounds: quick ? 10 : 40 })));
  }

  if (runs('d')) {
    section('(d) @Cacheable L1 hit vs the same method undecorated, median ns per op');
    targets.push(...(await benchDecorators({ rounds: quick ? 10 : 40 })));
  }

  if (runs('l')) {
    section('(l) L1 hit with metrics, Prometheus and OpenTelemetry on vs off, median ns per op');
    targets.push(...(await benchMetrics({ rounds: quick ? 10 : 40 })));
  }

  if (runs('k')) {
    section('(k) DiskLayer hit of a 20 KB JSON document vs a raw fs.readFile of the same bytes, per-op latency');
    targets.push(...(await benchDisk({ rounds: quick ? 6 : 30 })));
  }

  let redis: BenchRedisServer | undefined;
  const redisCases = runs('b') || runs('c') || runs('f') || runs('g') || runs('h') || runs('i') || runs('j');
  if (redisCases && hasRedisServer()) {
    redis = await startRedisServer();
    console.log(`\n(redis-server started on 127.0.0.1:${redis.port})`);
  } else if (redisCases) {
    console.log('\nredis-server not found: skipping the Redis cases (install it: apt-get install -y redis-server)');
  }
  try {
    if (redis !== undefined && runs('b')) {
      section('(b) L2-only hit: interleaved, per-op latency');
      targets.push(...(await benchL2({ port: redis.port, rounds: quick ? 8 : 40 })).targets);
    }
    if (runs('c')) {
      section('(c) Stampede: 100 concurrent cold gets, 20 ms loader');
      targets.push(...(await benchStampede({ repetitions: quick ? 8 : 20, redisPort: redis?.port })));
    }
    if (redis !== undefined && runs('f')) {
      const peers = await startDistributedPeers(redis.url);
      // A peer does not exit when this process dies: kill both on any exit (stop() below is the orderly way).
      const untrack = guard.track(() => peers.kill());
      try {
        section('(f1) Invalidation propagation between two processes (A writes, B drops its L1 copy)');
        await benchPropagation(peers, { samples: quick ? 50 : 250 });
        section('(f2) Time to first value: 100 concurrent cold gets, 20 ms loader, one process vs two');
        targets.push(...(await benchDistributedStampede(peers, { repetitions: quick ? 8 : 20 })));
      } finally {
        await peers.stop();
        untrack();
      }
    }
    if (redis !== undefined && runs('g')) {
      section('(g) Expiry spread of a 10,000-key burst on L1 + Redis, with and without ttlJitter: 0.1');
      targets.push(...(await benchJitter({ port: redis.port })));
    }
    if (redis !== undefined && runs('h')) {
      section('(h) A hot key read steadily over 10 ttl periods on L1 + Redis, with and without refreshAhead: 0.8');
      targets.push(...(await benchRefreshAhead({ port: redis.port, quick })));
    }
    if (redis !== undefined && runs('i')) {
      section('(i) 1,000 sets/s on L1 + Redis, with and without writeBehind: Redis commands and set latency');
      targets.push(...(await benchWriteBehind({ port: redis.port, quick })));
    }
    if (redis !== undefined && runs('j')) {
      section('(j) RedisLayer compression: a 20 KB JSON document stored with none / gzip / brotli (/ zstd)');
      targets.push(...(await benchCompression({ port: redis.port, quick })));
    }
  } finally {
    await redis?.stop();
  }

  if (runs('p')) {
    section('(p) Tags on a 3-master Redis Cluster: tagged vs untagged L2 reads/s, busiest master of a mixed workload');
    if (hasRedisServer()) targets.push(...(await benchClusterTags({ quick })));
    else console.log('redis-server not found: skipping (p) (install it: apt-get install -y redis-server)');
  }

  section('Targets');
  printTargets(targets);
  const failed = targets.filter((t) => !t.pass).length;
  console.log(`\n${targets.length - failed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return strict && failed > 0 ? 1 : 0;
}

runMain('npm run bench', main);
