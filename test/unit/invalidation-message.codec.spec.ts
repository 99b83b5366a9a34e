import { Packr } from 'msgpackr';
import { InvalidOptionError } from '../../lib/core/errors.js';
import type { InvalidationMessage } from '../../lib/core/invalidation-bus.js';
import {
  InvalidationMessageCodec,
  MAX_INVALIDATION_ITEMS,
  MAX_ORIGIN_ID_LENGTH,
  type InvalidationDecodeResult,
} from '../../lib/redis/invalidation-message.codec.js';
import { FakeClock } from '../support/fake-clock.js';
import { prng } from '../support/prng.js';

const ORIGIN = 'origin-1';
const codec = new InvalidationMessageCodec();
const packr = new Packr({ useRecords: false });

/** An unsigned message with a hand-made body (header: 'L' 'I' version 2, no flags). */
function rawMessage(body: unknown, header: readonly number[] = [0x4c, 0x49, 0x02, 0x00]): Buffer {
  return Buffer.concat([Buffer.from(header), packr.pack(body)]);
}

function expectMalformed(result: InvalidationDecodeResult, reason: RegExp): void {
  expect(result).toEqual({ ok: false, problem: 'malformed', reason: expect.stringMatching(reason) });
}

function expectBadSignature(result: InvalidationDecodeResult, reason: RegExp): void {
  expect(result).toEqual({ ok: false, problem: 'signature', reason: expect.stringMatching(reason) });
}


const EXAMPLES: readonly InvalidationMessage[] = [
  { kind: 'keys', keys: ['ns\u001fuser:1', 'ключ 🔑', '', '\u001ehash'], version: 1_767_225_600_000 },
  { kind: 'keys', keys: [], version: 0 },
  { kind: 'keys', keys: ['k'], version: Number.MAX_SAFE_INTEGER },
  { kind: 'tags', tags: ['users', 'user:7'], mode: 'any', versions: [42, 2 ** 51] },
  { kind: 'tags', tags: ['a', 'b', 'c'], mode: 'all', versions: [2 ** 52] },
  { kind: 'clear', prefix: 'ns\u001f', version: 5 },
  { kind: 'clear', prefix: undefined, version: 6 },
  { kind: 'clear', prefix: '', version: 7 },
  { kind: 'generation', scope: 'ns\u001f', generation: 3 },
  { kind: 'generation', scope: '', generation: 0 },
];

describe('InvalidationMessageCodec: round trips', () => {
  it.each(EXAMPLES.map((message) => [message.kind, message] as const))('round-trips a "%s" message with its origin id', (_kind, message) => {
    const result = codec.decode(codec.encode(ORIGIN, message));
    expect(result).toStrictEqual({ ok: true, originId: ORIGIN, message });
  });

  it('decodes a clear message without prefix as prefix: undefined', () => {
    const result = codec.decode(codec.encode(ORIGIN, { kind: 'clear', version: 1 } as InvalidationMessage));
    expect(result).toStrictEqual({ ok: true, originId: ORIGIN, message: { kind: 'clear', prefix: undefined, version: 1 } });
  });

  it('round-trips the largest allowed message (MAX_INVALIDATION_ITEMS keys) and a 256-character origin id', () => {
    const keys = Array.from({ length: MAX_INVALIDATION_ITEMS }, (_, i) => `key:${i}`);
    const origin = 'o'.repeat(MAX_ORIGIN_ID_LENGTH);
    const result = codec.decode(codec.encode(origin, { kind: 'keys', keys, version: 3 }));
    expect(result.ok && result.message.kind === 'keys' && result.message.keys).toEqual(keys);
    expect(result.ok && result.originId).toBe(origin);
  });

  it('is compact: a one-key message is a few bytes more than its strings', () => {
    const bytes = codec.encode('0123456789abcdef', { kind: 'keys', keys: ['user:1'], version: 1_767_225_600_000 });
    expect(bytes.length).toBeLessThanOrEqual(4 + 1 + 17 + 5 + 2 + 7 + 9);
  });

  it('decodes from a plain Uint8Array too', () => {
    const bytes = codec.encode(ORIGIN, { kind: 'keys', keys: ['a'], version: 1 });
    expect(codec.decode(new Uint8Array(bytes)).ok).toBe(true);
  });
});

