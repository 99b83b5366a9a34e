/**
 * The admin CLI's driver: parses the command line, opens the Redis connection, runs one command and prints its
 * result (one JSON document on stdout with `--json`, lines otherwise; messages on stderr), and maps failures to
 * exit codes: 0 done, 1 not found, 2 usage error (an `InvalidOptionError` / `InvalidKeyError` naming the option),
 * 3 Redis unreachable or failing. Takes its streams and environment as arguments, so it never calls
 * `process.exit` and runs inside a test process as well as from lib/cli/main.ts.
 */
import { InvalidKeyError, InvalidOptionError } from '../core/errors.js';
import { RedisTagStore } from '../redis/redis-tag.store.js';
import { CLI_USAGE, HELP, parseCliArgs, type CliCommand } from './cli-args.js';
import { CliConnectionError, openCliConnection, type CliConnection } from './cli-connection.js';
import { CLI_EXIT, type CliContext, type CliIo, type CliResult } from './cli-context.js';
import { runInspect } from './cli-inspect.js';
import { runInvalidate } from './cli-invalidate.js';
import { runKeys } from './cli-keys.js';
import { runStats } from './cli-stats.js';

const RUNNERS = { stats: runStats, keys: runKeys, inspect: runInspect, invalidate: runInvalidate } as const;

/** Runs `npx nestjs-layercache <argv>`; resolves to the exit code. Never rejects. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: CliCommand | typeof HELP;
  try {
    command = parseCliArgs(argv, io.env);
  } catch (error) {
    return fail(io, argv.includes('--json'), error);
  }
  if (command === HELP) {
    io.stdout.write(`${CLI_USAGE}\n`);
    return CLI_EXIT.ok;
  }
  for (const warning of command.warnings) io.stderr.write(`nestjs-layercache: warning: ${warning}\n`);
  let connection: CliConnection | undefined;
  try {
    connection = await openCliConnection(command.connection);
    const context: CliContext = {
      command,
      connection,
      tagStore: new RedisTagStore({ client: connection.client, prefix: command.connection.prefix }),
      io,
    };
    const result: CliResult = await RUNNERS[command.name](context);
    if (command.json) io.stdout.write(`${JSON.stringify(result.document)}\n`);
    else for (const line of result.lines) io.stdout.write(`${line}\n`);
    return result.exitCode;
  } catch (error) {
    return fail(io, command.json, error);
  } finally {
    await connection?.close();
  }
}

/** Prints `error` (also as `{ "error": ... }` on stdout with `--json`) and returns its exit code. */
function fail(io: CliIo, json: boolean, error: unknown): number {
  const usage = error instanceof InvalidOptionError || error instanceof InvalidKeyError;
  const code = usage ? CLI_EXIT.usage : CLI_EXIT.connection;
  const message = error instanceof Error ? error.message : String(error);
  const kind = usage ? 'usage' : error instanceof CliConnectionError ? 'connection' : 'redis';
  io.stderr.write(`nestjs-layercache: ${message}${usage ? '\n(nestjs-layercache --help for the usage)' : ''}\n`);
  if (json) io.stdout.write(`${JSON.stringify({ error: { kind, message } })}\n`);
  return code;
}
