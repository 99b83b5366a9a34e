/**
 * In-process stand-ins for the Redis bus and coordinator, to test several stacks of "one cluster" on one
 * fake clock in a unit test: the protocols of `InvalidationBus` and `LoadCoordinator`, with no network.
 * The Redis implementations have their own integration specs; these exist to test the stack's side.
 */
import type { Clock, TimerHandle } from '../../lib/core/clock.js';
import type { BusSubscriptionState, InvalidationBus, InvalidationBusHandlers, InvalidationMessage } from '../../lib/core/invalidation-bus.js';
import type { LoadCoordinator, LoadLease, LoadTicket } from '../../lib/core/load-coordinator.js';

/** A pub/sub channel shared by the buses it makes. Messages are delivered on a microtask, or held. */
export class BusHub {
  private readonly buses = new Set<HubBus>();
  private held: (() => void)[] | undefined;
  /** Every message published, in order. */
  readonly log: { origin: string; message: InvalidationMessage }[] = [];

  bus(): HubBus {
    const bus = new HubBus(this, `peer-${this.buses.size + 1}`);
    this.buses.add(bus);
    return bus;
  }

  /** From now on, messages wait for {@link release} (messages in flight). */
  hold(): void {
    this.held ??= [];
  }

  /** Delivers the held messages, in order (or `order` them first, e.g. reversed), and stops holding. */
  release(order: (deliveries: (() => void)[]) => (() => void)[] = (d) => d): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of order(held)) deliver();
  }

  /** @internal */
  send(from: HubBus, message: InvalidationMessage): void {
    this.log.push({ origin: from.originId, message });
    for (const bus of this.buses) {
      if (bus === from) continue;
      const deliver = () => bus.deliver(message);
      if (this.held !== undefined) this.held.push(deliver);
      else queueMicrotask(deliver);
    }
  }

  /** @internal */
  remove(bus: HubBus): void {
    this.buses.delete(bus);
  }
}

export class HubBus implements InvalidationBus {
  private handlers: InvalidationBusHandlers | undefined;
  /** When false, this bus neither sends nor hears (a broken subscription). */
  connected = true;

  constructor(
    private readonly hub: BusHub,
    readonly originId: string,
  ) {}

  start(handlers: InvalidationBusHandlers): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }

  publish(message: InvalidationMessage): Promise<void> {
    if (!this.connected) return Promise.reject(new Error('bus disconnected'));
    this.hub.send(this, message);
    return Promise.resolve();
  }

  /** Where the subscription stands, as a real bus reports it: interrupted while disconnected. */
  subscription(): BusSubscriptionState {
    return this.connected ? 'subscribed' : 'interrupted';
  }

  /** Simulates a reconnection of the subscriber: the stack is told it may have missed messages. */
  resubscribe(): void {
    this.connected = true;
    this.handlers?.onResubscribed();
  }

  /** @internal */
  deliver(message: InvalidationMessage): void {
    if (this.connected) this.handlers?.onMessage(message);
  }

  close(): Promise<void> {
    this.hub.remove(this);
    return Promise.resolve();
  }
}

interface HeldLease {
  owner: object;
  version: number;
  expiresAt: number;
}

/** Leases and fill notices shared by the coordinators it makes, on one clock. */
export class CoordinatorHub {
  private readonly leases = new Map<string, HeldLease>();
  private readonly waiters = new Map<string, Set<(outcome: 'filled' | 'released') => void>>();
  private lastVersion = 0;
  /** When set, every acquire rejects with it (the coordinator's Redis is down). */
  failure: Error | undefined;
  acquires = 0;
  /** Owners whose renewals are lost (a frozen process: its renewals never reach the coordinator). */
  private readonly frozen = new WeakSet<object>();
  private readonly owners = new WeakMap<LoadCoordinator, object>();

  constructor(
    private readonly clock: Clock,
    /** Fallback polling interval of followers, ms. */
    private readonly pollMs = 1_000,
  ) {}

  coordinator(): LoadCoordinator {
    const owner = {};
    const coordinator: LoadCoordinator = {
      shared: true,
      acquire: (key, ttlMs, maxWaitMs) => this.acquire(owner, key, ttlMs, maxWaitMs),
      // The health check answers as the coordinator's Redis would: it fails while `failure` is set.
      probe: () => (this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure)),
      close: () => Promise.resolve(),
    };
    this.owners.set(coordinator, owner);
    return coordinator;
  }

  /** From now on, the renewals of `coordinator`'s leases are lost: its leases expire by their ttl. */
  freezeRenewals(coordinator: LoadCoordinator): void {
    const owner = this.owners.get(coordinator);
    if (owner === undefined) throw new Error('not a coordinator of this hub');
    this.frozen.add(owner);
  }

  /** Whether a live lease on `key` exists. */
  held(key: string): boolean {
    const lease = this.leases.get(key);
    return lease !== undefined && lease.expiresAt > this.clock.now();
  }

  private acquire(owner: object, key: string, ttlMs: number, maxWaitMs: number): Promise<LoadTicket> {
    this.acquires++;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.held(key)) {
      const held: HeldLease = { owner, version: ++this.lastVersion + this.clock.now() * 1000, expiresAt: this.clock.now() + ttlMs };
      this.lastVersion = held.version;
      this.leases.set(key, held);
      return Promise.resolve({ role: 'leader', lease: this.lease(key, held) });
    }
    return Promise.resolve({ role: 'follower', wait: this.wait(key, maxWaitMs) });
  }

  private lease(key: string, held: HeldLease): LoadLease {
    const mine = () => this.leases.get(key) === held && held.expiresAt > this.clock.now();
    return {
      key,
      version: held.version,
      renew: (ttlMs) => {
        if (this.frozen.has(held.owner)) return Promise.resolve(true); // sent, never arrives
        if (!mine()) return Promise.resolve(false);
        held.expiresAt = this.clock.now() + ttlMs;
        return Promise.resolve(true);
      },
      filled: () => {
        this.wake(key, 'filled');
        return Promise.resolve();
      },
      release: () => {
        if (!mine()) return Promise.resolve(false);
        this.leases.delete(key);
        this.wake(key, 'released');
        return Promise.resolve(true);
      },
    };
  }

  private wait(key: string, maxWaitMs: number): Promise<'filled' | 'released' | 'timeout'> {
    return new Promise((resolve) => {
      const timers: TimerHandle[] = [];
      let waiters = this.waiters.get(key);
      if (waiters === undefined) this.waiters.set(key, (waiters = new Set()));
      const done = (outcome: 'filled' | 'released' | 'timeout') => {
        waiters.delete(wake);
        for (const timer of timers) this.clock.clearTimeout(timer);
        resolve(outcome);
      };
      const wake = (outcome: 'filled' | 'released') => done(outcome);
      waiters.add(wake);
      timers.push(this.clock.setTimeout(() => done('timeout'), maxWaitMs));
      const poll = () => {
        timers.push(
          this.clock.setTimeout(() => {
            if (!this.held(key)) done('released');
            else poll();
          }, this.pollMs),
        );
      };
      poll();
    });
  }

  private wake(key: string, outcome: 'filled' | 'released'): void {
    for (const wake of [...(this.waiters.get(key) ?? [])]) wake(outcome);
  }
}
