/**
 * A child process of the DiskLayer multi-process spec: a `DiskLayer` on DISK_DIR that writes, reads and deletes
 * the keys k0..k(DISK_KEYS - 1) for DISK_ROUNDS rounds, values of DISK_BYTES+ bytes tagged with DISK_WRITER, and
 * reports over IPC what it read: whole values, misses, and anything else (a torn or undecodable read).
 */
import { undecodableReason } from '../../lib/core/entry-codec.js';
import { systemClock } from '../../lib/core/clock.js';
import { consoleLogger } from '../../lib/core/logger.js';
import { DiskLayer } from '../../lib/layers/disk.layer.js';

/** What a peer reports when it is done. */
export interface DiskPeerReport {
  readonly whole: number;
  readonly misses: number;
  readonly broken: string[];
  readonly writes: number;
}

/** A value whose every part can be checked: `fill` is `char` repeated `length` times. */
export interface PeerValue {
  readonly writer: string;
  readonly round: number;
  readonly length: number;
  readonly fill: string;
}

/** Whether `value` is a whole value of some writer. */
export function isWhole(value: unknown): value is PeerValue {
  const v = value as PeerValue | undefined;
  return typeof v?.fill === 'string' && v.fill.length === v.length && v.fill === v.writer.repeat(v.length);
}

async function main(): Promise<void> {
  const writer = process.env.DISK_WRITER as string;
  const keys = Number(process.env.DISK_KEYS);
  const rounds = Number(process.env.DISK_ROUNDS);
  const bytes = Number(process.env.DISK_BYTES);
  const layer = new DiskLayer({ directory: process.env.DISK_DIR as string });
  layer.attach({ clock: systemClock, logger: consoleLogger });
  const report = { whole: 0, misses: 0, broken: [] as string[], writes: 0 };
  for (let round = 0; round < rounds; round++) {
    const key = `k${round % keys}`;
    const length = bytes + ((round * 7919) % 4096);
    const now = systemClock.now();
    const value: PeerValue = { writer, round, length, fill: writer.repeat(length) };
    const entry = { value, createdAt: now, freshUntil: now + 60_000, staleUntil: now + 60_000, errorUntil: now + 60_000, tags: undefined, tagVersions: undefined, version: now * 1000 + round };
    if (round % 10 === 9) await layer.delete([key]);
    else await layer.set(key, entry, 60_000);
    report.writes++;
    const got = await layer.getMany([`k${(round + 1) % keys}`, `k${(round + 2) % keys}`]);
    for (const read of got) {
      if (read === undefined) report.misses++;
      else if (undecodableReason(read) === undefined && isWhole(read.value)) report.whole++;
      else report.broken.push(undecodableReason(read) ?? JSON.stringify(read.value).slice(0, 100));
    }
  }
  await layer.close();
  process.send?.(report);
}

if (process.env.DISK_WRITER !== undefined) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
