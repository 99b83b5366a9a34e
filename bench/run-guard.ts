/**
 * How a benchmark command starts and ends, shared by `npm run bench` (index.ts) and `npm run bench:http`
 * (http.bench.ts), so that a smoke run in CI either finishes or fails, and never leaves a process behind.
 *
 * - Arguments are checked first: an unknown flag (a typo of `--quick` would silently start the full run) or a bad
 *   value is a usage error, exit code 2.
 * - The exit code is the one `main` resolves to; a rejection prints the error and exits with 1.
 * - Every child a run starts registers a synchronous last-resort kill (`track`), run on any exit of this process:
 *   normal, `process.exit`, an uncaught exception, SIGINT / SIGTERM (exit 130 / 143: what `timeout` and Ctrl-C
 *   send), and the watchdog, which stops a run past its bound with exit code 1.
 * - Hard part: when every handle closes while `main` still awaits (a promise nothing will settle), Node exits with
 *   code 0 as if the run had passed; the exit hook turns that into exit code 1 with a message.
 */

/** A usage error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/** The flags and `--name=value` options a command accepts. */
export interface ArgSpec {
  readonly flags: readonly string[];
  readonly options: readonly string[];
}

export interface ParsedArgs {
  flag(name: string): boolean;
  option(name: string): string | undefined;
}

/** Parses `argv` against `spec`. @throws UsageError naming an unknown or malformed argument. */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const flags = new Set<string>();
  const options = new Map<string, string>();
  const usage = `accepted: ${[...spec.flags.map((f) => `--${f}`), ...spec.options.map((o) => `--${o}=...`)].join(' ')}`;
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = match?.[1];
    const value = match?.[2];
    if (name !== undefined && value === undefined && spec.flags.includes(name)) flags.add(name);
    else if (name !== undefined && value !== undefined && spec.options.includes(name)) {
      if (value === '') throw new UsageError(`${arg}: the value is empty (${usage})`);
      options.set(name, value);
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (${usage})`);
  }
  return { flag: (name) => flags.has(name), option: (name) => options.get(name) };
}

export interface RunGuard {
  /** Registers a synchronous kill of something this run started; returns its unregistration. */
  track(kill: () => void): () => void;
  /** (Re)arms the watchdog: past `ms` from now the run is stopped with exit code 1. */
  watchdog(ms: number): void;
}

/**
 * Runs `main` as the whole process: exits with its code, kills what was tracked on any exit, stops on SIGINT and
 * SIGTERM. `name` prefixes the messages of this module.
 */
export function runMain(name: string, main: (guard: RunGuard) => Promise<number>): void {
  const kills = new Set<() => void>();
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const killAll = (): void => {
    for (const kill of kills) {
      try {
        kill();
      } catch {
        // already gone
      }
    }
    kills.clear();
  };
  process.once('exit', (code) => {
    killAll();
    if (!finished && code === 0) {
      console.error(`\n${name}: ended before the run finished (nothing left to wait for): failing`);
      process.exitCode = 1;
    }
  });
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      console.error(`\n${name}: ${signal}: stopping`);
      finished = true;
      process.exit(code);
    });
  }
  const guard: RunGuard = {
    track(kill) {
      kills.add(kill);
      return () => kills.delete(kill);
    },
    watchdog(ms) {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        console.error(`\n${name}: still running after ${(ms / 1000).toFixed(0)} s: stopping`);
        finished = true;
        process.exit(1);
      }, ms);
      timer.unref();
    },
  };
  const end = (code: number): void => {
    finished = true;
    process.exit(code);
  };
  let started: Promise<number>;
  try {
    started = main(guard);
  } catch (error) {
    started = Promise.reject(error);
  }
  started.then(end, (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${name}: ${error.message}`);
      end(2);
      return;
    }
    console.error(error);
    end(1);
  });
}