describe('InvalidationMessageCodec: encode refuses what peers would drop', () => {
  const bad: readonly [string, unknown, RegExp][] = [
    ['an unknown kind', { kind: 'delete', keys: [], version: 1 }, /unknown kind "delete"/],
    ['keys that are not an array', { kind: 'keys', keys: 'a', version: 1 }, /keys is "a", not an array/],
    ['a key that is not a string', { kind: 'keys', keys: ['a', 1], version: 1 }, /keys\[1\] is 1, not a string/],
    ['a NaN version', { kind: 'keys', keys: [], version: Number.NaN }, /version is NaN/],
    ['a negative version', { kind: 'clear', prefix: undefined, version: -1 }, /version is -1/],
    ['an infinite version', { kind: 'tags', tags: ['a'], mode: 'any', versions: [Number.POSITIVE_INFINITY] }, /versions\[0\] is Infinity/],
    ['a version per tag missing', { kind: 'tags', tags: ['a', 'b'], mode: 'any', versions: [1] }, /versions has 1 entries, expected 2/],
    ['a version per tag in "all" mode', { kind: 'tags', tags: ['a', 'b'], mode: 'all', versions: [1, 2] }, /expected 1 \(one for the group\)/],
    ['an unknown mode', { kind: 'tags', tags: [], mode: 'some', versions: [] }, /mode is "some"/],
    ['a prefix that is not a string', { kind: 'clear', prefix: 3, version: 1 }, /prefix is 3/],
    ['a scope that is not a string', { kind: 'generation', scope: undefined, generation: 1 }, /scope is undefined, not a string/],
    ['a NaN generation', { kind: 'generation', scope: '', generation: Number.NaN }, /generation is NaN/],
    ['a missing field', { kind: 'keys', keys: [] }, /missing property "version"/],
    ['an extra field', { kind: 'keys', keys: [], version: 1, extra: true }, /unexpected property "extra"/],
    ['too many keys', { kind: 'keys', keys: Array.from({ length: MAX_INVALIDATION_ITEMS + 1 }, () => 'k'), version: 1 }, /10001 entries \(max 10000\)/],
    ['not an object', 'keys', /not an object/],
  ];

  it.each(bad)('throws a TypeError for %s', (_label, message, reason) => {
    expect(() => codec.encode(ORIGIN, message as InvalidationMessage)).toThrow(TypeError);
    expect(() => codec.encode(ORIGIN, message as InvalidationMessage)).toThrow(reason);
  });

  it('throws for an empty or too long origin id', () => {
    const message: InvalidationMessage = { kind: 'keys', keys: [], version: 1 };
    expect(() => codec.encode('', message)).toThrow(/origin id is empty/);
    expect(() => codec.encode('o'.repeat(MAX_ORIGIN_ID_LENGTH + 1), message)).toThrow(/257 characters long/);
  });
});

