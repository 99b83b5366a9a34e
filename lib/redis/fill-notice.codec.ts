/**
 * The notices of `RedisSingleFlightCoordinator` on `<prefix>\x1ffill` (protocol in its header): "the key was
 * filled" and "the lease was released without a fill", which wake the key's followers in other processes.
 *
 *   unsigned:  'f' | 'r'  <key>                                     (as before signing existed)
 *   signed:    'F' | 'R'  <stamp: 19 chars> <HMAC: 43 chars> <key>  (base64url, no padding)
 *
 * The stamp is the sender's clock in ms and a random nonce (message-signing.ts); the HMAC-SHA256 covers a
 * domain label, the channel, the kind, the stamp and the key, so a notice cannot be altered, moved to another
 * group's channel, or passed off as a bus message. A receiver with a secret accepts only signed notices,
 * checked against its `ReplayGuard`; one without accepts both forms (it has nothing to check). The key comes
 * last and is the rest of the text, so it may hold any character.
 *
 * What a forged notice could do: wake a key's followers early (their stack re-reads the shared layer and,
 * still missing, asks for the lease again), over and over. Never a wrong value.
 */
import type { Clock } from '../core/clock.js';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkInvalidationSecret } from './invalidation-message.validation.js';
import { DEFAULT_REPLAY_WINDOW_MS, hmac, newStamp, readStamp, ReplayGuard, verifyHmac } from './message-signing.js';

/** How a follower's wait ends on a notice. */
export type FillNoticeKind = 'filled' | 'released';

/** A decoded notice, or why it was dropped (`undefined`: not a notice at all, ignored silently). */
export type FillNoticeResult = { readonly key: string; readonly kind: FillNoticeKind } | { readonly dropped: string } | undefined;

const UNSIGNED = { filled: 'f', released: 'r' } as const;
const SIGNED = { filled: 'F', released: 'R' } as const;
const STAMP_CHARS = 19;
const MAC_CHARS = 43;
const DOMAIN = 'layercache fill notice\u0000';

/** Encodes and checks the notices of one coordinator (see this file's header). */
export class FillNoticeCodec {
  private readonly replays: ReplayGuard | undefined;

  constructor(
    /** The notice channel (part of what is signed). */
    readonly channel: string,
    private readonly key: Buffer | undefined,
    private readonly clock: Clock,
    replayWindowMs: number,
  ) {
    this.replays = key === undefined ? undefined : new ReplayGuard(clock, replayWindowMs);
  }

  /** True when notices are signed and only signed ones are accepted. */
  get signed(): boolean {
    return this.key !== undefined;
  }

  /** The text to PUBLISH for `kind` of `key`. */
  encode(kind: FillNoticeKind, key: string): string {
    if (this.key === undefined) return UNSIGNED[kind] + key;
    const stamp = newStamp(this.clock);
    const mac = hmac(this.key, DOMAIN, this.channel, '\u0000', SIGNED[kind], stamp, key);
    return SIGNED[kind] + stamp.toString('base64url') + mac.toString('base64url') + key;
  }

  /** Decodes a notice received on the channel; never throws. */
  decode(text: string): FillNoticeResult {
    const mark = text[0];
    if (mark === UNSIGNED.filled || mark === UNSIGNED.released) {
      if (this.key !== undefined) return { dropped: 'an unsigned notice (this coordinator requires a signature)' };
      return text.length < 2 ? undefined : { key: text.slice(1), kind: mark === UNSIGNED.filled ? 'filled' : 'released' };
    }
    if (mark !== SIGNED.filled && mark !== SIGNED.released) return undefined;
    const kind: FillNoticeKind = mark === SIGNED.filled ? 'filled' : 'released';
    const keyStart = 1 + STAMP_CHARS + MAC_CHARS;
    if (text.length <= keyStart) return { dropped: 'a signed notice too short to hold its stamp, signature and key' };
    const key = text.slice(keyStart);
    if (this.key === undefined) return { key, kind };
    const stamp = Buffer.from(text.slice(1, 1 + STAMP_CHARS), 'base64url');
    const mac = Buffer.from(text.slice(1 + STAMP_CHARS, keyStart), 'base64url');
    if (stamp.length !== 14 || !verifyHmac(this.key, mac, DOMAIN, this.channel, '\u0000', mark, stamp, key)) {
      return { dropped: 'a notice with a bad signature (another secret or channel, or altered)' };
    }
    const stale = (this.replays as ReplayGuard).check(readStamp(stamp));
    return stale === undefined ? { key, kind } : { dropped: `a replayed or outdated notice: ${stale}` };
  }
}

/** The notice codec of a coordinator's `secret` and `replayWindow` options (checked, naming the option). */
export function createFillNoticeCodec(channel: string, options: { secret?: unknown; replayWindow?: Duration }, clock: Clock): FillNoticeCodec {
  const secret = checkInvalidationSecret('RedisSingleFlightCoordinator.secret', options.secret);
  if (options.replayWindow !== undefined && secret === undefined) {
    throw new InvalidOptionError('RedisSingleFlightCoordinator.replayWindow', 'only applies to signed notices: set `secret` too');
  }
  const windowMs = options.replayWindow === undefined ? DEFAULT_REPLAY_WINDOW_MS : toMilliseconds(options.replayWindow, 'RedisSingleFlightCoordinator.replayWindow');
  if (windowMs < 1) throw new InvalidOptionError('RedisSingleFlightCoordinator.replayWindow', 'must be at least 1 ms');
  return new FillNoticeCodec(channel, secret, clock, windowMs);
}
