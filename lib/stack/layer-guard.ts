/**
 * Graceful degradation of shared layers: a failing cache never fails the caller's work.
 *
 * Every command to a shared layer (Redis) goes through its guard:
 * - it races a command timeout (`layerTimeout`, default 500 ms): a hung connection costs at most that (one timer
 *   per guard times out every command in flight, see `pending`);
 * - a failure or timeout opens a back-off window (`layerBackoff`, doubling per consecutive failure up to
 *   30 s) during which the layer is skipped without being asked; the first command after the window is the
 *   probe; its success closes the window and resets the back-off;
 * - from a failure until the layer answers again, a layer with a `probe()` (Redis: PING) is probed in the
 *   background every `PROBE_INTERVAL_MS` (less when the back-off is shorter, never under 50 ms), one probe at
 *   a time, each bounded by the command timeout: the first probe that succeeds closes the window at once, so
 *   the layer is used again within about a second of coming back instead of after the rest of a window of up
 *   to 30 s, and an idle process replays what it missed. A failed probe changes nothing (the window and its
 *   doubling stay as the commands set them) and is neither counted nor logged;
 * - failures are counted per layer and logged once per burst (`BurstLogger`), the recovery is logged too
 *   and reported to `onRecover`, which replays what the layer missed (`RecoveryQueue`).
 * Local layers (memory) are called directly: they do not fail that way and their hits must stay cheap.
 */
import { monotonicOf, type Clock, type TimerHandle } from '../core/clock.js';
import { EntryEncodeError, LayerTimeoutError, LayerUnavailableError } from '../core/errors.js';
import type { BurstLogger } from '../core/logger.js';
import type { StackTracing } from './tracing.js';

/** Longest time between two background probes of a layer in its back-off window (ms). */
export const PROBE_INTERVAL_MS = 500;
/** Shortest time between two probes, whatever `layerBackoff` (ms): a tiny back-off must not spin on PING. */
export const MIN_PROBE_INTERVAL_MS = 50;

/** Settings of the guards of one stack (milliseconds). */
export interface GuardSettings {
  readonly timeout: number;
  readonly backoff: number;
  readonly maxBackoff: number;
  /** The stack's spans: each command runs in one (tracing.ts); `undefined` when off. */
  readonly tracing?: StackTracing | undefined;
}

/** Called when a layer command fails or is skipped (for the stack's `layer-error` event). */
export type LayerErrorSink = (layer: string, operation: string, error: unknown) => void;

/** The counters a guard updates. */
export interface GuardCounters {
  errors: number;
  skipped: number;
}

/** A command of {@link LayerGuard.run} in flight, in the guard's queue until it settles or times out. */
interface PendingCommand {
  /** When it times out, in the clock's monotonic time (ms). */
  readonly deadline: number;
  /** Answered, failed or timed out: the sweep skips it. */
  done: boolean;
  /** Times it out (rejects its caller with `LayerTimeoutError`). */
  readonly expire: () => void;
}

/** Wraps one shared layer's (or the shared tag store's) commands with a timeout and a back-off window. */
export class LayerGuard {
  private openUntil = 0;
  /**
   * Commands in flight, oldest first. Every command has the same timeout, so their deadlines grow in this order: one
   * timer per guard (`sweepTimer`, set for the oldest deadline) times them all out, instead of a `setTimeout`, an
   * `unref` and a `clearTimeout` per command on the path of every L2 hit. The timer is left to run out when the
   * queue empties (a command issued before it fires costs no timer call); it stops once nothing is in flight.
   */
  private readonly pending: PendingCommand[] = [];
  private sweepTimer: TimerHandle | undefined;
  /** The clock's monotonic time (ms): deadlines must not move with the wall clock. */
  private readonly elapsed: () => number;
  private nextBackoff: number;
  /** The next background probe, when one is scheduled. */
  private probeTimer: TimerHandle | undefined;
  private probing = false;
  private closed = false;

  constructor(
    /** The guarded layer's name, for errors and log lines. */
    readonly name: string,
    private readonly metrics: GuardCounters,
    private readonly settings: GuardSettings,
    private readonly clock: Clock,
    private readonly log: BurstLogger,
    private readonly onError: LayerErrorSink,
    /** Called when the layer answers again after failures (to replay what it missed). */
    private readonly onRecover: () => void = () => undefined,
    /** The layer's health check (`CacheLayer.probe`), run in the background while the window is open. */
    private readonly probe?: () => unknown,
  ) {
    this.nextBackoff = settings.backoff;
    this.elapsed = monotonicOf(clock);
  }

  /** True while the layer is in its back-off window. */
  get open(): boolean {
    return this.openUntil > this.clock.now();
  }

