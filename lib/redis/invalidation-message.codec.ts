/**
 * The wire format of the L1 invalidation bus (see `InvalidationBus` in core): one {@link InvalidationMessage}
 * plus the origin id of the bus that published it, in a few bytes, optionally signed.
 *
 *   0  'L' 'I' 0x02 <flags>          magic + format version + flags (bit 0: signed; other bits must be 0)
 *   only when signed:
 *   4  [32 bytes HMAC-SHA256]        over bytes 0-3, the channel (2-byte length + UTF-8), then bytes 36-end
 *   36 [6 bytes timestamp, ms]       the sender's clock, unsigned big-endian  } the stamp, checked by the
 *   42 [8 bytes nonce]               random                                   } receiver's replay window
 *   .. body: one MessagePack array   [originId, 'keys',  keys[], version]
 *                                    [originId, 'tags',  tags[], 'any' | 'all', versions[]]
 *                                    [originId, 'clear', prefix | nil, version]
 *                                    [originId, 'generation', scope, generation]
 *                                    [originId, 'ping', seq]   (the bus's heartbeat, see RedisInvalidationBus)
 *
 * A "tags" message carries the versions the tag store gave ("any": one per tag; "all": one for the group). Before
 * 0.2.0 it carried one global sequence instead: a process of either kind drops the other's "tags" messages as
 * malformed (the other kinds are unchanged).
 *
 * Format version 2 added the stamp (and the channel inside the signature, so a message signed for one group
 * is refused on another group's channel). Compatibility: a codec reads version 1 only without a secret (an
 * unsigned v1 body is the same as v2's); a codec with a secret refuses version 1, which carries no stamp and
 * could be replayed forever. A version-1 process drops every version-2 message ("unsupported format version").
 *
 * Decoding is strict and never throws: anything but exactly these shapes (a wrong magic or format version,
 * unknown flags or kind, a missing or extra field, a non-string key, more than {@link MAX_INVALIDATION_ITEMS}
 * keys or tags, a version that is not a safe non-negative integer, trailing bytes, ...) is reported with a
 * reason, and the bus drops it. A codec with a secret accepts only messages signed with that secret (for the
 * same channel); a codec without one accepts signed and unsigned messages alike (it has nothing to check the
 * signature against). The stamp is returned, not judged: the bus's `ReplayGuard` does that.
 *
 * MessagePack, not JSON: about half the bytes for typical messages and no escaping of the U+001F separators
 * that internal keys carry. The body is plain MessagePack (no records, no extensions), so other languages
 * can speak the protocol.
 */
import { Packr } from 'msgpackr';
import { systemClock, type Clock } from '../core/clock.js';
import type { InvalidationMessage } from '../core/invalidation-bus.js';
import { InvalidOptionError } from '../core/errors.js';
import {
  arityProblem,
  checkInvalidationSecret,
  counterProblem,
  describeValue,
  invalidationMessageProblem,
  MAX_INVALIDATION_ITEMS,
  modeProblem,
  originIdProblem,
  stringListProblem,
  tagVersionsProblem,
} from './invalidation-message.validation.js';
import { hmac, newStamp, readStamp, SIGNATURE_BYTES, STAMP_BYTES, verifyHmac, type MessageStamp } from './message-signing.js';

export {
  checkInvalidationSecret,
  invalidationMessageProblem,
  MAX_INVALIDATION_ITEMS,
  MAX_ORIGIN_ID_LENGTH,
  originIdProblem,
} from './invalidation-message.validation.js';

/** The first bytes of every message: 'L' 'I' (layercache invalidation). */
const MAGIC_0 = 0x4c;
const MAGIC_1 = 0x49;
/** The format version this codec writes (and reads; it also reads version 1 without a secret). */
export const INVALIDATION_FORMAT_VERSION = 2;
/** The previous format version: no stamp (see the file header). */
const LEGACY_FORMAT_VERSION = 1;
const FLAG_SIGNED = 0x01;
const HEADER_BYTES = 4;

/** What {@link InvalidationMessageCodec.decode} found in a message. */
export type InvalidationDecodeResult =
  /** A well-formed (and, with a secret, correctly signed) message; `stamp` when it was signed (format 2). */
  | { readonly ok: true; readonly originId: string; readonly message: InvalidationMessage; readonly stamp?: MessageStamp }
  /** Dropped: `problem` says whether the shape or the signature was wrong, `reason` what exactly. */
  | { readonly ok: false; readonly problem: 'malformed' | 'signature'; readonly reason: string };

/** What {@link InvalidationMessageCodec.decodeFrame} found: a message, a heartbeat, or a reason to drop it. */
export type InvalidationFrame =
  | InvalidationDecodeResult
  | { readonly ok: true; readonly originId: string; readonly ping: number; readonly message?: undefined; readonly stamp?: MessageStamp };

/** Options of {@link InvalidationMessageCodec}. */
export interface InvalidationMessageCodecOptions {
  /**
   * Shared secret of the HMAC-SHA256 signature: messages are signed with it and only messages signed with
   * it are accepted. A non-empty string (UTF-8) or Buffer. @default undefined (unsigned)
   */
  secret?: string | Buffer;
  /** The channel the messages travel on: part of what is signed. @default '' */
  channel?: string;
  /** The clock of the stamps of signed messages. @default the system clock */
  clock?: Clock;
}

