/**
 * Builds `CacheStack`s for the unit tests on the fake clock with a recording logger, and closes every stack a
 * test opened after it.
 */
import { CacheStack } from '../../lib/stack/cache-stack.js';
import type { CacheStackOptions } from '../../lib/stack/cache-stack.options.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import type { CacheLayer } from '../../lib/core/layer.js';
import type { CacheLogger } from '../../lib/core/logger.js';
import { ChaosLayer } from './chaos.layer.js';
import { FakeClock } from './fake-clock.js';

/** A logger that records lines instead of printing them. */
export class RecordingLogger implements CacheLogger {
  readonly lines: { level: 'warn' | 'error'; message: string }[] = [];
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
}

const open: CacheStack[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((stack) => stack.close()));
});

/** A stack on a fake clock and a recording logger, closed after the test. */
export function buildStack(layers: CacheLayer[], options: CacheStackOptions = {}) {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock();
  const logger = new RecordingLogger();
  const stack = new CacheStack(layers, { logger, ...options, clock });
  open.push(stack);
  return { stack, clock, logger };
}

/** L1 memory + an L2 memory layer behind a ChaosLayer (async, shared, can fail or hang). */
export function buildTwoLayerStack(options: CacheStackOptions = {}, l1Options: ConstructorParameters<typeof MemoryLayer>[0] = {}) {
  const l1 = new MemoryLayer(l1Options);
  const l2 = new ChaosLayer(new MemoryLayer({ name: 'l2-store' }), { name: 'l2' });
  return { ...buildStack([l1, l2], options), l1, l2 };
}

/** A loader that counts its calls and resolves when told to. */
export function controlledLoader<T>() {
  const pending: { resolve: (value: T) => void; reject: (error: unknown) => void; signal: AbortSignal }[] = [];
  let calls = 0;
  const loader = ({ signal }: { signal: AbortSignal }) => {
    calls++;
    return new Promise<T>((resolve, reject) => pending.push({ resolve, reject, signal }));
  };
  return {
    loader,
    get calls() {
      return calls;
    },
    resolveNext(value: T) {
      const next = pending.shift();
      if (next === undefined) throw new Error('no pending load');
      next.resolve(value);
    },
    rejectNext(error: unknown) {
      const next = pending.shift();
      if (next === undefined) throw new Error('no pending load');
      next.reject(error);
    },
    get pending() {
      return pending.length;
    },
  };
}
