import { BusHeartbeat } from '../../lib/redis/bus-heartbeat.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

/** A heartbeat whose "channel" delivers its beats back unless `deaf`, and whose publish fails when `down`. */
function beating() {
  const clock = new FakeClock();
  const events: string[] = [];
  const state = { deaf: false, down: false };
  const heartbeat: BusHeartbeat = new BusHeartbeat(clock, 1_000, {
    send: (seq) => {
      if (state.down) return Promise.reject(new Error('down'));
      if (!state.deaf) queueMicrotask(() => heartbeat.heard(seq));
      return Promise.resolve();
    },
    onSilent: () => events.push('silent'),
    onHeardAgain: () => events.push('heard-again'),
  });
  heartbeat.start();
  return { clock, events, state, heartbeat };
}

describe('BusHeartbeat', () => {
  it('stays quiet while its beats are heard', async () => {
    const { clock, events, heartbeat } = beating();
    await clock.advance(10_000);
    expect(events).toEqual([]);
    heartbeat.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports a silence once when a published beat is not heard back, and the first beat heard again', async () => {
    const { clock, events, state, heartbeat } = beating();
    await clock.advance(1_000);
    state.deaf = true; // the subscription is lost; publishing still works
    await clock.advance(1_000); // beat 2 sent, not heard
    expect(events).toEqual([]);
    expect(heartbeat.silenced).toBe(false);
    await clock.advance(1_000); // judged at the next tick
    expect(events).toEqual(['silent']);
    expect(heartbeat.silenced).toBe(true); // RedisInvalidationBus.subscription() says 'interrupted' meanwhile
    await clock.advance(5_000);
    expect(events).toEqual(['silent']); // once per silence
    state.deaf = false;
    await clock.advance(1_000);
    await flushMicrotasks();
    expect(events).toEqual(['silent', 'heard-again']);
    expect(heartbeat.silenced).toBe(false);
    await clock.advance(5_000);
    expect(events).toEqual(['silent', 'heard-again']);
    heartbeat.stop();
  });

  it('judges nothing from a beat that could not be published', async () => {
    const { clock, events, state, heartbeat } = beating();
    state.down = true;
    await clock.advance(10_000);
    expect(events).toEqual([]);
    heartbeat.stop();
  });

  it('reset() after a reported reconnection: the silence before it is not reported again', async () => {
    const { clock, events, state, heartbeat } = beating();
    state.deaf = true;
    await clock.advance(3_000);
    expect(events).toEqual(['silent']);
    heartbeat.reset();
    state.deaf = false;
    await clock.advance(2_000);
    await flushMicrotasks();
    expect(events).toEqual(['silent']);
    heartbeat.stop();
  });
});
