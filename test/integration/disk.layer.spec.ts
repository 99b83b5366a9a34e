import { mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { undecodableReason } from '../../lib/core/entry-codec.js';
import { EntryEncodeError, InvalidOptionError } from '../../lib/core/errors.js';
import { MsgpackSerializer } from '../../lib/core/msgpack.serializer.js';
import { DEFAULT_DISK_LAYER_OPTIONS, DiskLayer, type DiskLayerOptions } from '../../lib/layers/disk.layer.js';
import { recordName } from '../../lib/layers/disk-record.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { CACHE_MISS, CacheStack } from '../../lib/stack/cache-stack.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeLayerContract, makeEntry } from '../support/layer-contract.js';
import { RecordingLogger } from '../support/stack-builder.js';
import { waitFor } from '../support/wait.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lc-disk-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const layers: DiskLayer[] = [];
/** A layer on `directory` attached to `clock` (closed after the test). */
function diskLayer(options: DiskLayerOptions, clock = new FakeClock(), logger = new RecordingLogger()): DiskLayer {
  const layer = new DiskLayer(options);
  layer.attach({ clock, logger });
  layers.push(layer);
  return layer;
}
afterEach(async () => {
  await Promise.all(layers.splice(0).map((layer) => layer.close()));
});

/** The path of the record file of `key` under `directory`. */
function fileOf(directory: string, key: string): string {
  const { dir, file } = recordName(key);
  return join(directory, dir, file);
}

/** The record files under `directory`. */
async function recordFiles(directory: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await readdir(directory)) for (const name of await readdir(join(directory, dir))) if (!name.startsWith('.')) out.push(name);
  return out;
}

describeLayerContract('DiskLayer', async () => {
  const clock = new FakeClock();
  const directory = await tempDir();
  const layer = diskLayer({ directory }, clock);
  return {
    layer,
    now: () => clock.now(),
    async expectLifetime(key, ttlMs, writtenAt) {
      expect(await layer.get(key)).toBeDefined();
      await clock.advance(writtenAt + ttlMs - 1 - clock.now());
      expect(await layer.get(key)).toBeDefined();
      await clock.advance(2);
      expect(await layer.get(key)).toBeUndefined();
    },
  };
});

