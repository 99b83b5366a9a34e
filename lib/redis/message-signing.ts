/**
 * Signing shared by the Redis pub/sub channels (the invalidation bus, the single-flight fill notices): an
 * HMAC-SHA256 over the message, a *stamp* (the sender's clock in ms + a random nonce) inside what is signed,
 * and the {@link ReplayGuard} a receiver checks stamps against.
 *
 * Why a stamp: a signature proves who wrote a message, not when. Anyone who can SUBSCRIBE on the Redis could
 * capture a signed `clear` and PUBLISH it again at will. A receiver accepts a signed message only when its
 * timestamp lies within `windowMs` of its own clock (either side: peers' clocks differ) and its nonce was not
 * seen inside that window.
 *
 * The hard part is bounding the nonce memory without opening a hole: nonces are kept (by arrival) until their
 * timestamp leaves the window, and at most `maxNonces` of them. Whenever one is forgotten (aged out or evicted
 * because the memory is full), the *floor* rises to its timestamp, and a message stamped at or below the floor
 * is refused as too old. So every accepted message whose stamp is above the floor is still remembered:
 * a replay is always caught, and a flood only narrows the window (honest messages delayed past the floor are
 * dropped; the floor never passes `now - windowMs` while the memory is not full).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';

/** Bytes of an HMAC-SHA256 signature. */
export const SIGNATURE_BYTES = 32;
/** Bytes of a timestamp (ms since 1970, unsigned 48-bit big-endian: good until the year 10889). */
const TIMESTAMP_BYTES = 6;
/** Bytes of a nonce (random). */
const NONCE_BYTES = 8;
/** Bytes of a stamp: timestamp + nonce. */
export const STAMP_BYTES = TIMESTAMP_BYTES + NONCE_BYTES;

/** The default replay window of signed messages: 30 s either side of the receiver's clock. */
export const DEFAULT_REPLAY_WINDOW_MS = 30_000;
/** The default bound of the nonce memory of a {@link ReplayGuard}. */
export const DEFAULT_MAX_NONCES = 100_000;

/** A stamp read from a signed message. */
export interface MessageStamp {
  /** The sender's clock when it signed, in ms since 1970. */
  readonly timestampMs: number;
  /** The random nonce, as a binary string (a map key). */
  readonly nonce: string;
}

/** A new stamp for a message sent now. */
export function newStamp(clock: Clock): Buffer {
  const stamp = Buffer.allocUnsafe(STAMP_BYTES);
  stamp.writeUIntBE(Math.max(0, Math.min(Math.floor(clock.now()), 2 ** 48 - 1)), 0, TIMESTAMP_BYTES);
  randomBytes(NONCE_BYTES).copy(stamp, TIMESTAMP_BYTES);
  return stamp;
}

/** Reads a stamp written by {@link newStamp} (`bytes` holds at least {@link STAMP_BYTES}). */
export function readStamp(bytes: Uint8Array): MessageStamp {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, STAMP_BYTES);
  return { timestampMs: buffer.readUIntBE(0, TIMESTAMP_BYTES), nonce: buffer.toString('latin1', TIMESTAMP_BYTES, STAMP_BYTES) };
}

/** HMAC-SHA256 of the concatenation of `parts` with `key`. */
export function hmac(key: Buffer, ...parts: readonly (Uint8Array | string)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Whether `signature` is the HMAC of `parts` with `key` (constant-time comparison). */
export function verifyHmac(key: Buffer, signature: Uint8Array, ...parts: readonly (Uint8Array | string)[]): boolean {
  return signature.length === SIGNATURE_BYTES && timingSafeEqual(hmac(key, ...parts), signature);
}

/** Counters of a {@link ReplayGuard}. */
export interface ReplayGuardStats {
  /** Stamps outside the window (too old, or too far ahead of this clock). */
  readonly outsideWindow: number;
  /** Nonces already seen: replays. */
  readonly replayed: number;
}

/** The replay check of signed messages (see this file's header). */
export class ReplayGuard {
  /** Nonce → timestamp, in arrival order. */
  private readonly seen = new Map<string, number>();
  /** Stamps at or below this are refused (see the header). */
  private floor = -Infinity;
  private readonly counters = { outsideWindow: 0, replayed: 0 };

  constructor(
    private readonly clock: Clock,
    /** How far a stamp may be from this clock, in ms (either side). */
    readonly windowMs: number = DEFAULT_REPLAY_WINDOW_MS,
    /** Most nonces remembered. */
    readonly maxNonces: number = DEFAULT_MAX_NONCES,
  ) {}

  /** Nonces remembered now. */
  get size(): number {
    return this.seen.size;
  }

  stats(): ReplayGuardStats {
    return { ...this.counters };
  }

  /** Checks `stamp` and remembers it when accepted; returns why it is refused, or `undefined`. */
  check(stamp: MessageStamp): string | undefined {
    const now = this.clock.now();
    this.forgetBefore(now - this.windowMs);
    const { timestampMs, nonce } = stamp;
    if (timestampMs > now + this.windowMs) {
      this.counters.outsideWindow++;
      return `stamped ${timestampMs - now} ms ahead of this clock (the replay window is ${this.windowMs} ms)`;
    }
    if (timestampMs < now - this.windowMs || timestampMs <= this.floor) {
      this.counters.outsideWindow++;
      return `stamped ${now - timestampMs} ms ago, outside the replay window (${this.windowMs} ms${timestampMs >= now - this.windowMs ? ', narrowed by a flood of messages' : ''})`;
    }
    if (this.seen.has(nonce)) {
      this.counters.replayed++;
      return 'a replay (its nonce was already seen inside the replay window)';
    }
    this.seen.set(nonce, timestampMs);
    if (this.seen.size > this.maxNonces) this.forgetOldestArrival();
    return undefined;
  }

  /** Forgets the nonces stamped before `limit`, oldest arrivals first, raising the floor. */
  private forgetBefore(limit: number): void {
    for (const [nonce, timestampMs] of this.seen) {
      if (timestampMs >= limit) return; // later arrivals may be older: they go when this one does, or by size
      this.seen.delete(nonce);
      if (timestampMs > this.floor) this.floor = timestampMs;
    }
  }

  private forgetOldestArrival(): void {
    const oldest = this.seen.entries().next();
    if (oldest.done === true) return;
    const [nonce, timestampMs] = oldest.value;
    this.seen.delete(nonce);
    if (timestampMs > this.floor) this.floor = timestampMs;
  }
}
