import { answersPing as ping, redisServerAvailable, startRedisServer } from '../support/redis-server.js';

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