describe('InvalidationMessageCodec: decode rejects malformed messages with a reason, never throws', () => {
  const valid = codec.encode(ORIGIN, { kind: 'tags', tags: ['users', 'user:7'], mode: 'all', versions: [9] });

  it('rejects empty, short and foreign bytes', () => {
    expectMalformed(codec.decode(Buffer.alloc(0)), /0 bytes, too short/);
    expectMalformed(codec.decode(Buffer.from([0x4c, 0x49, 0x01, 0x00])), /too short/);
    expectMalformed(codec.decode(Buffer.from('{"kind":"keys","keys":["a"],"version":1}')), /wrong magic bytes/);
    expectMalformed(codec.decode(Buffer.from('hello world')), /wrong magic bytes/);
  });

  it('rejects another format version and unknown flags', () => {
    const v3 = Buffer.from(valid);
    v3[2] = 3;
    expectMalformed(codec.decode(v3), /unsupported format version 3 \(this process reads version 2\)/);
    const flagged = Buffer.from(valid);
    flagged[3] = 0x02;
    expectMalformed(codec.decode(flagged), /unknown flags 0x2/);
  });

  it('rejects something that is not bytes', () => {
    expectMalformed(codec.decode('LI\u0001\u0000abc' as unknown as Uint8Array), /expected bytes, got "LI/);
    expectMalformed(codec.decode(null as unknown as Uint8Array), /expected bytes, got null/);
  });

  it('rejects every truncation of a valid message', () => {
    for (let length = 0; length < valid.length; length++) {
      const result = codec.decode(valid.subarray(0, length));
      expect(result.ok).toBe(false);
      expect(!result.ok && result.problem).toBe('malformed');
    }
  });

  it('rejects trailing bytes after the body', () => {
    expectMalformed(codec.decode(Buffer.concat([valid, Buffer.from([0x01])])), /undecodable body/);
  });

  const bodies: readonly [string, unknown, RegExp][] = [
    ['a body that is not an array', { kind: 'keys' }, /the body is an object \(Object\), not an array/],
    ['a string body', 'keys', /the body is "keys", not an array/],
    ['a numeric origin id', [7, 'keys', ['a'], 1], /origin id is 7, not a string/],
    ['an empty origin id', ['', 'keys', ['a'], 1], /origin id is empty/],
    ['a too long origin id', ['o'.repeat(MAX_ORIGIN_ID_LENGTH + 1), 'keys', ['a'], 1], /origin id is 257 characters long/],
    ['an unknown kind', [ORIGIN, 'flush', ['a'], 1], /unknown kind "flush"/],
    ['a numeric kind', [ORIGIN, 1, ['a'], 1], /unknown kind 1/],
    ['a missing field', [ORIGIN, 'keys', ['a']], /"keys" message has 4 fields, got 3/],
    ['an extra field', [ORIGIN, 'clear', null, 1, 'x'], /"clear" message has 4 fields, got 5/],
    ['keys that are a map', [ORIGIN, 'keys', { 0: 'a' }, 1], /keys is an object \(Object\), not an array/],
    ['keys that are bytes', [ORIGIN, 'keys', Buffer.from('ab'), 1], /keys is a \w+ of 2 bytes, not an array/],
    ['a key that is a number', [ORIGIN, 'keys', ['a', 2], 1], /keys\[1\] is 2, not a string/],
    ['a key that is nil', [ORIGIN, 'keys', [null], 1], /keys\[0\] is null, not a string/],
    ['a tag that is an array', [ORIGIN, 'tags', [['a']], 'any', 1], /tags\[0\] is an array of 1, not a string/],
    ['too many keys', [ORIGIN, 'keys', Array.from({ length: MAX_INVALIDATION_ITEMS + 1 }, () => 'k'), 1], /keys has 10001 entries \(max 10000\)/],
    ['too many tags', [ORIGIN, 'tags', Array.from({ length: 50_000 }, () => ''), 'any', 1], /tags has 50000 entries \(max 10000\)/],
    ['a NaN version', [ORIGIN, 'keys', ['a'], Number.NaN], /version is NaN, not a safe non-negative integer/],
    ['an infinite version', [ORIGIN, 'clear', null, Number.POSITIVE_INFINITY], /version is Infinity/],
    ['a negative version', [ORIGIN, 'keys', ['a'], -5], /version is -5/],
    ['a string version', [ORIGIN, 'keys', ['a'], '5'], /version is "5", not a number/],
    ['a nil version', [ORIGIN, 'keys', ['a'], null], /version is null, not a number/],
    ['a boolean version', [ORIGIN, 'tags', ['a'], 'any', [true]], /versions\[0\] is true, not a number/],
    ['a sequence instead of versions (before 0.2.0)', [ORIGIN, 'tags', ['a'], 'any', 7], /versions is 7, not an array/],
    ['a negative version', [ORIGIN, 'tags', ['a'], 'all', [-1]], /versions\[0\] is -1/],
    ['an unknown mode', [ORIGIN, 'tags', ['a'], 'ALL', 1], /mode is "ALL", not "any" or "all"/],
    ['a missing mode', [ORIGIN, 'tags', ['a'], null, 1], /mode is null/],
    ['a numeric prefix', [ORIGIN, 'clear', 12, 1], /prefix is 12, not a string or nil/],
    ['an array prefix', [ORIGIN, 'clear', ['p'], 1], /prefix is an array of 1/],
    ['a nil scope', [ORIGIN, 'generation', null, 1], /scope is null, not a string/],
    ['a negative generation', [ORIGIN, 'generation', 'ns', -2], /generation is -2, not a safe non-negative integer/],
    ['a generation message with an extra field', [ORIGIN, 'generation', 'ns', 1, 2], /"generation" message has 4 fields, got 5/],
    ['a fractional version', [ORIGIN, 'keys', ['a'], 1.5], /version is 1.5, not a safe non-negative integer/],
    ['a version beyond 2^53', [ORIGIN, 'clear', null, 2 ** 53], /version is 9007199254740992, not a safe/],
    ['a date version (extension type)', [ORIGIN, 'keys', ['a'], new Date(5)], /version is an object \(Date\), not a number/],
  ];

  it.each(bodies)('rejects %s', (_label, body, reason) => {
    expectMalformed(codec.decode(rawMessage(body)), reason);
  });

  it('rejects a MessagePack array header claiming billions of entries without allocating them', () => {
    // [origin, 'keys', <array32 of 4294967295 entries, none present>, ...]
    const head = packr.pack([ORIGIN, 'keys']);
    const body = Buffer.concat([Buffer.from([0x94]), head.subarray(1), Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])]);
    expectMalformed(codec.decode(Buffer.concat([Buffer.from([0x4c, 0x49, 0x01, 0x00]), body])), /undecodable body/);
  });

  it('rejects reserved and garbage bytes after a valid header', () => {
    expectMalformed(codec.decode(Buffer.from([0x4c, 0x49, 0x01, 0x00, 0xc1])), /the body is an object|undecodable/);
    expectMalformed(codec.decode(Buffer.from([0x4c, 0x49, 0x01, 0x00, 0xff, 0xff, 0xff])), /undecodable body|the body is -1/);
  });

  it('never throws on random bytes, with or without a valid header (fuzz)', () => {
    const random = prng(0x5eed);
    const signedCodec = new InvalidationMessageCodec({ secret: 's3cret' });
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(random() * 64);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      if (i % 2 === 0 && length >= 4) bytes.set([0x4c, 0x49, 1 + (i % 3 === 0 ? 1 : 0), i % 4 === 0 ? 0x00 : 0x01]);
      for (const c of [codec, signedCodec]) {
        const result = c.decode(bytes);
        if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
      }
    }
  });

  it('never throws when single bits of a valid message are flipped, and rejects or decodes a valid shape', () => {
    for (let bit = 0; bit < valid.length * 8; bit++) {
      const bytes = Buffer.from(valid);
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      const result = codec.decode(bytes);
      if (result.ok) expect(['keys', 'tags', 'clear', 'generation']).toContain(result.message.kind);
    }
  });
});

