/**
 * The invalidation bus's heartbeat: a gap detector that does not rely on the connection telling.
 *
 * A subscription can be lost without its connection closing: ioredis moves a Cluster's subscription to another
 * node by itself when a node fails, and a proxy may drop it. Messages published meanwhile are missed, and the
 * L1 would keep serving what they invalidated. So, every `interval`, the bus publishes a tiny heartbeat with a
 * sequence number on its own channel and expects to hear it back (a bus receives its own messages; it ignores
 * them otherwise):
 *
 * 1. At each tick, if the previous heartbeat was published (Redis accepted it) but not heard back, the
 *    subscription is *silent*: reported once (`onSilent`: the bus logs it).
 * 2. The next heartbeat heard after a silence means the subscription works again, and that messages may have
 *    been missed in between: `onHeardAgain` (the bus reports a resubscription: the stack clears its L1).
 * 3. A heartbeat that could not be published (Redis down) proves nothing: the connection's own events cover
 *    that case.
 * A gap shorter than one interval that falls between two heartbeats can go unseen: the interval bounds it.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';

/** The heartbeat every 2 s that a bus on a Redis Cluster gets by default. */
export const DEFAULT_CLUSTER_HEARTBEAT: Duration = '2s';

/**
 * The interval of the `heartbeat` option in ms, or `undefined` for none: the option as given, else
 * {@link DEFAULT_CLUSTER_HEARTBEAT} on a Cluster and none on a single Redis.
 */
export function heartbeatInterval(option: Duration | false | undefined, cluster: boolean): number | undefined {
  const heartbeat = option ?? (cluster ? DEFAULT_CLUSTER_HEARTBEAT : false);
  if (heartbeat === false) return undefined;
  const intervalMs = toMilliseconds(heartbeat, 'RedisInvalidationBus.heartbeat');
  if (intervalMs <= 0) throw new InvalidOptionError('RedisInvalidationBus.heartbeat', 'must be greater than 0 (or false for none)');
  return intervalMs;
}

/** What a {@link BusHeartbeat} calls back into its bus. */
export interface BusHeartbeatHandlers {
  /** Publishes heartbeat `seq` on the bus's channel; rejects when Redis did not take it. */
  send(seq: number): Promise<void>;
  /** A published heartbeat was not heard back within the interval. */
  onSilent(): void;
  /** A heartbeat was heard again after a silence. */
  onHeardAgain(): void;
}

export class BusHeartbeat {
  private seq = 0;
  /** The last heartbeat Redis accepted, not yet judged. */
  private awaiting: number | undefined;
  private lastHeard = 0;
  private silent = false;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    /** Milliseconds between heartbeats (> 0). */
    private readonly intervalMs: number,
    private readonly handlers: BusHeartbeatHandlers,
  ) {}

  /** Starts beating (idempotent). */
  start(): void {
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.tick, this.intervalMs);
  }

  /** Stops for good. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** True from a silence until a heartbeat is heard again: the subscription may be lost. */
  get silenced(): boolean {
    return this.silent;
  }

  /** The bus heard its own heartbeat `seq`. */
  heard(seq: number): void {
    if (seq > this.lastHeard) this.lastHeard = seq;
    if (!this.silent) return;
    this.silent = false;
    this.handlers.onHeardAgain();
  }

  /** The connection reported a resubscription itself: a silence before it is already accounted for. */
  reset(): void {
    this.silent = false;
    this.awaiting = undefined;
  }

  private readonly tick = (): void => {
    this.timer = this.clock.setTimeout(this.tick, this.intervalMs);
    const awaiting = this.awaiting;
    if (awaiting !== undefined && this.lastHeard < awaiting && !this.silent) {
      this.silent = true;
      this.handlers.onSilent();
    }
    const seq = ++this.seq;
    this.awaiting = undefined;
    this.handlers.send(seq).then(
      () => {
        if (this.awaiting === undefined || this.awaiting < seq) this.awaiting = seq;
      },
      () => undefined, // not published: nothing to judge (the connection's events report the outage)
    );
  };
}
