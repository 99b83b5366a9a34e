/**
 * `exportSnapshot` / `importSnapshot` on the fake clock: a round trip keeps deadlines, tags, versions and the
 * freshness extension; what expired, was invalidated or is held newer is dropped; corrupt and truncated
 * snapshots throw `SnapshotError` and import nothing; the file variant is atomic; namespace views.
 */
import { jest } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotError } from '../../../lib/core/errors.js';
import { MemoryTagStore } from '../../../lib/core/memory-tag.store.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { buildStack } from '../../support/stack-builder.js';

/** A stack on one MemoryLayer, with its layer. */
function memoryStack(clock: FakeClock, options: Parameters<typeof buildStack>[1] = {}) {
  const layer = new MemoryLayer();
  return { ...buildStack([layer], { clock, ...options }), layer };
}

describe('CacheStack snapshots', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lc-snapshot-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips entries with their deadlines, tags, versions and freshness extension into a new stack', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock, { ttl: 60 });
    await a.stack.set('plain', { n: 1, at: new Date(5) });
    await a.stack.set('tagged', [1, 2, 3], { tags: ['users', 'u:1'], staleWhileRevalidate: 30 });
    await a.stack.set('sliding', 'x', { slidingTtl: true, ttl: 10 });
    const bytes = await a.stack.exportSnapshot();
    expect(bytes?.subarray(0, 4).toString('latin1')).toBe('LCSN');
    await clock.advance(1000);
    const b = memoryStack(clock, { ttl: 60 });
    expect(await b.stack.importSnapshot(bytes as Buffer)).toEqual({ imported: 3, expired: 0, superseded: 0, skipped: 0 });
    for (const key of ['plain', 'tagged', 'sliding']) expect(b.layer.get(key)).toEqual(a.layer.get(key));
    expect(b.layer.get('sliding')?.freshness?.sliding).toBe(true);
    const loader = jest.fn(() => 'loaded');
    expect(await b.stack.getDetailed('tagged', loader)).toMatchObject({ value: [1, 2, 3], status: 'hit' });
    expect(loader).not.toHaveBeenCalled();
    // Deadlines are absolute: the remaining window is what was left (60 s - 1 s), not a new 60 s.
    await clock.advance(59_000);
    expect((await b.stack.getDetailed('plain')).status).toBe('miss');
  });

  it('drops entries that expired between export and import (by the stack clock)', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.set('short', 1, { ttl: 5 });
    await a.stack.set('long', 2, { ttl: 500 });
    const bytes = (await a.stack.exportSnapshot()) as Buffer;
    const short = a.layer.get("short");
    // Past every window of 'short' (its stale-if-error one included), inside those of 'long'.
    await clock.advance(Math.max(short?.staleUntil ?? 0, short?.errorUntil ?? 0) - clock.now() + 1);
    const b = memoryStack(clock);
    expect(await b.stack.importSnapshot(bytes)).toEqual({ imported: 1, expired: 1, superseded: 0, skipped: 0 });
    expect(await b.stack.get('short')).toBeUndefined();
    expect(await b.stack.get('long')).toBe(2);
  });

  it('drops an entry whose tag was invalidated after the export', async () => {
    const clock = new FakeClock();
    const tagStore = new MemoryTagStore(clock);
    const a = memoryStack(clock, { tagStore });
    await a.stack.set('u1', 'one', { tags: ['users'] });
    await a.stack.set('p1', 'post', { tags: ['posts'] });
    const bytes = (await a.stack.exportSnapshot()) as Buffer;
    await a.stack.invalidateByTag('users');
    a.layer.clear(undefined); // as after a restart: nothing held, the invalidation known
    expect(await a.stack.importSnapshot(bytes)).toEqual({ imported: 1, expired: 0, superseded: 1, skipped: 0 });
    expect(await a.stack.get('u1')).toBeUndefined();
    expect(await a.stack.get('p1')).toBe('post');
  });

  it('lets the next invalidation of a fresh in-process tag store reach imported entries', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.invalidateByTag('other');
    await a.stack.invalidateByTag('other');
    await a.stack.set('u1', 'one', { tags: ['users'] });
    const bytes = (await a.stack.exportSnapshot()) as Buffer;
    const b = memoryStack(clock);
    expect((await b.stack.importSnapshot(bytes)).imported).toBe(1);
    await b.stack.invalidateByTag('users');
    expect(await b.stack.get('u1')).toBeUndefined();
  });

  it('keeps a newer value written locally before the import', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.set('k', 'old');
    const bytes = (await a.stack.exportSnapshot()) as Buffer;
    await clock.advance(10);
    await a.stack.set('k', 'new');
    expect(await a.stack.importSnapshot(bytes)).toEqual({ imported: 0, expired: 0, superseded: 1, skipped: 0 });
    expect(await a.stack.get('k')).toBe('new');
  });

  it('throws SnapshotError for corrupt or truncated bytes and imports nothing; skips a record that does not decode', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.set('k1', 'v1');
    await a.stack.set('k2', 'v2');
    const bytes = (await a.stack.exportSnapshot()) as Buffer;
    const b = memoryStack(clock);
    await expect(b.stack.importSnapshot(bytes.subarray(0, bytes.length - 3))).rejects.toThrow(SnapshotError);
    await expect(b.stack.importSnapshot(Buffer.from('not a snapshot'))).rejects.toMatchObject({ code: 'INVALID_SNAPSHOT' });
    await expect(b.stack.importSnapshot(Buffer.concat([bytes, Buffer.from([0])]))).rejects.toThrow(/unexpected bytes/);
    expect(b.layer.size).toBe(0);
    // Damage the first envelope's magic: that record is skipped, the other one imported.
    const damaged = Buffer.from(bytes);
    const envelopeAt = damaged.indexOf(Buffer.from('LC\u0002', 'latin1'));
    damaged[envelopeAt] = 0;
    expect(await b.stack.importSnapshot(damaged)).toEqual({ imported: 1, expired: 0, superseded: 0, skipped: 1 });
  });

  it('writes a file atomically (temp file + rename) and imports it; a failed write leaves the old snapshot', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.set('k', 'v');
    const file = join(dir, 'cache.snapshot');
    await writeFile(file, 'previous');
    expect(await a.stack.exportSnapshot({ file })).toBeUndefined();
    expect(await readdir(dir)).toEqual(['cache.snapshot']);
    const b = memoryStack(clock);
    expect((await b.stack.importSnapshot({ file })).imported).toBe(1);
    expect(await b.stack.get('k')).toBe('v');
    // An unserializable value stays out; a directory that does not exist fails before touching anything.
    await expect(a.stack.exportSnapshot({ file: join(dir, 'missing', 'x') })).rejects.toThrow();
    expect((await readFile(file)).subarray(0, 4).toString()).toBe('LCSN');
    await expect(b.stack.importSnapshot({ file: join(dir, 'none') })).rejects.toThrow(SnapshotError);
    await expect(a.stack.exportSnapshot({ fil: file } as never)).rejects.toThrow(/fil/);
  });

  it('exports and imports the whole stack from a namespace view', async () => {
    const clock = new FakeClock();
    const a = memoryStack(clock);
    await a.stack.set('root', 1);
    await a.stack.namespace('ns').set('inner', 2);
    const bytes = (await a.stack.namespace('ns').exportSnapshot()) as Buffer;
    const b = memoryStack(clock);
    expect((await b.stack.namespace('other').importSnapshot(bytes)).imported).toBe(2);
    expect(await b.stack.get('root')).toBe(1);
    expect(await b.stack.namespace('ns').get('inner')).toBe(2);
  });
});
