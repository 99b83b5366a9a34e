/**
 * The followers of `RedisSingleFlightCoordinator` in one process: their waits, by key, and the polling of the
 * leases they wait on (protocol and races in `redis-single-flight.coordinator.ts`'s header).
 *
 * - A follower is registered before its acquire script runs (so no notice after the script is missed), and
 *   resolves once: on a notice for its key (`filled` / `released`), on a poll that finds no live lease
 *   (`released`), or after its `maxWaitMs` (`timeout`); its timers are then cleared, and it never rejects.
 * - One poll per key (the read-only {@link LEASE_TIME_LEFT} script), every poll interval, or earlier when the
 *   lease ends sooner. A failed poll (Redis down) resolves the key's followers `released`: their stack asks
 *   again, the acquire fails, it loads locally (rather than waiting `maxWaitMs`). The last follower of a key
 *   stops the key's poll.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { BurstLogger } from '../core/logger.js';
import { runScript, type RedisClient } from './redis-client.js';
import { LEASE_TIME_LEFT } from './redis-load.lease.js';

/** How a follower's wait ends. */
export type LoadWaitOutcome = 'filled' | 'released' | 'timeout';

/** The longest delay a Node timer accepts, in milliseconds (a longer one fires at once). */
export const MAX_TIMER_MS = 2_147_483_647;

/** The followers of one key in this process, sharing one poll. */
export class KeyFollowers {
  /** The waiting followers. */
  readonly followers = new Set<LoadFollower>();
  /** The next poll, if one is scheduled. */
  pollTimer: TimerHandle | undefined;
  /** When the next poll is due, in the clock's milliseconds. */
  pollAt = 0;
  /** A poll is running (it schedules the next one). */
  polling = false;

  constructor(
    readonly key: string,
    readonly redisKey: string,
  ) {}
}

/** One follower's wait, registered by {@link LoadFollowerRegistry.join}. */
export class LoadFollower {
  /** Resolves once, with how the wait ended; never rejects. */
  readonly promise: Promise<LoadWaitOutcome>;
  /** Resolves {@link promise}. */
  settle!: (outcome: LoadWaitOutcome) => void;
  /** The `maxWaitMs` timer, until the wait ends. */
  timer: TimerHandle | undefined;

  constructor(
    /** The followers of the same key. */
    readonly group: KeyFollowers,
  ) {
    this.promise = new Promise<LoadWaitOutcome>((resolve) => {
      this.settle = resolve;
    });
  }
}

/** The waiting followers of one coordinator, by key, and their polls (see this file's header). */
export class LoadFollowerRegistry {
  private readonly groups = new Map<string, KeyFollowers>();
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly clock: Clock,
    private readonly burst: BurstLogger,
    /** The poll interval, in milliseconds (at most {@link MAX_TIMER_MS}). */
    private readonly pollIntervalMs: number,
  ) {}

  /** Registers a follower of `key` (its timeout starts now; the key's poll starts with its first follower). */
  join(key: string, redisKey: string, maxWaitMs: number): LoadFollower {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new KeyFollowers(key, redisKey);
      this.groups.set(key, group);
      this.schedulePoll(group, this.pollIntervalMs);
    }
    const follower = new LoadFollower(group);
    group.followers.add(follower);
    follower.timer = this.clock.setTimeout(() => this.finish(follower, 'timeout'), Math.min(maxWaitMs, MAX_TIMER_MS));
    return follower;
  }

  /** `follower` waits on a live lease with `leftMs` to go: its key is polled by then at the latest. */
  follow(follower: LoadFollower, leftMs: number): void {
    if (follower.group.followers.has(follower)) this.schedulePoll(follower.group, Math.min(this.pollIntervalMs, leftMs));
  }

  /** Resolves `follower` once and unregisters it; the last follower of a key stops the key's poll. */
  finish(follower: LoadFollower, outcome: LoadWaitOutcome): void {
    const group = follower.group;
    if (!group.followers.delete(follower)) return;
    if (follower.timer !== undefined) this.clock.clearTimeout(follower.timer);
    follower.timer = undefined;
    if (group.followers.size === 0) {
      if (group.pollTimer !== undefined) this.clock.clearTimeout(group.pollTimer);
      group.pollTimer = undefined;
      if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    }
    follower.settle(outcome);
  }

  /** Resolves every follower of `key` with `outcome` (a notice was heard). */
  notify(key: string, outcome: LoadWaitOutcome): void {
    const group = this.groups.get(key);
    if (group === undefined) return;
    for (const follower of group.followers) this.finish(follower, outcome);
  }

  /** Polls every key at once (notices may have been lost). */
  pollAll(): void {
    for (const group of this.groups.values()) this.schedulePoll(group, 0);
  }

  /** Resolves every follower `timeout` and stops polling, for good. */
  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      for (const follower of group.followers) this.finish(follower, 'timeout');
    }
    this.groups.clear();
  }

  /** Polls `group` in `delayMs`, unless a poll is due sooner or running (that one schedules the next). */
  private schedulePoll(group: KeyFollowers, delayMs: number): void {
    if (group.polling || this.closed) return;
    const at = this.clock.now() + delayMs;
    if (group.pollTimer !== undefined) {
      if (group.pollAt <= at) return;
      this.clock.clearTimeout(group.pollTimer);
    }
    group.pollAt = at;
    group.pollTimer = this.clock.setTimeout(() => void this.poll(group), delayMs);
  }

  /** Checks the lease of `group`'s key: none live → the followers registered before the check are `released`. */
  private async poll(group: KeyFollowers): Promise<void> {
    group.pollTimer = undefined;
    if (this.closed || group.followers.size === 0) return;
    group.polling = true;
    const polled = Array.from(group.followers);
    let leftMs: number;
    try {
      leftMs = Number(await runScript(this.client, LEASE_TIME_LEFT, [group.redisKey], []));
      this.burst.success('RedisSingleFlightCoordinator poll');
    } catch (error) {
      leftMs = 0; // Redis unreachable: release the followers, whose stack then loads locally (race 5)
      this.burst.failure('RedisSingleFlightCoordinator poll', 'RedisSingleFlightCoordinator could not poll a load lease; its followers are released', error);
    }
    group.polling = false;
    if (!(leftMs > 0)) for (const follower of polled) this.finish(follower, 'released');
    if (group.followers.size > 0) this.schedulePoll(group, leftMs > 0 ? Math.min(this.pollIntervalMs, leftMs) : this.pollIntervalMs);
  }
}
