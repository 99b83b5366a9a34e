/**
 * Which ioredis clients code opens: watches `Redis.prototype.connect` (the real method still runs; nothing is
 * replaced) and lists the clients it was called on, in order. For e2e tests of the module, which must check
 * the connection it opened itself (its options, its status after `app.close()`) without reaching into the stack.
 */
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';

export interface RedisClientWatch {
  /** The clients that connected since the watch started, first first (a `duplicate()` counts too). */
  readonly opened: readonly Redis[];
  /** The first client opened: the module's own connection (its subscribers are duplicated from it later). */
  first(): Redis;
  stop(): void;
}

export function watchRedisClients(): RedisClientWatch {
  const spy = jest.spyOn(Redis.prototype, 'connect');
  return {
    get opened() {
      return spy.mock.contexts as Redis[];
    },
    first() {
      const client = spy.mock.contexts[0] as Redis | undefined;
      if (client === undefined) throw new Error('no Redis client was opened');
      return client;
    },
    stop: () => spy.mockRestore(),
  };
}
