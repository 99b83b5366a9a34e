/**
 * What every CLI command gets (the parsed command, the open connection, the tag store on the application's
 * prefix, where to write) and what it returns (an exit code, the JSON document of `--json`, the lines of the
 * human-readable output). Also the exit codes and a progress line that is drawn only on a terminal.
 */
import type { RedisTagStore } from '../redis/redis-tag.store.js';
import type { CliCommand } from './cli-args.js';
import type { CliConnection } from './cli-connection.js';

/** Exit codes of `npx nestjs-layercache` (documented in docs/observability.md, "Admin CLI"). */
export const CLI_EXIT = Object.freeze({ ok: 0, notFound: 1, usage: 2, connection: 3 } as const);

/** A stream the CLI writes to (`process.stdout` / `process.stderr`). */
export interface CliStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The process around the CLI: its streams and environment (injected, so the CLI runs in a test process too). */
export interface CliIo {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** What a command runs with. */
export interface CliContext {
  readonly command: CliCommand;
  readonly connection: CliConnection;
  readonly tagStore: RedisTagStore;
  readonly io: CliIo;
}

/** What a command produced. */
export interface CliResult {
  readonly exitCode: number;
  /** The `--json` document. */
  readonly document: Record<string, unknown>;
  /** The human-readable output, one line each. */
  readonly lines: readonly string[];
}

/** A progress reporter writing `\r`-overwritten lines to a TTY stderr, nothing otherwise. */
export function progressLine(stderr: CliStream, enabled: boolean): { update(text: string): void; done(): void } {
  const live = enabled && stderr.isTTY === true;
  let drawn = false;
  let last = 0;
  return {
    update(text) {
      const now = performance.now();
      if (!live || now - last < 100) return;
      last = now;
      stderr.write(`\r\u001b[2K${text}`);
      drawn = true;
    },
    done() {
      if (drawn) stderr.write('\r\u001b[2K');
      drawn = false;
    },
  };
}

/** Milliseconds as a short human duration (`1h 2m`, `3.4s`, `12ms`), or `-` for none left. */
export function humanMs(ms: number): string {
  if (!Number.isFinite(ms)) return ms > 0 ? 'never' : '-';
  if (ms <= 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m ${Math.floor((ms % 60_000) / 1000)}s`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h ${minutes % 60}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** Bytes as `1.2 KiB`. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit] as string}`;
}