/**
 * Encodes and decodes bus messages (format in this file's header). One instance per bus; stateless apart from
 * the secret, so it may be shared.
 */
export class InvalidationMessageCodec {
  /** True when messages are signed and only signed messages are accepted. */
  readonly signed: boolean;
  private readonly key: Buffer | undefined;
  private readonly channelBytes: Buffer;
  private readonly clock: Clock;
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

  constructor(options: InvalidationMessageCodecOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('InvalidationMessageCodec', 'expected an options object: new InvalidationMessageCodec({ secret })');
    }
    this.key = checkInvalidationSecret('InvalidationMessageCodec.secret', options.secret);
    this.signed = this.key !== undefined;
    const channel = options.channel ?? '';
    if (typeof channel !== 'string') throw new InvalidOptionError('InvalidationMessageCodec.channel', 'expected a string');
    const bytes = Buffer.from(channel, 'utf8');
    if (bytes.length > 0xffff) throw new InvalidOptionError('InvalidationMessageCodec.channel', `expected at most 65535 bytes, got ${bytes.length}`);
    this.channelBytes = Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Encodes `message` published by `originId`. Throws a `TypeError` naming the problem when `message` is not
   * exactly an {@link InvalidationMessage} (or carries more than {@link MAX_INVALIDATION_ITEMS} keys or tags),
   * so a bad message fails where it is published instead of being dropped by every peer.
   */
  encode(originId: string, message: InvalidationMessage): Buffer {
    const problem = originIdProblem(originId) ?? invalidationMessageProblem(message);
    if (problem !== undefined) throw new TypeError(`Cannot publish the invalidation message: ${problem}`);
    return this.frame(this.packr.pack(toBody(originId, message)));
  }

  /** Header (+ signature + stamp) + body. */
  private frame(body: Buffer): Buffer {
    const header = Buffer.from([MAGIC_0, MAGIC_1, INVALIDATION_FORMAT_VERSION, this.key === undefined ? 0 : FLAG_SIGNED]);
    if (this.key === undefined) return Buffer.concat([header, body], HEADER_BYTES + body.length);
    const signed = Buffer.concat([newStamp(this.clock), body]);
    const signature = hmac(this.key, header, this.channelBytes, signed);
    return Buffer.concat([header, signature, signed], HEADER_BYTES + SIGNATURE_BYTES + signed.length);
  }

  /** Encodes the heartbeat number `seq` of the bus `originId` (signed like messages). */
  encodePing(originId: string, seq: number): Buffer {
    const problem = originIdProblem(originId) ?? counterProblem('seq', seq);
    if (problem !== undefined) throw new TypeError(`Cannot publish the heartbeat: ${problem}`);
    return this.frame(this.packr.pack([originId, 'ping', seq]));
  }

  /** Decodes a message; never throws (see {@link InvalidationDecodeResult}). A heartbeat is not a message here. */
  decode(bytes: Uint8Array): InvalidationDecodeResult {
    const frame = this.decodeFrame(bytes);
    return frame.ok && frame.message === undefined ? malformed('a heartbeat, not an invalidation message') : (frame as InvalidationDecodeResult);
  }