describe('DiskLayer', () => {
  it('is local (one copy per host), named, uncapped by default, and validates its options by name', async () => {
    const directory = await tempDir();
    const layer = new DiskLayer({ directory });
    expect(layer).toMatchObject({ name: 'disk', shared: false, ttl: undefined, directory, maxFiles: 50_000, maxSize: 256 * 1024 * 1024 });
    expect(DEFAULT_DISK_LAYER_OPTIONS).toMatchObject({ name: 'disk', maxFiles: 50_000 });
    expect(new DiskLayer({ directory, name: 'l3', ttl: '2m' })).toMatchObject({ name: 'l3', ttl: 120_000 });
    const bad: [unknown, string][] = [
      [undefined, 'DiskLayer'],
      [{}, 'DiskLayer.directory'],
      [{ directory: '' }, 'DiskLayer.directory'],
      [{ directory, maxFiles: 0 }, 'DiskLayer.maxFiles'],
      [{ directory, maxSize: 1.5 }, 'DiskLayer.maxSize'],
      [{ directory, ttl: -1 }, 'DiskLayer.ttl'],
      [{ directory, ttl: '0ms' }, 'DiskLayer.ttl'],
      [{ directory, name: '' }, 'DiskLayer.name'],
      [{ directory, serializer: {} }, 'DiskLayer.serializer'],
      [{ directory, sweepInterval: '10ms' }, 'DiskLayer.sweepInterval'],
      [{ directory, maxEntries: 5 }, 'DiskLayer.maxEntries'],
    ];
    for (const [options, option] of bad) {
      let thrown: unknown;
      try {
        new DiskLayer(options as DiskLayerOptions);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(option);
    }
  });

  it('stores a record named by the SHA-256 of the key, holding the key and the envelope (same bytes as Redis)', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory }, clock);
    const entry = makeEntry({ a: 1 }, clock.now(), { tags: ['t'], tagVersions: [3] });
    await layer.set('../../etc/passwd', entry, 10_000);
    const bytes = await readFile(fileOf(directory, '../../etc/passwd'));
    expect(bytes.includes(Buffer.from('../../etc/passwd'))).toBe(true);
    const { encodeEntry } = await import('../../lib/core/entry-codec.js');
    expect(bytes.subarray(bytes.length - encodeEntry(entry, new MsgpackSerializer()).length)).toEqual(encodeEntry(entry, new MsgpackSerializer()));
    expect(await readdir(directory)).toEqual([recordName('../../etc/passwd').dir]);
  });

  it('survives a restart: a new layer on the same directory reads what the old one wrote, and lists it', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const before = diskLayer({ directory }, clock);
    await before.setMany([
      { key: 'user:1', entry: makeEntry({ name: 'Ada' }, clock.now()), ttlMs: 60_000 },
      { key: 'user:2', entry: makeEntry({ name: 'Bob' }, clock.now()), ttlMs: 60_000 },
    ]);
    await before.close();
    const after = diskLayer({ directory }, clock);
    expect((await after.get('user:1'))?.value).toEqual({ name: 'Ada' });
    expect((await after.findKeys('user:', undefined, 10)).sort()).toEqual(['user:1', 'user:2']);
    expect(after.stats()).toMatchObject({ files: 2 });
  });

  it('reads a truncated or damaged record as an undecodable miss and counts it; the next write replaces it', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory }, clock);
    await layer.set('cut', makeEntry('x'.repeat(500), clock.now()), 60_000);
    await layer.set('flipped', makeEntry('y'.repeat(500), clock.now()), 60_000);
    const cutFile = fileOf(directory, 'cut');
    await truncate(cutFile, (await readFile(cutFile)).length - 100);
    const flippedFile = fileOf(directory, 'flipped');
    const flipped = await readFile(flippedFile);
    flipped.writeUInt8((flipped.at(-10) as number) ^ 0xff, flipped.length - 10); // inside the value: only the checksum can tell
    await writeFile(flippedFile, flipped);
    for (const key of ['cut', 'flipped']) {
      const got = await layer.get(key);
      expect(undecodableReason(got)).toMatch(/checksum/);
    }
    expect(layer.stats().undecodable).toBe(2);
    await layer.set('cut', makeEntry('whole', clock.now()), 60_000);
    expect((await layer.get('cut'))?.value).toBe('whole');
  });

  it('counts an undecodable record in the stack metrics as a miss and loads instead', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const first = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    await first.set('k', 'x'.repeat(1000), { ttl: 60 });
    await first.close();
    await truncate(fileOf(directory, 'k'), 500); // as a crash of the host may leave it (no fsync)
    const stack = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    expect(await stack.get('k', () => 'loaded')).toBe('loaded');
    expect(stack.getMetrics().layers.disk).toMatchObject({ undecodable: 1, misses: 1 });
    await stack.close();
  });

  it('evicts the least recently used records beyond maxFiles', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory, maxFiles: 3 }, clock);
    for (const key of ['a', 'b', 'c']) await layer.set(key, makeEntry(key, clock.now()), 60_000);
    await layer.get('a'); // b is now the least recently used
    await layer.set('d', makeEntry('d', clock.now()), 60_000);
    expect((await layer.getMany(['a', 'b', 'c', 'd'])).map((e) => e?.value)).toEqual(['a', undefined, 'c', 'd']);
    expect((await recordFiles(directory)).length).toBe(3);
    expect(layer.stats()).toMatchObject({ files: 3, evictions: 1 });
  });

  it('evicts beyond maxSize bytes, and refuses (and drops the older copy of) a record larger than maxSize', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const logger = new RecordingLogger();
    const layer = diskLayer({ directory, maxSize: 3_000 }, clock, logger);
    for (const key of ['a', 'b', 'c']) await layer.set(key, makeEntry(key.repeat(1000), clock.now()), 60_000);
    expect(await layer.get('a')).toBeUndefined();
    expect(layer.stats().bytes).toBeLessThanOrEqual(3_000);
    await layer.set('b', makeEntry('b'.repeat(5_000), clock.now()), 60_000);
    expect(await layer.get('b')).toBeUndefined();
    expect((await layer.get('c'))?.value).toBe('c'.repeat(1000));
    expect(layer.stats()).toMatchObject({ oversized: 1, evictions: 1, files: 1 });
    expect(logger.lines.map((l) => l.message).join()).toMatch(/over maxSize/);
  });

  it('bounds a directory found over maxFiles at startup, oldest written first', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const big = diskLayer({ directory }, clock);
    for (let i = 0; i < 5; i++) await big.set(`k${i}`, makeEntry(i, clock.now()), 60_000);
    await big.close();
    // Distinct modification times, k0 the oldest (the file system's own may tie within a few ms).
    for (let i = 0; i < 5; i++) await utimes(fileOf(directory, `k${i}`), 1_000_000 + i, 1_000_000 + i);
    const small = diskLayer({ directory, maxFiles: 2 }, clock);
    await small.sweep(); // waits for the startup scan (reads and writes do not)
    expect((await recordFiles(directory)).sort()).toEqual([recordName('k3').file, recordName('k4').file].sort());
    expect(small.stats()).toMatchObject({ files: 2, evictions: 3 });
  });

  it('expires records on the clock: a miss on read (file removed), and removed by the periodic sweep', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory, sweepInterval: '30s' }, clock);
    await layer.set('read', makeEntry(1, clock.now()), 10_000);
    await layer.set('swept', makeEntry(2, clock.now()), 10_000);
    await layer.set('kept', makeEntry(3, clock.now()), 120_000);
    await clock.advance(10_000);
    expect(await layer.get('read')).toBeUndefined();
    await waitFor(async () => (await recordFiles(directory)).length === 2);
    expect(layer.stats().sweeps).toBe(0);
    await clock.advance(20_000); // the sweep's timer fires (30 s after start)
    await waitFor(() => layer.stats().sweeps === 1);
    expect(await recordFiles(directory)).toEqual([recordName('kept').file]);
    expect(layer.stats()).toMatchObject({ files: 1, expired: 2 });
    await clock.advance(30_000); // re-armed
    await waitFor(() => layer.stats().sweeps === 2);
  });

  it('touch rewrites a sliding record only when its deadline moves by at least a tenth of the ttl (no I/O otherwise)', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory }, clock);
    const now = clock.now();
    const written = makeEntry('v', now, { version: 7, freshness: { ttl: 60_000, sliding: true, maxUntil: now + 600_000, refreshAhead: 0, adaptive: undefined } });
    await layer.set('s', written, 180_000);
    const before = await readFile(fileOf(directory, 's'));
    const moved = (by: number) => ({ ...written, freshUntil: written.freshUntil + by, staleUntil: written.staleUntil + by, errorUntil: written.errorUntil + by });
    expect(await layer.touch('s', moved(5_999), 185_999)).toBe(false);
    expect(await readFile(fileOf(directory, 's'))).toEqual(before);
    expect(await layer.touch('s', moved(6_000), 186_000)).toBe(true);
    expect((await layer.get('s'))?.freshUntil).toBe(written.freshUntil + 6_000);
  });

  it('rejects a value the serializer cannot encode with EntryEncodeError, writing nothing', async () => {
    const directory = await tempDir();
    const serializer = {
      encode: (): Buffer => {
        throw new Error('no');
      },
      decode: () => undefined,
    };
    const layer = diskLayer({ directory, serializer });
    await expect(layer.set('k', makeEntry(1, 0), 1000)).rejects.toBeInstanceOf(EntryEncodeError);
    expect(await readdir(directory).catch(() => [])).toEqual([]);
  });

  it("reads another writer's tagged record with its tag versions at 0: an invalidation after a restart still reaches it", async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const before = diskLayer({ directory }, clock);
    await before.set('t', makeEntry('tagged', clock.now(), { tags: ['user:1'], tagVersions: [42] }), 60_000);
    expect((await before.get('t'))?.tagVersions).toEqual([42]);
    await before.close();
    const after = diskLayer({ directory }, clock);
    expect(await after.get('t')).toMatchObject({ value: 'tagged', tagVersions: [0], tags: ['user:1'] });
    await after.close();
    // A stack on the in-process tag store, which starts again at sequence 1 after a restart:
    const stack = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    expect(await stack.get('t')).toBe('tagged');
    await stack.invalidateByTag('user:1');
    expect(await stack.get('t', () => 'reloaded')).toBe('reloaded');
    await stack.close();
  });

  it('a read waits for the writes and deletes of its key asked before it (in this process)', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const layer = diskLayer({ directory }, clock);
    await layer.set('k', makeEntry('v1', clock.now()), 60_000);
    const write = layer.set('k', makeEntry('v2'.repeat(50_000), clock.now()), 60_000);
    const remove = layer.delete(['k']);
    expect(await layer.get('k')).toBeUndefined();
    const rewrite = layer.set('k', makeEntry('v3', clock.now()), 60_000);
    expect((await layer.get('k'))?.value).toBe('v3');
    await Promise.all([write, remove, rewrite]);
  });

  it('through a stack, a read right after delete() or clear() misses, and a write right after clear() is kept (the stack does not wait for local layers)', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const stack = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    await stack.set('a', 'old-a', { ttl: 60 });
    await stack.set('b', 'old-b', { ttl: 60 });
    await stack.delete('a');
    expect(await stack.get('a', () => 'loaded-a')).toBe('loaded-a');
    await stack.clear();
    expect(await stack.get('b', () => 'loaded-b')).toBe('loaded-b');
    await stack.clear();
    await stack.set('c', 'after-clear', { ttl: 60 });
    await stack.close();
    const reopened = diskLayer({ directory }, clock);
    expect((await reopened.getMany(['a', 'b', 'c'])).map((e) => e?.value)).toEqual([undefined, undefined, 'after-clear']);
  });

  it('a directory it cannot use: reads and writes fail (the stack loads instead), delete and clear log and never reject', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'file'), 'x');
    const logger = new RecordingLogger();
    const clock = new FakeClock();
    const layer = diskLayer({ directory: join(parent, 'file', 'cache') }, clock, logger);
    await expect(layer.get('k')).rejects.toThrow();
    await expect(layer.delete(['k'])).resolves.toBeUndefined();
    await expect(layer.clear(undefined)).resolves.toBeUndefined();
    expect(logger.lines.map((l) => l.message).join('\n')).toMatch(/delete failed[\s\S]*clear failed/);
    const stack = new CacheStack([new MemoryLayer(), new DiskLayer({ directory: join(parent, 'file', 'other') })], { clock, logger: new RecordingLogger() });
    expect(await stack.get('k', () => 'loaded')).toBe('loaded');
    await stack.delete('k');
    await stack.clear();
    await stack.close();
  });

  it('a stack [MemoryLayer, DiskLayer] backfills L1 from disk after a restart', async () => {
    const directory = await tempDir();
    const clock = new FakeClock();
    const first = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    await first.set('user:1', { name: 'Ada' }, { ttl: 60 });
    await first.close();
    const second = new CacheStack([new MemoryLayer(), new DiskLayer({ directory })], { clock, logger: new RecordingLogger() });
    expect(second.peek('user:1')).toBe(CACHE_MISS);
    expect(await second.get('user:1', () => ({ name: 'loaded' }))).toEqual({ name: 'Ada' });
    await second.idle();
    expect(second.peek('user:1')).toEqual({ name: 'Ada' });
    expect(second.getMetrics().layers.disk).toMatchObject({ hits: 1 });
    expect(second.getMetrics().layers.memory).toMatchObject({ backfills: 1 });
    await second.close();
  });
});
