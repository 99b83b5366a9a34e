/**
 * One cache instance in a child process, driven by its parent over IPC: the "replica" of the multi-process
 * specs and benchmarks. It builds a `CacheStack([MemoryLayer, RedisLayer])` with a `RedisInvalidationBus` and a
 * `RedisSingleFlightCoordinator` on the Redis URL and prefix given in its environment, then answers requests
 * `{ id, op, ... }` with `{ id, ok, value | error }`. Started with `node --import tsx` (see `startPeer`).
 *
 * Environment: PEER_REDIS_URL (a redis:// URL, or `cluster:host:port,...`), PEER_PREFIX, PEER_LEASE (singleFlightLease, seconds), PEER_NAME,
 * PEER_SECRET (the bus's `secret`, optional).
 *
 * Timed ops (for bench/distributed.bench.ts) report instants as {@link MonoNs}: `process.hrtime.bigint()`,
 * i.e. CLOCK_MONOTONIC, one clock shared by every process of the host, so instants taken in two processes can be
 * subtracted exactly. (`performance.timeOrigin + performance.now()` cannot: each process fixes its time origin
 * from the wall clock at start-up, and those origins disagree by up to about a millisecond.) The L1 drop is
 * timed by a hook on the memory layer's `delete` / `clear`, which the bus handler calls synchronously: no
 * polling, no IPC in the measured interval.
 */
import { Cluster, Redis } from 'ioredis';
import { isDeepStrictEqual } from 'node:util';
import { RedisInvalidationBus } from '../../lib/redis/redis-invalidation.bus.js';
import { RedisSingleFlightCoordinator } from '../../lib/redis/redis-single-flight.coordinator.js';
import { MemoryLayer } from '../../lib/layers/memory.layer.js';
import { RedisLayer } from '../../lib/redis/redis.layer.js';
import { CACHE_MISS } from '../../lib/stack/cache-stack.js';
import { CacheStack } from '../../lib/stack/cache-stack.js';

/** An instant of CLOCK_MONOTONIC in nanoseconds (`process.hrtime.bigint()`), as a decimal string (IPC is JSON). */
export type MonoNs = string;

/** What `timedWrite` and `rawPublish` answer: when the call started and when it resolved. */
export interface TimedCall {
  readonly startNs: MonoNs;
  readonly resolvedNs: MonoNs;
}

/** What `dropTime` and `messageTime` answer: when the watched L1 copy was dropped / the message arrived. */
export interface ObservedAt {
  readonly atNs: MonoNs;
  /** `hook`: seen by the memory layer's delete/clear hook (exact); `poll`: by the 1 ms fallback poll. */
  readonly via: 'hook' | 'poll' | 'message';
}

/** What `loadTimed` answers. */
export interface TimedLoad {
  /** When the gets were started (after waiting for `startAtNs`). */
  readonly startNs: MonoNs;
  /** When the first and the last of the gets resolved. */
  readonly firstNs: MonoNs;
  readonly lastNs: MonoNs;
  /** Loader calls made by this request's gets. */
  readonly loaderCalls: number;
  /** Every get resolved to the requested value. */
  readonly allMatch: boolean;
}

/** A request from the parent. */
export type PeerRequest =
  /** `namespace` (set, peek, get): the call goes to `stack.namespace(namespace)`. */
  | { id: number; op: 'set'; key: string; value: unknown; tags?: string[]; namespace?: string }
  | { id: number; op: 'delete'; key: string }
  | { id: number; op: 'invalidateTag'; tag: string }
  | { id: number; op: 'peek'; key: string; namespace?: string }
  | { id: number; op: 'get'; key: string; namespace?: string }
  /** `count` concurrent `get(key, loader)`; the loader waits `delayMs` (forever when -1) and returns `value`. */
  | { id: number; op: 'load'; key: string; count: number; delayMs: number; value: unknown }
  /** The peer's loader calls and its stack's metrics. */
  | { id: number; op: 'metrics' }
  /** `stack.set(key, value)` or `stack.delete(key)`, timed: answers a {@link TimedCall}. */
  | { id: number; op: 'timedWrite'; kind: 'set' | 'delete'; key: string; value?: unknown }
  /** Arms a watch on the L1 copy of `key` and answers true, or answers false (no watch) when `key` is not in L1; see `dropTime`. */
  | { id: number; op: 'watchDrop'; key: string }
  /** When the watched copy of `key` left L1 (waits up to `timeoutMs`): an {@link ObservedAt}. */
  | { id: number; op: 'dropTime'; key: string; timeoutMs: number }
  /** Subscribes a plain ioredis connection (a duplicate of the stack's client) to `channel`. */
  | { id: number; op: 'rawSubscribe'; channel: string }
  /** Arms a watch for the message `message` on a channel subscribed with `rawSubscribe`; see `messageTime`. */
  | { id: number; op: 'watchMessage'; message: string }
  /** When the watched message arrived (waits up to `timeoutMs`): an {@link ObservedAt}. */
  | { id: number; op: 'messageTime'; message: string; timeoutMs: number }
  /** A plain `PUBLISH channel message` on the stack's client (after a plain `SET` of `setKey` when given), timed: a {@link TimedCall}. */
  | { id: number; op: 'rawPublish'; channel: string; message: string; setKey?: string }
  /**
   * Like `load`, timed: waits until the monotonic instant `startAtNs` (when given), starts `count` concurrent
   * `get(key, loader)` (the loader waits `delayMs`), answers a {@link TimedLoad}.
   */
  | { id: number; op: 'loadTimed'; key: string; count: number; delayMs: number; value: unknown; startAtNs?: MonoNs }
  | { id: number; op: 'close' };