  /** Decodes a message or a heartbeat; never throws. */
  decodeFrame(bytes: Uint8Array): InvalidationFrame {
    if (!(bytes instanceof Uint8Array)) return malformed(`expected bytes, got ${describeValue(bytes)}`);
    if (bytes.length < HEADER_BYTES + 1) return malformed(`${bytes.length} bytes, too short for a message`);
    if (bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return malformed('not an invalidation message (wrong magic bytes)');
    const version = bytes[2];
    if (version !== INVALIDATION_FORMAT_VERSION && version !== LEGACY_FORMAT_VERSION) {
      return malformed(`unsupported format version ${String(version)} (this process reads version ${INVALIDATION_FORMAT_VERSION})`);
    }
    const flags = bytes[3] as number;
    if ((flags & ~FLAG_SIGNED) !== 0) return malformed(`unknown flags 0x${flags.toString(16)}`);
    const isSigned = (flags & FLAG_SIGNED) !== 0;
    if (version === LEGACY_FORMAT_VERSION && this.key !== undefined) {
      return { ok: false, problem: 'signature', reason: 'format version 1 carries no replay stamp (this bus requires signed version 2 messages)' };
    }
    const stamped = isSigned && version === INVALIDATION_FORMAT_VERSION;
    let bodyStart = HEADER_BYTES;
    if (isSigned) {
      bodyStart += SIGNATURE_BYTES + (stamped ? STAMP_BYTES : 0);
      if (bytes.length < bodyStart + 1) return malformed(`${bytes.length} bytes, too short for a signed message`);
    }
    if (this.key !== undefined) {
      if (!isSigned) return { ok: false, problem: 'signature', reason: 'unsigned message (this bus requires a signature)' };
      const signed = bytes.subarray(HEADER_BYTES + SIGNATURE_BYTES);
      if (!verifyHmac(this.key, bytes.subarray(HEADER_BYTES, HEADER_BYTES + SIGNATURE_BYTES), bytes.subarray(0, HEADER_BYTES), this.channelBytes, signed)) {
        return { ok: false, problem: 'signature', reason: 'bad signature (another secret or channel, or the message was altered)' };
      }
    }
    let decoded: unknown;
    try {
      decoded = this.packr.unpack(bytes.subarray(bodyStart));
    } catch (error) {
      return malformed(`undecodable body (${error instanceof Error ? error.message : String(error)})`);
    }
    const frame = fromBody(decoded);
    return stamped && frame.ok ? { ...frame, stamp: readStamp(bytes.subarray(HEADER_BYTES + SIGNATURE_BYTES)) } : frame;
  }
}
/** The MessagePack array of a message (see the file header). */
function toBody(originId: string, message: InvalidationMessage): unknown[] {
  switch (message.kind) {
    case 'keys':
      return [originId, 'keys', message.keys, message.version];
    case 'tags':
      return [originId, 'tags', message.tags, message.mode, message.versions];
    case 'clear':
      return [originId, 'clear', message.prefix ?? null, message.version];
    case 'generation':
      return [originId, 'generation', message.scope, message.generation];
  }
}

/** Checks a decoded body field by field and builds the message. */
function fromBody(body: unknown): InvalidationFrame {
  if (!Array.isArray(body)) return malformed(`the body is ${describeValue(body)}, not an array`);
  const originId: unknown = body[0];
  const kind: unknown = body[1];
  const problem = originIdProblem(originId);
  if (problem !== undefined) return malformed(problem);
  let message: InvalidationMessage;
  switch (kind) {
    case 'keys': {
      const [, , keys, version] = body as unknown[];
      const reason = arityProblem(body, 4) ?? stringListProblem('keys', keys) ?? counterProblem('version', version);
      if (reason !== undefined) return malformed(reason);
      message = { kind, keys: keys as string[], version: version as number };
      break;
    }
    case 'tags': {
      const [, , tags, mode, versions] = body as unknown[];
      const reason = arityProblem(body, 5) ?? stringListProblem('tags', tags) ?? modeProblem(mode) ?? tagVersionsProblem(tags as string[], mode as 'any' | 'all', versions);
      if (reason !== undefined) return malformed(reason);
      message = { kind, tags: tags as string[], mode: mode as 'any' | 'all', versions: versions as number[] };
      break;
    }
    case 'clear': {
      const [, , prefix, version] = body as unknown[];
      const reason =
        arityProblem(body, 4) ??
        (prefix === null || typeof prefix === 'string' ? undefined : `prefix is ${describeValue(prefix)}, not a string or nil`) ??
        counterProblem('version', version);
      if (reason !== undefined) return malformed(reason);
      message = { kind, prefix: prefix === null ? undefined : (prefix as string), version: version as number };
      break;
    }
    case 'generation': {
      const [, , scope, generation] = body as unknown[];
      const reason =
        arityProblem(body, 4) ??
        (typeof scope === 'string' ? undefined : `scope is ${describeValue(scope)}, not a string`) ??
        counterProblem('generation', generation);
      if (reason !== undefined) return malformed(reason);
      message = { kind, scope: scope as string, generation: generation as number };
      break;
    }
    case 'ping': {
      const seq: unknown = body[2];
      const reason = arityProblem(body, 3) ?? counterProblem('seq', seq);
      if (reason !== undefined) return malformed(reason);
      return { ok: true, originId: originId as string, ping: seq as number };
    }
    default:
      return malformed(`unknown kind ${describeValue(kind)}`);
  }
  return { ok: true, originId: originId as string, message };
}

function malformed(reason: string): InvalidationDecodeResult {
  return { ok: false, problem: 'malformed', reason };
}

/** Splits a "keys" or "any"-mode "tags" message into parts of at most {@link MAX_INVALIDATION_ITEMS} entries. */
export function splitInvalidationMessage(message: InvalidationMessage): InvalidationMessage[] {
  if (message.kind === 'keys' && Array.isArray(message.keys) && message.keys.length > MAX_INVALIDATION_ITEMS) {
    const parts: InvalidationMessage[] = [];
    for (let i = 0; i < message.keys.length; i += MAX_INVALIDATION_ITEMS) {
      parts.push({ kind: 'keys', keys: message.keys.slice(i, i + MAX_INVALIDATION_ITEMS), version: message.version });
    }
    return parts;
  }
  if (message.kind === 'tags' && message.mode === 'any' && Array.isArray(message.tags) && message.tags.length > MAX_INVALIDATION_ITEMS) {
    const parts: InvalidationMessage[] = [];
    for (let i = 0; i < message.tags.length; i += MAX_INVALIDATION_ITEMS) {
      parts.push({ kind: 'tags', tags: message.tags.slice(i, i + MAX_INVALIDATION_ITEMS), mode: 'any', versions: message.versions.slice(i, i + MAX_INVALIDATION_ITEMS) });
    }
    return parts;
  }
  return [message];
}