  /**
   * Runs `command` even while the back-off window is open: then unguarded, bounded by the command timeout, not
   * counted, and closing no window (outside the window it is `run`). For renewing and releasing a lease already
   * held: the window opens on any failure (a burst of acquires timing out on a busy event loop opens it for up to
   * `maxLayerBackoff`), and a skipped release would leave the lease to nobody until its ttl ends, with every peer
   * missing the key following it meanwhile.
   */
  runEvenIfOpen<T>(operation: string, command: () => T | Promise<T>): Promise<T> {
    if (!this.open) return this.run(operation, command);
    return new Promise<T>((resolve, reject) => {
      const timeout = this.settings.timeout;
      const timer = this.clock.setTimeout(() => reject(new LayerTimeoutError(this.name, operation, timeout)), timeout);
      let running: Promise<T>;
      try {
        running = Promise.resolve(command());
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => {
          this.clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Runs `command` against the layer. Rejects with `LayerUnavailableError` in the back-off window, with
   * `LayerTimeoutError` after the timeout, or with the layer's own error; callers decide what a failure
   * means (a miss for reads, a skipped write).
   */
  run<T>(operation: string, command: () => T | Promise<T>, settled?: () => void): Promise<T> {
    const tracing = this.settings.tracing;
    return tracing === undefined ? this.attempt(operation, command, settled) : tracing.command(this.name, operation, () => this.attempt(operation, command, settled));
  }

  /**
   * One command of {@link run}, untraced. `settled` (the latency timing of `LayerTimer`) is called once the command
   * answers, fails or times out, not when the window skips it: in the guard's own callbacks, so that timing a
   * command costs no promise of its own (an L2 hit allocates one promise here, not two).
   */
  private attempt<T>(operation: string, command: () => T | Promise<T>, settled?: () => void): Promise<T> {
    if (this.openUntil > this.clock.now()) {
      this.metrics.skipped++;
      const error = new LayerUnavailableError(this.name);
      this.onError(this.name, operation, error);
      return Promise.reject(error);
    }
    // One promise per command (no Promise.race) and no timer of its own (`pending`): on the path of every L2 hit.
    return new Promise<T>((resolve, reject) => {
      const pending: PendingCommand = {
        deadline: this.elapsed() + this.settings.timeout,
        done: false,
        expire: () => {
          settled?.();
          const error = new LayerTimeoutError(this.name, operation, this.settings.timeout);
          this.fail(operation, error);
          reject(error);
        },
      };
      this.track(pending);
      const onValue = (value: T) => {
        if (pending.done) return;
        this.untrack(pending);
        settled?.();
        if (this.nextBackoff !== this.settings.backoff || this.openUntil !== 0) this.recover();
        resolve(value);
      };
      const onError = (error: unknown) => {
        if (pending.done) return;
        this.untrack(pending);
        settled?.();
        if (error instanceof EntryEncodeError) this.log.warn(`Not caching in "${this.name}"`, error); // the value's fault
        else this.fail(operation, error);
        reject(error);
      };
      try {
        Promise.resolve(command()).then(onValue, onError);
      } catch (error) {
        onError(error);
      }
    });
  }

  /** Queues a command started now; sets the sweep timer when none is set. */
  private track(command: PendingCommand): void {
    this.pending.push(command);
    if (this.sweepTimer === undefined) this.sweepTimer = this.clock.setTimeout(() => this.sweep(), this.settings.timeout);
  }

  /** Marks a command settled and drops the settled ones at the head of the queue (the timer runs out by itself). */
  private untrack(command: PendingCommand): void {
    command.done = true;
    const pending = this.pending;
    while (pending.length > 0 && (pending[0] as PendingCommand).done) pending.shift();
  }

  /** Times out the commands past their deadline, oldest first, and sets the timer for the next one, if any. */
  private sweep(): void {
    this.sweepTimer = undefined;
    const pending = this.pending;
    const now = this.elapsed();
    while (pending.length > 0) {
      const head = pending[0] as PendingCommand;
      if (!head.done && head.deadline > now) break;
      pending.shift();
      if (head.done) continue;
      head.done = true;
      head.expire();
    }
    const next = pending[0];
    if (next !== undefined) this.sweepTimer = this.clock.setTimeout(() => this.sweep(), Math.max(1, next.deadline - now));
  }

  private fail(operation: string, error: unknown): void {
    this.metrics.errors++;
    this.openUntil = this.clock.now() + this.nextBackoff;
    this.nextBackoff = Math.min(this.nextBackoff * 2, this.settings.maxBackoff);
    this.log.failure(`layer ${this.name}`, `Layer "${this.name}" failed on ${operation}; skipping it for a while`, error);
    this.onError(this.name, operation, error);
    this.scheduleProbe();
  }

  /** Stops probing (the stack is closing); a probe in flight is ignored when it settles. */
  close(): void {
    this.closed = true;
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    // Commands still in flight keep their timeout; an idle guard keeps no timer.
    if (this.pending.length === 0 && this.sweepTimer !== undefined) {
      this.clock.clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** Schedules the next background probe, unless one is scheduled or running, or there is nothing to probe. */
  private scheduleProbe(): void {
    const probe = this.probe;
    if (probe === undefined || this.closed || this.probing || this.probeTimer !== undefined) return;
    const pace = Math.max(MIN_PROBE_INTERVAL_MS, Math.min(this.settings.backoff, PROBE_INTERVAL_MS));
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      this.runProbe(probe);
    }, pace);
  }

  /** Runs one probe, bounded by the command timeout: success closes the window, failure schedules the next. */
  private runProbe(probe: () => unknown): void {
    if (this.closed || this.openUntil === 0) return; // a command succeeded meanwhile: recovered already
    this.probing = true;
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      this.clock.clearTimeout(timer);
      this.probing = false;
      if (this.closed || this.openUntil === 0) return;
      if (ok) this.recover();
      else this.scheduleProbe();
    };
    const timer = this.clock.setTimeout(() => done(false), this.settings.timeout);
    try {
      Promise.resolve(probe()).then(
        () => done(true),
        () => done(false),
      );
    } catch {
      done(false);
    }
  }

  private recover(): void {
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.openUntil = 0;
    this.nextBackoff = this.settings.backoff;
    this.log.success(`layer ${this.name}`);
    this.onRecover();
  }
}