/** A reply to the parent, or an unsolicited event (`id` 0). */
export interface PeerReply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
  event?: 'loader-started';
}

const url = process.env['PEER_REDIS_URL'];
const prefix = process.env['PEER_PREFIX'] ?? 'lc:';
const lease = Number(process.env['PEER_LEASE'] ?? '5');
const secret = process.env['PEER_SECRET'];
if (url === undefined) throw new Error('PEER_REDIS_URL is not set');

// PEER_REDIS_URL is a redis:// URL, or `cluster:host:port,host:port` for a Redis Cluster.
const client: Redis | Cluster = url.startsWith('cluster:')
  ? new Cluster(
      url
        .slice('cluster:'.length)
        .split(',')
        .map((node) => ({ host: node.split(':')[0] as string, port: Number(node.split(':')[1]) })),
      { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } },
    )
  : new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
client.on('error', () => undefined); // the stack's guard reports failures
let loaderCalls = 0;
const quiet = { warn: () => undefined, error: () => undefined, log: () => undefined };

const monoNow = (): MonoNs => String(process.hrtime.bigint());

/** Watches armed by `watchDrop`: key → when its copy left L1 (undefined while still there). */
const dropWatches = new Map<string, { at: ObservedAt | undefined; wake: (() => void) | undefined }>();

/** The memory layer, plus a hook that times the drop of watched keys (the bus's handler calls delete/clear synchronously). */
class WatchedMemoryLayer extends MemoryLayer {
  override delete(keys: readonly string[]): void {
    super.delete(keys);
    if (dropWatches.size > 0) checkDropWatches('hook');
  }

  override clear(prefix: string | undefined): void {
    super.clear(prefix);
    if (dropWatches.size > 0) checkDropWatches('hook');
  }
}

function checkDropWatches(via: 'hook' | 'poll'): void {
  for (const [key, watch] of dropWatches) {
    if (watch.at !== undefined || stack.peek(key) !== CACHE_MISS) continue;
    watch.at = { atNs: monoNow(), via };
    watch.wake?.();
  }
}

const stack = new CacheStack([new WatchedMemoryLayer(), new RedisLayer({ client, prefix })], {
  ttl: 300,
  logger: quiet,
  invalidationBus: new RedisInvalidationBus({ client, prefix, logger: quiet, ...(secret !== undefined && { secret }) }),
  singleFlight: new RedisSingleFlightCoordinator({ client, prefix, logger: quiet, pollInterval: '200ms' }),
  singleFlightLease: lease,
});

/** The plain subscriber of `rawSubscribe`, and the messages watched on it. */
let rawSubscriber: Redis | undefined;
const messageWatches = new Map<string, { at: ObservedAt | undefined; wake: (() => void) | undefined }>();

/** Resolves when `watch.at` is set, or rejects after `timeoutMs`; a 1 ms poll of `check` runs meanwhile when given. */
function observed(
  watch: { at: ObservedAt | undefined; wake: (() => void) | undefined },
  what: string,
  timeoutMs: number,
  check?: () => void,
): Promise<ObservedAt> {
  if (watch.at !== undefined) return Promise.resolve(watch.at);
  return new Promise((resolve, reject) => {
    const poll = check === undefined ? undefined : setInterval(check, 1);
    const timer = setTimeout(() => {
      if (poll !== undefined) clearInterval(poll);
      watch.wake = undefined;
      reject(new Error(`${what} not observed within ${timeoutMs} ms`));
    }, timeoutMs);
    watch.wake = () => {
      if (poll !== undefined) clearInterval(poll);
      clearTimeout(timer);
      watch.wake = undefined;
      if (watch.at !== undefined) resolve(watch.at);
    };
  });
}

