/**
 * The L1 invalidation bus (docs/distributed.md, "Invalidation bus"): every write, delete, tag invalidation and clear
 * of one process is announced to its peers, which drop (or, for tags, re-validate) their in-process copies.
 * The shared layer (Redis) needs no bus: it is one copy.
 *
 * Messages carry the origin id of the publishing stack (peers ignore their own) and a version where one
 * applies: a peer drops only the copies older than the message's version, so a late message about an older
 * write is a no-op and never removes a newer value.
 */
import type { TagMatchMode } from './tag-store.js';

/** One announcement on the bus; keys are the stacks' internal (namespaced) keys. */
export type InvalidationMessage =
  /** `keys` were written or deleted at `version`: drop copies older than it. */
  | { readonly kind: 'keys'; readonly keys: readonly string[]; readonly version: number }
  /**
   * `tags` were invalidated with `versions` (see `TagStore`): "any" mode, one per tag; "all" mode, one for the group.
   */
  | { readonly kind: 'tags'; readonly tags: readonly string[]; readonly mode: TagMatchMode; readonly versions: readonly number[] }
  /** Every key starting with `prefix` (every key when `undefined`) was removed at `version`. */
  | { readonly kind: 'clear'; readonly prefix: string | undefined; readonly version: number }
  /** The namespace whose key prefix is `scope` (`''`: the root) moved to `generation` (see `CacheStack.bumpGeneration`). */
  | { readonly kind: 'generation'; readonly scope: string; readonly generation: number };

/** What a bus calls back into the stack that owns it. */
export interface InvalidationBusHandlers {
  /**
   * A valid message from another stack (own messages are never delivered). `sentAt`: the sender's wall clock when
   * it published (ms since 1970), when the message carries one; the stack measures the bus lag from it.
   */
  onMessage(message: InvalidationMessage, sentAt?: number): void;
  /**
   * The subscription was interrupted and is back: messages may have been missed, so the stack clears its
   * in-process layer. Not called for the first subscription.
   */
  onResubscribed(): void;
}

/**
 * Where a bus's subscription stands (`InvalidationBus.subscription()`, `CacheStack.health()`): `subscribing` before the
 * first subscription is confirmed, `subscribed` while peers' messages arrive, `interrupted` while the subscription is
 * lost or could not be made (the bus is trying again; the L1 does not hear peers meanwhile), `closed` after `close()`.
 */
export type BusSubscriptionState = 'subscribing' | 'subscribed' | 'interrupted' | 'closed';

/** The contract of an invalidation bus (Redis pub/sub: `RedisInvalidationBus`). */
export interface InvalidationBus {
  /** This stack's origin id, unique per bus instance; messages carrying it are not delivered back. */
  readonly originId: string;
  /** Starts listening; resolves once subscribed (or rejects when the subscription fails). Called once. */
  start(handlers: InvalidationBusHandlers): Promise<void>;
  /** Announces `message` to the peers. Rejects when it cannot be sent (the stack counts and logs it). */
  publish(message: InvalidationMessage): Promise<void>;
  /** Unsubscribes and closes the connections the bus opened itself (never a client passed in). */
  close(): Promise<void>;
  /**
   * Where the subscription stands now, for health checks. Optional: without it the stack judges by what it saw
   * (`start()` pending, resolved or rejected; `onResubscribed()`), which cannot tell a subscription lost later.
   */
  subscription?(): BusSubscriptionState;
}