describe('InvalidationMessageCodec: HMAC-SHA256 signatures', () => {
  const message: InvalidationMessage = { kind: 'keys', keys: ['user:1'], version: 10 };
  const signer = new InvalidationMessageCodec({ secret: 'correct horse battery staple' });

  it('a codec with the same secret (string or the same bytes as a Buffer) accepts the signed message', () => {
    const bytes = signer.encode(ORIGIN, message);
    expect(signer.signed).toBe(true);
    expect(bytes.length).toBe(codec.encode(ORIGIN, message).length + 32 + 14); // HMAC + stamp (timestamp, nonce)
    expect(new InvalidationMessageCodec({ secret: 'correct horse battery staple' }).decode(bytes)).toStrictEqual({
      ok: true,
      originId: ORIGIN,
      message,
      stamp: { timestampMs: expect.any(Number), nonce: expect.any(String) },
    });
    expect(new InvalidationMessageCodec({ secret: Buffer.from('correct horse battery staple') }).decode(bytes).ok).toBe(true);
  });

  it('a codec with another secret rejects it as a bad signature', () => {
    const bytes = signer.encode(ORIGIN, message);
    expectBadSignature(new InvalidationMessageCodec({ secret: 'another secret' }).decode(bytes), /bad signature/);
  });

  it('rejects a tampered body, signature or header byte', () => {
    const bytes = signer.encode(ORIGIN, message);
    for (const index of [bytes.length - 1, 4, 20, 35, 36, 41, 42, 49, 50]) {
      const tampered = Buffer.from(bytes);
      tampered[index] = (tampered[index] as number) ^ 0x01;
      expectBadSignature(signer.decode(tampered), /bad signature/);
    }
    const appended = Buffer.concat([bytes, Buffer.from([0xa1, 0x78])]);
    expectBadSignature(signer.decode(appended), /bad signature/);
  });

  it('rejects an unsigned message, and a signed one whose flag was cleared', () => {
    expectBadSignature(signer.decode(codec.encode(ORIGIN, message)), /unsigned message/);
    const stripped = Buffer.from(signer.encode(ORIGIN, message));
    stripped[3] = 0x00;
    expect(signer.decode(stripped).ok).toBe(false);
  });

  it('rejects a signed message too short to hold its signature as malformed', () => {
    const bytes = signer.encode(ORIGIN, message);
    expectMalformed(signer.decode(bytes.subarray(0, 30)), /too short for a signed message/);
  });

  it('a codec without a secret accepts signed messages (it has nothing to check them against)', () => {
    expect(codec.decode(signer.encode(ORIGIN, message))).toMatchObject({ ok: true, originId: ORIGIN, message });
  });

  it('copies a Buffer secret: changing the caller\'s Buffer afterwards does not change the key', () => {
    const secret = Buffer.from('abc');
    const own = new InvalidationMessageCodec({ secret });
    secret.fill(0);
    expect(new InvalidationMessageCodec({ secret: 'abc' }).decode(own.encode(ORIGIN, message)).ok).toBe(true);
  });

  it.each([
    ['an empty string', ''],
    ['an empty Buffer', Buffer.alloc(0)],
    ['a number', 42],
    ['null', null],
  ])('rejects %s as secret with InvalidOptionError naming the option', (_label, secret) => {
    const create = () => new InvalidationMessageCodec({ secret: secret as string });
    expect(create).toThrow(InvalidOptionError);
    expect(create).toThrow(/"InvalidationMessageCodec\.secret"/);
  });
});

