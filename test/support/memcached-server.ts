/**
 * Starts and stops real memcached processes on free loopback ports for the MemcachedLayer tests, and reads an
 * item's remaining lifetime with the text protocol's meta get (`mg <key> b t`), which memjs does not offer.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './redis-server.js';

const LOOPBACK = '127.0.0.1';

/** A memcached process started by {@link startMemcached}. */
export interface MemcachedHandle {
  readonly port: number;
  /** `127.0.0.1:<port>`, as `MemcachedLayer({ servers })` takes it. */
  readonly address: string;
  /** Stops the server (SIGTERM) and waits for its exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** The remaining lifetime in seconds of the item under `key` (-1: no expiry), or `undefined` when it is missing. */
  remainingSeconds(key: string): Promise<number | undefined>;
}

/** Whether a `memcached` binary can be run. */
export function memcachedAvailable(): boolean {
  const result = spawnSync('memcached', ['--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/**
 * Spawns `memcached -p <port> -l 127.0.0.1 -U 0` (no UDP) with `extraArgs` (e.g. `['-I', '2m']`), and waits until it
 * answers `version`. Fails with install instructions when memcached is missing.
 */
export async function startMemcached(extraArgs: readonly string[] = []): Promise<MemcachedHandle> {
  if (!memcachedAvailable()) {
    throw new Error('memcached not found: the MemcachedLayer tests start their own. Install it with `sudo apt-get install -y memcached` or `brew install memcached`.');
  }
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, extraArgs);
  const handle: MemcachedHandle = {
    port,
    address: `${LOOPBACK}:${port}`,
    async stop() {
      const proc = child;
      child = undefined;
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
        await new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
        });
      }
    },
    async restart() {
      await handle.stop();
      child = await launch(port, extraArgs);
    },
    remainingSeconds: (key) => metaTtl(port, key),
  };
  return handle;
}

async function launch(port: number, extraArgs: readonly string[]): Promise<ChildProcess> {
  // memcached refuses to run as root unless told which user to run as (CI machines run as root).
  const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const child = spawn('memcached', ['-p', String(port), '-l', LOOPBACK, '-U', '0', ...asRoot, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-2000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`memcached exited during start-up:\n${output}`);
    if ((await textCommand(port, 'version\r\n').catch(() => '')).startsWith('VERSION')) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`memcached did not answer on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `mg <base64 key> b t`: `HD t<seconds>` (-1: never expires) or `EN` (missing). */
async function metaTtl(port: number, key: string): Promise<number | undefined> {
  const reply = await textCommand(port, `mg ${Buffer.from(key).toString('base64')} b t\r\n`);
  if (reply.startsWith('EN')) return undefined;
  const match = /^HD.* t(-?\d+)/.exec(reply);
  if (match === null) throw new Error(`unexpected meta get reply: ${JSON.stringify(reply)}`);
  return Number(match[1]);
}

/** Sends one text-protocol command and resolves with the first reply line. */
function textCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LOOPBACK, port });
    let reply = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      reject(new Error('memcached did not answer'));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(command));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
  });
}
