/**
 * The single-flight fill notices (lib/distributed/fill-notice.codec.ts) on the fake clock: the unsigned form is
 * unchanged, the signed form round-trips, and a receiver with a secret drops unsigned, altered, foreign,
 * replayed and outdated notices.
 */
import { createFillNoticeCodec, FillNoticeCodec } from '../../lib/redis/fill-notice.codec.js';
import { FakeClock } from '../support/fake-clock.js';

const CHANNEL = 'lc:\u001ffill';
const KEY = 'ns\u001fuser:ключ 🔑';

describe('FillNoticeCodec', () => {
  it('without a secret: `f<key>` / `r<key>` as before, and signed notices are read without a check', () => {
    const clock = new FakeClock();
    const plain = new FillNoticeCodec(CHANNEL, undefined, clock, 30_000);
    expect(plain.encode('filled', KEY)).toBe(`f${KEY}`);
    expect(plain.encode('released', KEY)).toBe(`r${KEY}`);
    expect(plain.decode(`r${KEY}`)).toEqual({ key: KEY, kind: 'released' });
    const signed = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    expect(plain.decode(signed.encode('filled', KEY))).toEqual({ key: KEY, kind: 'filled' });
    expect(plain.decode('x-not-a-notice')).toBeUndefined();
    expect(plain.decode('f')).toBeUndefined();
  });

  it('with a secret: round-trips once, then the same text is a replay', () => {
    const clock = new FakeClock();
    const sender = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    const receiver = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    const text = sender.encode('released', KEY);
    expect(text.startsWith('R')).toBe(true);
    expect(text.endsWith(KEY)).toBe(true);
    expect(receiver.decode(text)).toEqual({ key: KEY, kind: 'released' });
    expect(receiver.decode(text)).toEqual({ dropped: expect.stringMatching(/a replay/) });
  });

  it('with a secret: drops unsigned, altered, another secret\'s, another channel\'s and truncated notices', () => {
    const clock = new FakeClock();
    const receiver = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    const sender = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    expect(receiver.decode(`f${KEY}`)).toEqual({ dropped: expect.stringMatching(/unsigned notice/) });
    const text = sender.encode('filled', 'k');
    expect(receiver.decode(`${text}x`)).toEqual({ dropped: expect.stringMatching(/bad signature/) }); // another key
    expect(receiver.decode(`R${text.slice(1)}`)).toEqual({ dropped: expect.stringMatching(/bad signature/) }); // another kind
    expect(receiver.decode(new FillNoticeCodec(CHANNEL, Buffer.from('other'), clock, 30_000).encode('filled', 'k'))).toEqual({ dropped: expect.stringMatching(/bad signature/) });
    expect(receiver.decode(new FillNoticeCodec('other\u001ffill', Buffer.from('s'), clock, 30_000).encode('filled', 'k'))).toEqual({ dropped: expect.stringMatching(/bad signature/) });
    expect(receiver.decode(text.slice(0, 40))).toEqual({ dropped: expect.stringMatching(/too short/) });
  });

  it('with a secret: a notice stamped outside the replay window (either side) is dropped', async () => {
    const clock = new FakeClock();
    const receiver = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000);
    const early = new FillNoticeCodec(CHANNEL, Buffer.from('s'), new FakeClock(clock.now() + 30_001), 30_000);
    expect(receiver.decode(early.encode('filled', 'k'))).toEqual({ dropped: expect.stringMatching(/ahead of this clock/) });
    const captured = new FillNoticeCodec(CHANNEL, Buffer.from('s'), clock, 30_000).encode('filled', 'k');
    await clock.advance(30_001);
    expect(receiver.decode(captured)).toEqual({ dropped: expect.stringMatching(/outside the replay window/) });
  });

  it('createFillNoticeCodec checks the options, naming them', () => {
    const clock = new FakeClock();
    expect(createFillNoticeCodec(CHANNEL, {}, clock).signed).toBe(false);
    expect(createFillNoticeCodec(CHANNEL, { secret: 's', replayWindow: '5s' }, clock).signed).toBe(true);
    expect(() => createFillNoticeCodec(CHANNEL, { secret: 42 }, clock)).toThrow(/"RedisSingleFlightCoordinator\.secret"/);
    expect(() => createFillNoticeCodec(CHANNEL, { replayWindow: '5s' }, clock)).toThrow(/set `secret` too/);
    expect(() => createFillNoticeCodec(CHANNEL, { secret: 's', replayWindow: 'never' as '1s' }, clock)).toThrow(/"RedisSingleFlightCoordinator\.replayWindow"/);
  });
});
