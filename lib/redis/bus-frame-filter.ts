/**
 * What a payload received by `RedisInvalidationBus` passes before the bus handles it: decoding (shape and, with
 * a secret, signature: `InvalidationMessageCodec`), then, for a bus with a secret, the replay window of the
 * message's stamp (`ReplayGuard`). Every drop is counted and logged once per burst, by cause (malformed, bad
 * signature, replayed or outdated); a message that passes ends the bursts.
 */
import type { BurstLogger } from '../core/logger.js';
import type { InvalidationFrame, InvalidationMessageCodec } from './invalidation-message.codec.js';
import type { ReplayGuard } from './message-signing.js';

/** The drop counters the filter increments (the bus's own stats). */
export interface FrameDropCounters {
  malformed: number;
  badSignature: number;
  replayed: number;
}

/** A frame that passed the checks. */
export type AcceptedFrame = Extract<InvalidationFrame, { ok: true }>;

export class BusFrameFilter {
  constructor(
    private readonly codec: InvalidationMessageCodec,
    /** The replay check; `undefined` without a secret (unsigned messages have no stamp to check). */
    private readonly replays: ReplayGuard | undefined,
    private readonly burst: BurstLogger,
    private readonly counters: FrameDropCounters,
    /** The channel, quoted, for the log lines. */
    private readonly channelLabel: string,
  ) {}

  /** The decoded frame, or `undefined` when dropped (counted and logged). */
  accept(payload: Buffer): AcceptedFrame | undefined {
    const result = this.codec.decodeFrame(payload);
    if (!result.ok) {
      const signature = result.problem === 'signature';
      if (signature) this.counters.badSignature++;
      else this.counters.malformed++;
      const what = signature ? 'a message with a bad signature' : 'a malformed message';
      this.burst.failure(this.source(result.problem), `RedisInvalidationBus dropped ${what} on channel ${this.channelLabel}`, result.reason);
      return undefined;
    }
    if (this.replays !== undefined) {
      // signed (the codec refused anything else): the stamp must be fresh and its nonce new
      const stale = result.stamp === undefined ? 'no stamp' : this.replays.check(result.stamp);
      if (stale !== undefined) {
        this.counters.replayed++;
        this.burst.failure(this.source('replay'), `RedisInvalidationBus dropped a replayed or outdated signed message on channel ${this.channelLabel}`, stale);
        return undefined;
      }
    }
    return result;
  }

  /** A peer's message was accepted: the bursts of drops end. */
  delivered(): void {
    this.burst.success(this.source('malformed'));
    this.burst.success(this.source('signature'));
    this.burst.success(this.source('replay'));
  }

  private source(cause: 'malformed' | 'signature' | 'replay'): string {
    const what = cause === 'malformed' ? 'malformed messages' : cause === 'signature' ? 'badly signed messages' : 'replayed or outdated messages';
    return `${what} on channel ${this.channelLabel}`;
  }
}
