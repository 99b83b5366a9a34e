/**
 * A local (not shared) layer that answers asynchronously, as DiskLayer does: the stack's deletes and clears wait for
 * it, and its failures are logged, never left as unhandled rejections.
 */
import type { CacheLayer } from '../../../lib/core/layer.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { buildStack } from '../../support/stack-builder.js';

/** A MemoryLayer behind promises that settle when the test says so. */
class SlowLocalLayer implements CacheLayer {
  readonly name = 'slow';
  readonly shared = false;
  readonly ttl = undefined;
  readonly inner = new MemoryLayer({ name: 'inner' });
  readonly waiting: (() => void)[] = [];
  failDeletes = false;

  private later<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.waiting.push(() => {
        try {
          resolve(run());
        } catch (error) {
          reject(error);
        }
      }),
    );
  }
  get = (key: string) => this.inner.get(key);
  getMany = (keys: readonly string[]) => this.inner.getMany(keys);
  set = (...args: Parameters<MemoryLayer['set']>) => this.inner.set(...args);
  setMany = (...args: Parameters<MemoryLayer['setMany']>) => this.inner.setMany(...args);
  delete = (keys: readonly string[]) =>
    this.later(() => {
      if (this.failDeletes) throw new Error('disk full');
      this.inner.delete(keys);
    });
  clear = (prefix: string | undefined) => this.later(() => this.inner.clear(prefix));
  close = () => undefined;
  settleAll(): void {
    for (const settle of this.waiting.splice(0)) settle();
  }
}

describe('an asynchronous local layer', () => {
  it('delete and clear resolve only once the layer has done them', async () => {
    const layer = new SlowLocalLayer();
    const { stack } = buildStack([layer]);
    await stack.set('k', 'v');
    let deleted = false;
    const deleting = stack.delete('k').then(() => (deleted = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(deleted).toBe(false);
    layer.settleAll();
    await deleting;
    expect(layer.inner.get('k')).toBeUndefined();

    await stack.set('k2', 'v');
    let cleared = false;
    const clearing = stack.clear().then(() => (cleared = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(cleared).toBe(false);
    layer.settleAll();
    await clearing;
    expect(layer.inner.get('k2')).toBeUndefined();
  });

  it("a failing asynchronous delete is logged, not an unhandled rejection, and does not fail the caller's delete", async () => {
    const layer = new SlowLocalLayer();
    const { stack, logger } = buildStack([layer]);
    layer.failDeletes = true;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const deleting = stack.delete('k');
      layer.settleAll();
      await deleting;
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(logger.lines.some((line) => line.message.includes('Layer "slow" failed on delete'))).toBe(true);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
