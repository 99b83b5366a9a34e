import { connect } from 'node:net';
import { redisServerAvailable, startRedisServer } from '../support/redis-server.js';

/** Resolves true when something answers PING with +PONG on the port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

describe('startRedisServer (test support)', () => {
  it('finds the binary, and not a missing one', () => {
    expect(redisServerAvailable()).toBe(true);
    expect(redisServerAvailable('redis-server-that-does-not-exist')).toBe(false);
  });

  it('starts on a free loopback port, stops, and restarts on the same port', async () => {
    const server = await startRedisServer();
    try {
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(await ping(server.port)).toBe(true);
      await server.stop();
      expect(await ping(server.port)).toBe(false);
      await server.stop(); // idempotent
      await server.restart();
      expect(await ping(server.port)).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('two servers get two ports', async () => {
    const [one, two] = await Promise.all([startRedisServer(), startRedisServer()]);
    try {
      expect(one.port).not.toBe(two.port);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });

  it('reports a server that cannot start', async () => {
    await expect(startRedisServer({ args: ['--no-such-option', 'x'] })).rejects.toThrow(/exited during start-up/);
    await expect(startRedisServer({ binary: 'redis-server-that-does-not-exist' })).rejects.toThrow(/Could not run/);
  });
});
