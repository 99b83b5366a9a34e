import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../lib/core/clock.js';
import { consoleLogger } from '../../lib/core/logger.js';
import { DiskLayer } from '../../lib/layers/disk.layer.js';
import { isWhole, type DiskPeerReport } from '../support/disk-peer.js';

const KEYS = 8;

/** Runs a writer process on `directory`; resolves with its report. */
function runPeer(directory: string, writer: string, rounds: number): Promise<DiskPeerReport> {
  const here = dirname(fileURLToPath(import.meta.url));
  const child = fork(join(here, '../support/disk-peer.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DISK_DIR: directory, DISK_WRITER: writer, DISK_KEYS: String(KEYS), DISK_ROUNDS: String(rounds), DISK_BYTES: '20000' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let report: DiskPeerReport | undefined;
    child.on('message', (message) => (report = message as DiskPeerReport));
    child.on('error', reject);
    child.on('exit', (code) => (report === undefined ? reject(new Error(`peer ${writer} exited with ${String(code)}`)) : resolve(report)));
  });
}

describe('DiskLayer shared by processes of one host', () => {
  let directory: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'lc-disk-mp-'));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('two processes writing, deleting and reading the same keys never read a torn value, only whole ones or misses', async () => {
    const [a, b] = await Promise.all([runPeer(directory, 'a', 1500), runPeer(directory, 'b', 1500)]);
    for (const report of [a, b]) {
      expect(report.broken).toEqual([]);
      expect(report.writes).toBe(1500);
      expect(report.whole).toBeGreaterThan(500);
    }
    // What is left is whole, from one writer or the other, and a new process reads it.
    const layer = new DiskLayer({ directory });
    layer.attach({ clock: systemClock, logger: consoleLogger });
    const left = await layer.getMany(Array.from({ length: KEYS }, (_, i) => `k${i}`));
    expect(left.filter((entry) => entry !== undefined).every((entry) => isWhole(entry?.value))).toBe(true);
    expect(left.some((entry) => entry !== undefined)).toBe(true);
    await layer.close();
  }, 120_000);
});
