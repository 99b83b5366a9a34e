/**
 * ioredis clients on the shared test redis-server (closed after the test), unique key prefixes so tests never
 * see each other's keys, key listing and a round-trip counter.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { TEST_REDIS_URL_ENV } from './redis.global-setup.js';

/** The URL of the redis-server the integration project's globalSetup started. */
export function testRedisUrl(): string {
  const url = process.env[TEST_REDIS_URL_ENV];
  if (url === undefined || url === '') {
    throw new Error(`${TEST_REDIS_URL_ENV} is not set: run the integration tests through the "integration" Jest project`);
  }
  return url;
}

/** A client of the shared test server. Quit it in afterAll. */
export function testRedisClient(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
}

/**
 * The lifecycle most Redis specs share: a client opened before the file's tests (given to `receive`) and quit after
 * them, and the stacks a test opens (push them on the returned list), closed after each test.
 */
export function useRedisStacks(receive: (client: Redis) => void): { close(): Promise<void> }[] {
  let client: Redis | undefined;
  const stacks: { close(): Promise<void> }[] = [];
  beforeAll(() => {
    client = testRedisClient();
    receive(client);
  });
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((stack) => stack.close()));
  });
  afterAll(async () => {
    await client?.quit();
  });
  return stacks;
}

/** A key prefix no other test uses: tests isolate by prefix and never FLUSHALL the shared server. */
export function uniquePrefix(label = 't'): string {
  return `test:${label}:${randomUUID()}:`;
}

/** All keys under `prefix`, as binary-safe buffers (SCAN, never KEYS). */
export async function keysUnder(client: Redis, prefix: string): Promise<Buffer[]> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const keys: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next.toString();
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

/** Round trips a client made, counted by {@link countRoundTrips}. */
export interface RoundTripCounter {
  /** Network round trips since the last reset: one per plain command, one per pipeline. */
  readonly roundTrips: number;
  /** The names of the commands sent, in order (pipelined ones included). */
  readonly commands: readonly string[];
  /** Forgets what was counted so far. */
  reset(): void;
  /** Puts the client's own `sendCommand` back. */
  restore(): void;
}

interface SentCommand {
  readonly name: string;
}

/**
 * Wraps the real client's `sendCommand` with a counting spy (no mock: every command still reaches Redis).
 * ioredis sends a plain command with `sendCommand(command)` and each command of a pipeline with
 * `sendCommand(command, stream)`, where one `stream` object collects the whole pipeline into one socket
 * write; so a round trip is a command without a stream, or a distinct pipeline stream. A `Cluster` routes every
 * command (pipelined ones included) through its own `sendCommand` the same way, so its count is over all
 * nodes (commands sent straight to a node of `cluster.nodes()` are not counted).
 */
export function countRoundTrips(client: Redis | Cluster): RoundTripCounter {
  // A Cluster's sendCommand takes a third argument (the target node): every argument is passed on.
  const target = client as unknown as { sendCommand: (command: SentCommand, stream?: object, ...rest: unknown[]) => unknown };
  const original = target.sendCommand;
  let writes = new Set<object>();
  let commands: string[] = [];
  target.sendCommand = function (this: unknown, command: SentCommand, stream?: object, ...rest: unknown[]) {
    writes.add(stream !== undefined && (stream as { isPipeline?: boolean }).isPipeline === true ? stream : command);
    commands.push(command.name);
    return original.call(this, command, stream, ...rest);
  };
  return {
    get roundTrips() {
      return writes.size;
    },
    get commands() {
      return commands;
    },
    reset() {
      writes = new Set();
      commands = [];
    },
    restore() {
      target.sendCommand = original;
    },
  };
}

/** A client of the test helpers: something that answers PING and quits. */
interface PairableClient {
  ping(): Promise<string>;
  quit(): Promise<unknown>;
}

/**
 * Two clients for one spec file (a "process" and its peer), made by `create` in beforeAll (after `prepare`,
 * when given) and quit in afterAll. Read them through the returned object once the hooks ran.
 */
export function useClientPair<C extends PairableClient>(
  helper: string,
  create: () => C,
  prepare?: () => Promise<void>,
  timeoutMs?: number,
): { readonly client: C; readonly peer: C } {
  const clients: { client?: C; peer?: C } = {};
  beforeAll(async () => {
    await prepare?.();
    clients.client = create();
    clients.peer = create();
    expect(await clients.client.ping()).toBe('PONG');
    expect(await clients.peer.ping()).toBe('PONG');
  }, timeoutMs);
  afterAll(async () => {
    await Promise.all([clients.client?.quit(), clients.peer?.quit()]);
  });
  const read = (client: C | undefined): C => {
    if (client === undefined) throw new Error(`${helper}: used before beforeAll`);
    return client;
  };
  return {
    get client() {
      return read(clients.client);
    },
    get peer() {
      return read(clients.peer);
    },
  };
}

/** Two clients of the shared test server for one spec file (see {@link useClientPair}). */
export function useTwoTestClients(): { readonly client: Redis; readonly peer: Redis } {
  return useClientPair('useTwoTestClients', testRedisClient);
}
