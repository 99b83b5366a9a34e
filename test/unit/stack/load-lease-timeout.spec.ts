/**
 * The stack's side of an acquire that timed out (fake clock, the in-process coordinator of
 * test/support/in-process-peers.ts behind a gate that holds its answers back, as a paused Redis would): the
 * lease its late answer grants is released at once, so a peer's next miss leads instead of following a lease
 * nobody owns; a held lease is released even in the back-off window that timeout opened. Also: every acquire
 * passes the stack's write clock as the version floor.
 */
import type { LoadCoordinator, LoadTicket } from '../../../lib/core/load-coordinator.js';
import { MemoryLayer } from '../../../lib/layers/memory.layer.js';
import { FakeClock, flushMicrotasks } from '../../support/fake-clock.js';
import { CoordinatorHub } from '../../support/in-process-peers.js';
import { buildStack, controlledLoader } from '../../support/stack-builder.js';

/** A coordinator whose acquires reach `inner` only when the gate opens (Redis paused until then). */
function gated(inner: LoadCoordinator) {
  let open = true;
  const held: (() => void)[] = [];
  const floors: (number | undefined)[] = [];
  const coordinator: LoadCoordinator = {
    shared: true,
    acquire(key, ttlMs, maxWaitMs, versionFloor) {
      floors.push(versionFloor);
      if (open) return inner.acquire(key, ttlMs, maxWaitMs, versionFloor);
      return new Promise<LoadTicket>((resolve, reject) => held.push(() => inner.acquire(key, ttlMs, maxWaitMs, versionFloor).then(resolve, reject)));
    },
    close: () => inner.close(),
  };
  return {
    coordinator,
    floors,
    pause() {
      open = false;
    },
    resume() {
      open = true;
      for (const run of held.splice(0)) run();
    },
  };
}

function cluster() {
  const clock = new FakeClock();
  const hub = new CoordinatorHub(clock);
  const gate = gated(hub.coordinator());
  const options = { clock, layerTimeout: '500ms', layerBackoff: '10s', singleFlightLease: '5s' } as const;
  const a = buildStack([new MemoryLayer()], { ...options, singleFlight: gate.coordinator });
  const b = buildStack([new MemoryLayer()], { ...options, singleFlight: hub.coordinator() });
  return { clock, hub, gate, a: a.stack, b: b.stack };
}

describe('an acquire that timed out (stack side)', () => {
  it('loads locally after layerTimeout; the lease its late answer grants is released at once', async () => {
    const { clock, hub, gate, a } = cluster();
    gate.pause();
    const got = a.get('k', () => 'from-a');
    await clock.advance(500); // the acquire's layerTimeout
    expect(await got).toBe('from-a');
    expect(a.getMetrics().singleFlight).toMatchObject({ localFallbacks: 1, errors: 1 });

    gate.resume(); // the paused acquire runs now, and is granted
    await flushMicrotasks();
    expect(hub.held('k')).toBe(false);
  });

  it("a peer's next miss after that loads at once instead of following the late lease for its ttl", async () => {
    const { clock, gate, a, b } = cluster();
    gate.pause();
    const got = a.get('k', () => 'from-a');
    await clock.advance(500);
    await got;
    gate.resume();
    await flushMicrotasks();

    const loader = controlledLoader<string>();
    const next = b.get('k', loader.loader);
    await flushMicrotasks();
    expect(loader.calls).toBe(1); // led at once: no clock time passed
    loader.resolveNext('from-b');
    expect(await next).toBe('from-b');
    expect(b.getMetrics().singleFlight).toMatchObject({ leads: 1, follows: 0 });
  });

  it("releases a held lease even while the coordinator's guard is in its back-off window", async () => {
    const { clock, hub, gate, a } = cluster();
    const loader = controlledLoader<string>();
    const leading = a.get('k', loader.loader); // a holds the lease of k
    leading.catch(() => undefined); // aborted by close() if an expectation below fails first
    await flushMicrotasks();
    expect(hub.held('k')).toBe(true);
    gate.pause();
    const other = a.get('other', () => 'local');
    await clock.advance(500); // that acquire times out: the guard's window opens for 10 s
    expect(await other).toBe('local');

    loader.resolveNext('v');
    expect(await leading).toBe('v');
    await flushMicrotasks();
    expect(hub.held('k')).toBe(false); // released now, not left to nobody until its 5 s ttl
    expect(a.getMetrics().singleFlight).toMatchObject({ skipped: 1 }); // only the filled notice was skipped
  });

  it("keeps renewing a held lease while the coordinator's guard is in its back-off window", async () => {
    const { clock, hub, gate, a } = cluster();
    const loader = controlledLoader<string>();
    const leading = a.get('k', loader.loader); // a slow load under a 5 s lease
    leading.catch(() => undefined); // aborted by close() if an expectation below fails first
    await flushMicrotasks();
    gate.pause();
    const other = a.get('other', () => 'local');
    await clock.advance(500); // the guard's window opens for 10 s
    await other;
    await clock.advance(8_000); // past the lease's ttl: only renewals keep it
    expect(hub.held('k')).toBe(true);
    loader.resolveNext('v');
    expect(await leading).toBe('v');
  });

  it("passes the stack's write clock as each acquire's version floor", async () => {
    const { clock, gate, a } = cluster();
    await a.set('other', 1); // a write version taken from the clock
    expect(await a.get('k', () => 'v')).toBe('v');
    const floor = gate.floors[0];
    expect(floor).toBeGreaterThanOrEqual(clock.now() * 1000);
  });
});
