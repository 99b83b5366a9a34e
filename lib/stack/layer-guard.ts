/**
 * Graceful degradation of shared layers (DESIGN.md "Failures of the cache never fail the caller's work").
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
  async run<T>(operation: string, command: () => T | Promise<T>): Promise<T> {
    if (this.openUntil > this.clock.now()) {
      this.metrics.skipped++;
      const error = new LayerUnavailableError(this.name);
      this.onError(this.name, operation, error);
      throw error;
    }
    let timer: unknown;
    try {
      const result = await Promise.race([
        command(),
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimeout(
            () => reject(new LayerTimeoutError(this.name, operation, this.settings.timeout)),
            this.settings.timeout,
          );
        }),
      ]);
      if (this.nextBackoff !== this.settings.backoff || this.openUntil !== 0) this.recover();
      return result;
    } catch (error) {
      if (error instanceof EntryEncodeError) this.log.warn(`Not caching in "${this.name}"`, error); // the value's fault
      else this.fail(operation, error);
      throw error;
    } finally {
      this.clock.clearTimeout(timer);
    }
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
