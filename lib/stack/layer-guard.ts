/**
 * Graceful degradation of shared layers (docs/architecture.md, "A cache failure never fails the caller").
 *
 * Every command to a shared layer (Redis) goes through its guard:
 * - it races a command timeout (`layerTimeout`, default 500 ms): a hung connection costs at most that;
 * - a failure or timeout opens a back-off window (`layerBackoff`, doubling per consecutive failure up to
 *   30 s) during which the layer is skipped without being asked; the first command after the window is the
 *   probe; its success closes the window and resets the back-off;
 * - failures are counted per layer and logged once per burst (`BurstLogger`), the recovery is logged too
 *   and reported to `onRecover`, which replays what the layer missed (`RecoveryQueue`).
 * Local layers (memory) are called directly: they do not fail that way and their hits must stay cheap.
 */
import type { Clock } from '../core/clock.js';
import { EntryEncodeError, LayerTimeoutError, LayerUnavailableError } from '../core/errors.js';
import type { BurstLogger } from '../core/logger.js';

/** Settings of the guards of one stack (milliseconds). */
export interface GuardSettings {
  readonly timeout: number;
  readonly backoff: number;
  readonly maxBackoff: number;
}

/** Called when a layer command fails or is skipped (for the stack's `layer-error` event). */
export type LayerErrorSink = (layer: string, operation: string, error: unknown) => void;

/** The counters a guard updates. */
export interface GuardCounters {
  errors: number;
  skipped: number;
}

/** Wraps one shared layer's (or the shared tag store's) commands with a timeout and a back-off window. */
export class LayerGuard {
  private openUntil = 0;
  private nextBackoff: number;

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
  ) {
    this.nextBackoff = settings.backoff;
  }

  /** True while the layer is in its back-off window. */
  get open(): boolean {
    return this.openUntil > this.clock.now();
  }

  /**
   * Runs `command` against the layer. Rejects with `LayerUnavailableError` in the back-off window, with
   * `LayerTimeoutError` after the timeout, or with the layer's own error; callers decide what a failure
   * means (a miss for reads, a skipped write).
   */
  run<T>(operation: string, command: () => T | Promise<T>): Promise<T> {
    if (this.openUntil > this.clock.now()) {
      this.metrics.skipped++;
      const error = new LayerUnavailableError(this.name);
      this.onError(this.name, operation, error);
      return Promise.reject(error);
    }
    // One promise and one timer per command (no Promise.race): this is on the path of every L2 hit.
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        const error = new LayerTimeoutError(this.name, operation, this.settings.timeout);
        this.fail(operation, error);
        reject(error);
      }, this.settings.timeout);
      const onValue = (value: T) => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        if (this.nextBackoff !== this.settings.backoff || this.openUntil !== 0) this.recover();
        resolve(value);
      };
      const onError = (error: unknown) => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
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

  private fail(operation: string, error: unknown): void {
    this.metrics.errors++;
    this.openUntil = this.clock.now() + this.nextBackoff;
    this.nextBackoff = Math.min(this.nextBackoff * 2, this.settings.maxBackoff);
    this.log.failure(`layer ${this.name}`, `Layer "${this.name}" failed on ${operation}; skipping it for a while`, error);
    this.onError(this.name, operation, error);
  }

  private recover(): void {
    this.openUntil = 0;
    this.nextBackoff = this.settings.backoff;
    this.log.success(`layer ${this.name}`);
    this.onRecover();
  }
}