/** Waits until the monotonic instant `atNs`: a timer for the bulk, then setImmediate turns for the last 2 ms. */
async function waitUntil(atNs: bigint): Promise<void> {
  for (;;) {
    const left = atNs - process.hrtime.bigint();
    if (left <= 0n) return;
    if (left > 2_000_000n) await new Promise((resolve) => setTimeout(resolve, Number(left / 1_000_000n) - 1));
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The stack, or its namespace view `name`. */
function view(name: string | undefined): CacheStack {
  return name === undefined ? stack : stack.namespace(name);
}

function send(reply: PeerReply): void {
  process.send?.(reply);
}

async function handle(request: PeerRequest): Promise<unknown> {
  switch (request.op) {
    case 'set':
      await view(request.namespace).set(request.key, request.value, request.tags === undefined ? undefined : { tags: request.tags });
      return undefined;
    case 'delete':
      await stack.delete(request.key);
      return undefined;
    case 'invalidateTag':
      await stack.invalidateByTag(request.tag);
      return undefined;
    case 'peek': {
      const value = view(request.namespace).peek(request.key);
      return value === CACHE_MISS ? { miss: true } : { value };
    }
    case 'get':
      return view(request.namespace).get(request.key);
    case 'load': {
      const loader = async () => {
        loaderCalls++;
        send({ id: 0, ok: true, event: 'loader-started' });
        if (request.delayMs < 0) await new Promise(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, request.delayMs));
        return request.value;
      };
      const started = Date.now();
      const values = await Promise.all(Array.from({ length: request.count }, () => stack.get(request.key, loader)));
      return { values, ms: Date.now() - started };
    }
    case 'metrics':
      return { loaderCalls, metrics: stack.getMetrics() };
    case 'timedWrite': {
      const startNs = monoNow();
      if (request.kind === 'set') await stack.set(request.key, request.value);
      else await stack.delete(request.key);
      const resolvedNs = monoNow();
      return { startNs, resolvedNs } satisfies TimedCall;
    }
    case 'watchDrop':
      if (stack.peek(request.key) === CACHE_MISS) return false;
      dropWatches.set(request.key, { at: undefined, wake: undefined });
      return true;
    case 'dropTime': {
      const watch = dropWatches.get(request.key);
      if (watch === undefined) throw new Error(`dropTime: no watch on "${request.key}"`);
      try {
        return await observed(watch, `the drop of "${request.key}" from L1`, request.timeoutMs, () => checkDropWatches('poll'));
      } finally {
        dropWatches.delete(request.key);
      }
    }
    case 'rawSubscribe': {
      if (rawSubscriber === undefined) {
        if (client instanceof Cluster) throw new Error('rawSubscribe runs on a single Redis only');
        const subscriber = client.duplicate({ enableOfflineQueue: true });
        subscriber.on('error', () => undefined);
        subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => {
          if (messageWatches.size === 0) return;
          const watch = messageWatches.get(payload.toString('utf8'));
          if (watch === undefined || watch.at !== undefined) return;
          watch.at = { atNs: monoNow(), via: 'message' };
          watch.wake?.();
        });
        rawSubscriber = subscriber;
      }
      await rawSubscriber.subscribe(request.channel);
      return undefined;
    }
    case 'watchMessage':
      messageWatches.set(request.message, { at: undefined, wake: undefined });
      return undefined;
    case 'messageTime': {
      const watch = messageWatches.get(request.message);
      if (watch === undefined) throw new Error(`messageTime: no watch on "${request.message}"`);
      try {
        return await observed(watch, `the message "${request.message}"`, request.timeoutMs);
      } finally {
        messageWatches.delete(request.message);
      }
    }
    case 'rawPublish': {
      const startNs = monoNow();
      if (request.setKey !== undefined) await client.set(request.setKey, request.message);
      await client.publish(request.channel, request.message);
      const resolvedNs = monoNow();
      return { startNs, resolvedNs } satisfies TimedCall;
    }
    case 'loadTimed': {
      let calls = 0;
      const loader = async () => {
        calls++;
        loaderCalls++;
        await new Promise((resolve) => setTimeout(resolve, request.delayMs));
        return request.value;
      };
      if (request.startAtNs !== undefined) await waitUntil(BigInt(request.startAtNs));
      let firstNs: MonoNs | undefined;
      let lastNs: MonoNs | undefined;
      const startNs = monoNow();
      // Only timestamps while the gets resolve: the values are compared afterwards (a deep compare per caller
      // would delay the callers behind it).
      const values = await Promise.all(
        Array.from({ length: request.count }, () =>
          stack.get(request.key, loader).then((value) => {
            const at = monoNow();
            firstNs ??= at;
            lastNs = at;
            return value;
          }),
        ),
      );
      const allMatch = values.every((value) => isDeepStrictEqual(value, request.value));
      return { startNs, firstNs: firstNs ?? startNs, lastNs: lastNs ?? startNs, loaderCalls: calls, allMatch } satisfies TimedLoad;
    }
    case 'close':
      rawSubscriber?.disconnect();
      await stack.close();
      await client.quit();
      setImmediate(() => process.exit(0));
      return undefined;
  }
}

// A parent that dies (a killed test or benchmark) closes the IPC channel: stop too, instead of retrying Redis forever.
process.on('disconnect', () => process.exit(1));

process.on('message', (request: PeerRequest) => {
  handle(request).then(
    (value) => send({ id: request.id, ok: true, value }),
    (error: unknown) => send({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});

// Ready once the connection is up (commands sent before would fail: no offline queue) and the bus subscribed.
const connected = client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
void connected.then(() => stack.ready()).then(() => send({ id: 0, ok: true, value: 'ready' }));
