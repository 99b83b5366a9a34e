#!/usr/bin/env node
/**
 * The `nestjs-layercache` executable (package.json "bin"): the admin CLI on the process's argv, streams and
 * environment. Sets the exit code rather than calling `process.exit`, so stdout is flushed before the process ends.
 */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
