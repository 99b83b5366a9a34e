/**
 * Starts and stops real redis-server processes on free loopback ports (no persistence), for the integration tests
 * and for outage tests that stop and restart a server under a client.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The redis-server binary. @default 'redis-server' (from PATH) */
  binary?: string;
  /** Extra command-line arguments, appended after the defaults. @default [] */
  args?: readonly string[];
  /** How long to wait for the server to answer PING, in milliseconds. @default 10_000 */
  startTimeoutMs?: number;
  /** How many free ports to try when one is taken between probing and binding. @default 5 */
  attempts?: number;
}

/** A redis-server process started by {@link startRedisServer}. */
export interface RedisServerHandle {
  /** The loopback port the server listens on (kept across {@link RedisServerHandle.restart}). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops the server (SIGTERM) and resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (after {@link RedisServerHandle.stop}, or stopping it first). */
  restart(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, what is sent waits unanswered until {@link resume}. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT): it then runs what was sent meanwhile, in order. Idempotent. */
  resume(): void;
}

const LOOPBACK = '127.0.0.1';
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Whether a `redis-server` binary can be run (`redis-server --version` succeeds). */
export function redisServerAvailable(binary = 'redis-server'): boolean {
  const result = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/**
 * Spawns a real `redis-server` on a free loopback port, without persistence, and waits until it answers
 * PING. Nothing is left running: stop it with {@link RedisServerHandle.stop} (a process-exit hook kills
 * forgotten servers as a last resort).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? 'redis-server';
  const extraArgs = options.args ?? [];
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const attempts = options.attempts ?? 5;
  installExitHook();

  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts && child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, port, extraArgs, startTimeoutMs);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  if (child === undefined) throw new Error(`Could not start redis-server after ${attempts} attempts`, { cause: lastError });

  let current: ChildProcess | undefined = child;
  let paused = false;
  const handle: RedisServerHandle = {
    port,
    url: `redis://${LOOPBACK}:${port}`,
    async stop() {
      handle.resume(); // a stopped process would not act on SIGTERM
      const proc = current;
      current = undefined;
      if (proc !== undefined) await terminate(proc);
    },
    pause() {
      if (current === undefined) throw new Error('redis-server is not running');
      current.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (paused) current?.kill('SIGCONT');
      paused = false;
    },
    async restart() {
      await handle.stop();
      // The port was ours a moment ago; retry briefly in case the OS has not released it yet.
      for (let attempt = 0; ; attempt++) {
        try {
          current = await launch(binary, port, extraArgs, startTimeoutMs);
          return;
        } catch (error) {
          if (!(error instanceof PortInUseError) || attempt >= 20) throw error;
          await delay(50);
        }
      }
    },
  };
  return handle;
}

class PortInUseError extends Error {}

/** A port that was free a moment ago (the OS picks it; the probe socket is closed before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('Could not read the probe port'))));
    });
  });
}

async function launch(binary: string, port: number, extraArgs: readonly string[], timeoutMs: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError !== undefined) {
      running.delete(child);
      throw new Error(`Could not run ${binary}: ${spawnError.message}`, { cause: spawnError });
    }
    if (exited) {
      if (/address already in use/i.test(output)) throw new PortInUseError(`Port ${port} is in use`);
      throw new Error(`redis-server exited during start-up:\n${output}`);
    }
    if (await answersPing(port)) return child;
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms:\n${output}`);
    }
    await delay(25);
  }
}

/** Sends an inline PING to the loopback `port` and resolves true on `+PONG` (false on no answer within 500 ms). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      running.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
