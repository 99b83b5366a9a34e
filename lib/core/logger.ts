/**
 * Logging: the `CacheLogger` contract (Nest's `Logger` and `console` fit), the default console logger, and
 * `BurstLogger`. Hard part: a failing dependency must not flood the log, so a burst of one failure is logged once
 * and its end (the first success) once.
 */
/** Where the library writes its log lines; Nest's `Logger` and `console` both fit. */
export interface CacheLogger {
  warn(message: string, ...rest: unknown[]): void;
  error(message: string, ...rest: unknown[]): void;
  log?(message: string, ...rest: unknown[]): void;
  debug?(message: string, ...rest: unknown[]): void;
}

/** The default logger: `console` with a `[layercache]` prefix. */
export const consoleLogger: CacheLogger = Object.freeze({
  warn: (message: string, ...rest: unknown[]) => console.warn(`[layercache] ${message}`, ...rest),
  error: (message: string, ...rest: unknown[]) => console.error(`[layercache] ${message}`, ...rest),
  log: (message: string, ...rest: unknown[]) => console.log(`[layercache] ${message}`, ...rest),
});

/**
 * Logs a failing source once per burst: the first failure is logged, the following ones are only
 * counted until the source succeeds again, which is logged with the number of failures it swallowed.
 */
export class BurstLogger {
  private readonly failing = new Map<string, number>();

  constructor(private readonly logger: CacheLogger) {}

  /** Records a failure of `source`; logs it when it starts a burst. */
  failure(source: string, message: string, error: unknown): void {
    const count = this.failing.get(source);
    if (count === undefined) {
      this.failing.set(source, 1);
      this.logger.warn(`${message}: ${describe(error)} (further failures of ${source} are counted, not logged, until it recovers)`);
    } else {
      this.failing.set(source, count + 1);
    }
  }

  /** Records a success of `source`; logs the end of a burst. */
  success(source: string): void {
    if (this.failing.size === 0) return;
    const count = this.failing.get(source);
    if (count === undefined) return;
    this.failing.delete(source);
    this.logger.warn(`${source} recovered after ${count} failure${count === 1 ? '' : 's'}`);
  }

  /** Logs a failure that is not part of a burst (e.g. a failing background refresh). */
  warn(message: string, error: unknown): void {
    this.logger.warn(`${message}: ${describe(error)}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
