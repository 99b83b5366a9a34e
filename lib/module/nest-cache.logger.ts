/**
 * The logger of the stacks the module builds when the user gave no `logger`: a `CacheLogger` over Nest's `Logger`,
 * so the stack, its layers, bus, coordinator, warmer and snapshot write where the app's other logs go (the app's
 * `useLogger`, `bufferLogs`, log levels), under the context `LayerCache` (`LayerCache:<name>` for a named stack).
 * Hard part: Nest's `Logger` reads a trailing string argument as the context (and `error`'s second as a stack), so
 * the extra arguments of a `CacheLogger` call are folded into the message instead of passed on.
 */
import { Logger } from '@nestjs/common';
import type { CacheLogger } from '../core/logger.js';
import { DEFAULT_STACK_NAME } from '../common/layer-cache.tokens.js';

/** The Nest logger context of a registration's stack: `LayerCache`, or `LayerCache:<name>` for a named one. */
export function layerCacheLogContext(name: string): string {
  return name === DEFAULT_STACK_NAME ? 'LayerCache' : `LayerCache:${name}`;
}

/** A `CacheLogger` writing through a Nest `Logger` with `context`. */
export function nestCacheLogger(context: string): CacheLogger {
  const logger = new Logger(context);
  return Object.freeze({
    warn: (message: string, ...rest: unknown[]) => logger.warn(format(message, rest)),
    error: (message: string, ...rest: unknown[]) => logger.error(format(message, rest)),
    log: (message: string, ...rest: unknown[]) => logger.log(format(message, rest)),
    debug: (message: string, ...rest: unknown[]) => logger.debug(format(message, rest)),
  });
}

function format(message: string, rest: readonly unknown[]): string {
  if (rest.length === 0) return message;
  return [message, ...rest.map(describe)].join(' ');
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
