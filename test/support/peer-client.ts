/**
 * The parent's side of test/support/peer-process.ts: starts a cache instance in a child process and sends it
 * requests. Used by the multi-process spec and the distributed benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { MonoNs, PeerReply, PeerRequest } from './peer-process.js';

export type { MonoNs, ObservedAt, TimedCall, TimedLoad } from './peer-process.js';

/** Now on the monotonic clock shared by the host's processes (see `MonoNs` in peer-process.ts). */
export function monoNow(): MonoNs {
  return String(process.hrtime.bigint());
}

/** `to - from` in nanoseconds, for instants taken in any processes of this host. */
export function monoElapsedNs(from: MonoNs, to: MonoNs): number {
  return Number(BigInt(to) - BigInt(from));
}

/** The instant `ns` nanoseconds after `from`. */
export function monoAfter(from: MonoNs, ns: number): MonoNs {
  return String(BigInt(from) + BigInt(Math.round(ns)));
}

type Request = PeerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** A child process running one cache instance. */
export class Peer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly listeners = new Set<(reply: PeerReply) => void>();
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (reply: PeerReply) => {
      if (reply.id === 0) {
        for (const listener of this.listeners) listener(reply);
        return;
      }
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new Error(`${name}: ${reply.error ?? 'failed'}`));
    });
    child.on('exit', () => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited`));
      this.pending.clear();
    });
  }

  /** Starts a peer on `redisUrl` under `prefix`; resolves once its stack is ready (bus subscribed). */
  static async start(name: string, env: { redisUrl: string; prefix: string; leaseSeconds?: number; secret?: string }): Promise<Peer> {
    const here = dirname(fileURLToPath(import.meta.url));
    const child = fork(join(here, 'peer-process.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        PEER_REDIS_URL: env.redisUrl,
        PEER_PREFIX: env.prefix,
        PEER_LEASE: String(env.leaseSeconds ?? 5),
        PEER_NAME: name,
        ...(env.secret !== undefined && { PEER_SECRET: env.secret }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const peer = new Peer(name, child);
    await peer.event((reply) => reply.value === 'ready', 30_000);
    return peer;
  }

  /** Sends `request`; resolves with the peer's answer. */
  call<T = unknown>(request: Request): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  /** Resolves at the first unsolicited message for which `match` is true. */
  event(match: (reply: PeerReply) => boolean, timeoutMs = 10_000): Promise<PeerReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`${this.name}: no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (reply: PeerReply) => {
        if (!match(reply)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(reply);
      };
      this.listeners.add(listener);
    });
  }

  /** Kills the process at once (SIGKILL: no cleanup, leases stay until they expire). */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Asks the peer to close its stack and exit; kills it if it does not within 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.kill(), 5_000);
    this.call({ op: 'close' }).catch(() => undefined);
    await exited;
    clearTimeout(timer);
  }
}