describe('InvalidationMessageCodec: format 2 stamps, channel binding and format 1 compatibility', () => {
  const message: InvalidationMessage = { kind: 'clear', prefix: undefined, version: 10 };

  it('stamps every signed message with the clock\'s time and a fresh random nonce', () => {
    const clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
    const signer = new InvalidationMessageCodec({ secret: 's', channel: 'ch', clock });
    const first = signer.decode(signer.encode(ORIGIN, message));
    const second = signer.decode(signer.encode(ORIGIN, message));
    expect(first.ok && first.stamp?.timestampMs).toBe(Date.UTC(2026, 5, 1, 12));
    expect(first.ok && second.ok && first.stamp?.nonce !== second.stamp?.nonce).toBe(true);
    expect(first.ok && first.stamp?.nonce).toHaveLength(8);
  });

  it('binds the signature to the channel: the same secret on another channel refuses it', () => {
    const bytes = new InvalidationMessageCodec({ secret: 's', channel: 'group-a' }).encode(ORIGIN, message);
    expect(new InvalidationMessageCodec({ secret: 's', channel: 'group-a' }).decode(bytes).ok).toBe(true);
    expectBadSignature(new InvalidationMessageCodec({ secret: 's', channel: 'group-b' }).decode(bytes), /another secret or channel/);
  });

  it('reads an unsigned format-1 message without a secret (rolling deploy), refuses any format-1 message with one', () => {
    const legacy = rawMessage([ORIGIN, 'clear', null, 10], [0x4c, 0x49, 0x01, 0x00]);
    expect(codec.decode(legacy)).toStrictEqual({ ok: true, originId: ORIGIN, message });
    const signed = new InvalidationMessageCodec({ secret: 's' });
    expectBadSignature(signed.decode(legacy), /format version 1 carries no replay stamp/);
    const legacySigned = Buffer.concat([Buffer.from([0x4c, 0x49, 0x01, 0x01]), Buffer.alloc(32), packr.pack([ORIGIN, 'clear', null, 10])]);
    expectBadSignature(signed.decode(legacySigned), /format version 1 carries no replay stamp/);
  });

  it('writes format version 2', () => {
    expect([...codec.encode(ORIGIN, message).subarray(0, 4)]).toEqual([0x4c, 0x49, 0x02, 0x00]);
    expect([...new InvalidationMessageCodec({ secret: 's' }).encode(ORIGIN, message).subarray(0, 4)]).toEqual([0x4c, 0x49, 0x02, 0x01]);
  });
});

describe('heartbeats', () => {
  it('round-trip through decodeFrame, are no message for decode, and are signed like messages', () => {
    const codec = new InvalidationMessageCodec({ secret: 's' });
    const ping = codec.encodePing(ORIGIN, 42);
    expect(codec.decodeFrame(ping)).toStrictEqual({ ok: true, originId: ORIGIN, ping: 42, stamp: expect.objectContaining({ nonce: expect.any(String) }) });
    expect(codec.decode(ping)).toMatchObject({ ok: false, problem: 'malformed', reason: 'a heartbeat, not an invalidation message' });
    expect(new InvalidationMessageCodec({ secret: 'other' }).decodeFrame(ping)).toMatchObject({ ok: false, problem: 'signature' });
    expect(() => codec.encodePing(ORIGIN, Number.NaN)).toThrow(TypeError);
    const plain = new InvalidationMessageCodec();
    const bad = plain.encodePing(ORIGIN, 1);
    bad[bad.length - 1] = 0xc0; // the seq replaced by nil
    expect(plain.decodeFrame(bad)).toMatchObject({ ok: false, problem: 'malformed' });
  });
});
