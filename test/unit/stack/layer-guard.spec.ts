/**
 * `LayerGuard`'s command timeout (issue 18, point 3): one timer per guard times out every command in flight at its
 * own deadline (`layerTimeout` after its start), instead of a timer per command on the path of every L2 hit.
 */
import { LayerTimeoutError } from '../../../lib/core/errors.js';
import { BurstLogger } from '../../../lib/core/logger.js';
import { LayerGuard } from '../../../lib/stack/layer-guard.js';
import { FakeClock } from '../../support/fake-clock.js';
import { RecordingLogger } from '../../support/stack-builder.js';

function buildGuard(timeout = 500) {
  const clock = new FakeClock();
  const metrics = { errors: 0, skipped: 0 };
  const errors: string[] = [];
  const guard = new LayerGuard('redis', metrics, { timeout, backoff: 1, maxBackoff: 1 }, clock, new BurstLogger(new RecordingLogger()), (_layer, operation) =>
    errors.push(operation),
  );
  return { clock, metrics, errors, guard };
}

/** A command that hangs until answered by hand. */
function hanging<T>() {
  let answer!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (answer = resolve));
  return { command: () => promise, answer };
}

/** Settles state of a promise without waiting for it. */
function watch(promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (seen.state = 'resolved'),
    (error: unknown) => {
      seen.state = 'rejected';
      seen.error = error;
    },
  );
  return seen;
}

describe('LayerGuard command timeout', () => {
  it('times out each hung command at its own deadline, with one timer for all of them', async () => {
    const { clock, metrics, guard } = buildGuard(500);
    const first = watch(guard.run('get', hanging<string>().command));
    await clock.advance(200);
    const second = watch(guard.run('get', hanging<string>().command));
    expect(clock.pendingTimers).toBe(1);

    await clock.advance(299);
    expect([first.state, second.state]).toEqual(['pending', 'pending']);
    await clock.advance(1); // 500 ms after the first one started
    expect(first.state).toBe('rejected');
    expect(first.error).toBeInstanceOf(LayerTimeoutError);
    expect(second.state).toBe('pending');
    expect(metrics.errors).toBe(1);

    await clock.advance(199);
    expect(second.state).toBe('pending');
    await clock.advance(1); // 500 ms after the second one started
    expect(second.state).toBe('rejected');
    expect(clock.pendingTimers).toBe(0);
  });

  it('a command answered in time is not timed out, and reports its value; a late answer is ignored', async () => {
    const { clock, metrics, errors, guard } = buildGuard(500);
    const answered = hanging<string>();
    const late = hanging<string>();
    const first = guard.run('get', answered.command);
    const second = watch(guard.run('get', late.command));
    await clock.advance(100);
    answered.answer('v');
    expect(await first).toBe('v');

    await clock.advance(400);
    expect(second.state).toBe('rejected');
    late.answer('too late');
    await clock.advance(1_000);
    expect(second.state).toBe('rejected');
    expect(metrics.errors).toBe(1);
    expect(errors).toEqual(['get']);
  });

  it('a burst of commands sets no timer per command, and the timer runs out once they all answered', async () => {
    const { clock, metrics, guard } = buildGuard(500);
    const values = await Promise.all(Array.from({ length: 100 }, (_, i) => guard.run('get', () => Promise.resolve(i))));
    expect(values[99]).toBe(99);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(await guard.run('get', () => 'again')).toBe('again'); // issued before the timer fires: no timer call
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(500);
    expect(clock.pendingTimers).toBe(0);
    expect(metrics.errors).toBe(0);
  });

  it('close() leaves no timer when nothing is in flight, and keeps the timeout of a command still in flight', async () => {
    const idle = buildGuard(500);
    await idle.guard.run('get', () => 'v');
    idle.guard.close();
    expect(idle.clock.pendingTimers).toBe(0);

    const busy = buildGuard(500);
    const hung = watch(busy.guard.run('get', hanging<string>().command));
    busy.guard.close();
    await busy.clock.advance(500);
    expect(hung.state).toBe('rejected');
    expect(hung.error).toBeInstanceOf(LayerTimeoutError);
  });
});
