/**
 * The CLI's own Redis connection: ioredis is an optional peer of the library but the CLI needs it, so it is
 * loaded here with a dynamic `import()` and a missing package is a clear `CliConnectionError`. Unlike the module's
 * connections, the CLI does not wait for Redis to come back: the first connection attempt either succeeds within
 * `timeoutMs` or the run ends with exit code 3.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis-client.js';
import type { CliConnectionSettings } from './cli-args.js';

/** Redis could not be reached (or ioredis is missing): exit code 3. */
export class CliConnectionError extends Error {
  override readonly name = 'CliConnectionError';
}

/** An open connection and how to close it. */
export interface CliConnection {
  readonly client: RedisClient;
  /** The servers to SCAN: the client itself, or every master of a Cluster. */
  nodes(): Redis[];
  close(): Promise<void>;
}

/** Opens the connection of `settings` and waits until it is ready. @throws CliConnectionError */
export async function openCliConnection(settings: CliConnectionSettings): Promise<CliConnection> {
  let ioredis: { Redis: typeof Redis; Cluster: typeof Cluster };
  try {
    ioredis = await import('ioredis');
  } catch (error) {
    throw new CliConnectionError(`the admin CLI needs the package ioredis (npm install ioredis): ${error instanceof Error ? error.message : String(error)}`);
  }
  const common = { connectTimeout: settings.timeoutMs, commandTimeout: settings.timeoutMs, maxRetriesPerRequest: 0 } as const;
  let lastError: unknown;
  let client: RedisClient;
  if (settings.cluster) {
    const nodes = settings.urls.map((url) => {
      const parsed = new URL(url);
      return { host: parsed.hostname, port: Number(parsed.port || 6379) };
    });
    const first = new URL(settings.urls[0] as string);
    const auth = { ...(first.username !== '' && { username: decodeURIComponent(first.username) }), ...(first.password !== '' && { password: decodeURIComponent(first.password) }) };
    const tls = first.protocol === 'rediss:' ? { tls: {} } : {};
    client = new ioredis.Cluster(nodes, {
      lazyConnect: true,
      clusterRetryStrategy: () => null,
      enableOfflineQueue: true,
      redisOptions: { ...common, ...auth, ...tls },
    });
  } else {
    client = new ioredis.Redis(settings.urls[0] as string, { ...common, lazyConnect: true, enableOfflineQueue: true, retryStrategy: () => null });
  }
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await within(client.connect(), settings.timeoutMs, 'connecting');
    await within(client.ping(), settings.timeoutMs, 'PING');
  } catch (error) {
    client.disconnect();
    const cause = lastError ?? error;
    throw new CliConnectionError(`cannot reach Redis at ${settings.urls.map(redactUrl).join(', ')}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  const cluster = client as Cluster;
  return {
    client,
    nodes: () => (settings.cluster ? cluster.nodes('master') : [client as Redis]),
    close: async () => {
      try {
        await within(client.quit(), 1000, 'QUIT');
      } catch {
        client.disconnect();
      }
    },
  };
}

/** `url` without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
