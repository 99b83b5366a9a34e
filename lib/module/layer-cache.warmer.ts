/**
 * Runs a registration's `warm` option when the app starts: in `onApplicationBootstrap` (every provider exists, so
 * a `forRootAsync` factory's loaders can use injected services; the app can listen), awaited only with
 * `blockStartup: true`. Each registration (`forRoot({ name })`) warms its own stack.
 * Hard part: nothing here may stop or fail the app — a throwing factory, bad entries it returned, failing loaders
 * and Redis being down are logged through the stack's logger (the `logger` option, else Nest's `Logger`); an app shut down while warming closes the stack,
 * which aborts the loads (their entries fail with `StackClosedError`), logged as a stop, not as failures.
 */
import type { OnApplicationBootstrap } from '@nestjs/common';
import { StackClosedError } from '../core/errors.js';
import type { CacheLogger } from '../core/logger.js';
import type { CacheStack, WarmReport } from '../stack/cache-stack.js';
import type { LayerCacheModuleOptions, LayerCacheWarmOptions } from './layer-cache.options.js';
import type { StackResources } from './stack-resources.factory.js';

/** Failed entries named in the warning, at most. */
const FAILURES_LISTED = 5;

/** The startup warming of one registration (a factory provider of `defineStackModule`, given the registration's name). */
export class LayerCacheWarmer implements OnApplicationBootstrap {
  private readonly logger: CacheLogger;

  constructor(
    private readonly resources: StackResources,
    private readonly options: LayerCacheModuleOptions,
    /** The registration's name, for log lines. */
    private readonly name: string,
  ) {
    this.logger = resources.logger;
  }

  /** Starts warming; waits for it only with `blockStartup: true`. Never throws. */
  async onApplicationBootstrap(): Promise<void> {
    const warm = this.options.warm;
    // Nothing to warm in test mode, nor when the app replaced the stack (overrideProvider).
    if (warm === undefined || this.resources.stack === undefined) return;
    // A logger that throws must not turn into an unhandled rejection (or a failed startup) either.
    const run = this.run(warm).catch(() => undefined);
    if (warm.blockStartup === true) await run;
  }

  /** Warms the stack and logs the outcome; never rejects. */
  private async run(warm: LayerCacheWarmOptions): Promise<void> {
    const label = `LayerCacheModule: warming of stack "${this.name}"`;
    let report: WarmReport;
    try {
      const entries = warm.factory === undefined ? (warm.entries ?? []) : await warm.factory();
      report = await (this.resources.stack as CacheStack).warm(entries, warm.concurrency === undefined ? undefined : { concurrency: warm.concurrency });
    } catch (error) {
      if (error instanceof StackClosedError) this.logger.log?.(`${label} stopped: the app shut down`);
      else this.logger.error(`${label} failed${warm.factory === undefined ? '' : ' (warm.factory)'}: ${describe(error)}; the app runs without it`);
      return;
    }
    this.logReport(label, report);
  }

  private logReport(label: string, report: WarmReport): void {
    const summary = `${report.loaded} loaded, ${report.skipped} skipped (already fresh), ${report.failed} failed of ${report.total} in ${report.durationMs} ms`;
    const failed = report.entries.filter((entry) => entry.status === 'failed');
    if (failed.length === 0) {
      this.logger.log?.(`${label}: ${summary}`);
      return;
    }
    if (failed.every((entry) => entry.error instanceof StackClosedError)) {
      this.logger.log?.(`${label} stopped: the app shut down (${summary})`);
      return;
    }
    const listed = failed.slice(0, FAILURES_LISTED).map((entry) => `"${entry.key}": ${describe(entry.error)}`);
    const more = failed.length > FAILURES_LISTED ? `; and ${failed.length - FAILURES_LISTED} more` : '';
    this.logger.warn(`${label}: ${summary}; failed: ${listed.join('; ')}${more}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
