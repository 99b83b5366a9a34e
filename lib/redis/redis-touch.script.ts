/**
 * The one Lua command of `RedisLayer.touch` (a sliding or adaptive extension, docs/freshness.md): rewrites an
 * envelope's deadlines (and its extension's ttl) in place with SETRANGE and moves the key's expiry, without reading
 * the value into the process. Hard part: it must never win over a concurrent write, so it compares, inside the
 * script, the stored version (bytes 45-52, as bytes: the same write) and the stored `freshUntil` (only later), and
 * does nothing to data that is not an envelope of the current format. One key: Cluster-safe.
 */
import type { CacheEntry } from '../core/entry.js';
import { ENTRY_DEADLINES_OFFSET, ENTRY_EXTENSION_TTL_OFFSET, ENTRY_MAGIC, ENTRY_TAGGED_MAGIC, ENTRY_VERSION_OFFSET } from '../core/entry-codec.js';
import { luaScript, runScript, type RedisClient } from './redis-client.js';

/** Bytes of the fixed header every envelope has (see entry-codec.ts). */
const HEADER_BYTES = ENTRY_EXTENSION_TTL_OFFSET;

/**
 * KEYS[1] the entry; ARGV: [1] magic, [2] the 8 version bytes, [3] the 24 bytes of the new deadlines (f64 LE
 * freshUntil, staleUntil, errorUntil), [4] the 8 bytes of the new extension ttl, [5] PX ms ('0': no expiry), [6] the
 * magic of a tagged envelope.
 * Returns 1 when the envelope was extended, 0 when the key holds no envelope of that version with an earlier
 * freshUntil (missing, another write, already extended as far, another type or format).
 */
export const TOUCH_IF_SAME_VERSION = luaScript(`local held = redis.pcall('GET', KEYS[1])
if type(held) ~= 'string' or #held < ${HEADER_BYTES} or (string.sub(held, 1, 3) ~= ARGV[1] and string.sub(held, 1, 3) ~= ARGV[6]) then return 0 end
if string.sub(held, ${ENTRY_VERSION_OFFSET + 1}, ${ENTRY_VERSION_OFFSET + 8}) ~= ARGV[2] then return 0 end
if struct.unpack('<d', held, ${ENTRY_DEADLINES_OFFSET + 1}) >= struct.unpack('<d', ARGV[3], 1) then return 0 end
redis.call('SETRANGE', KEYS[1], ${ENTRY_DEADLINES_OFFSET}, ARGV[3])
if string.byte(held, 4) % 2 == 1 and #held >= ${HEADER_BYTES + 8} then redis.call('SETRANGE', KEYS[1], ${ENTRY_EXTENSION_TTL_OFFSET}, ARGV[4]) end
if ARGV[5] == '0' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1`);

/** Runs {@link TOUCH_IF_SAME_VERSION} on `redisKey` for `entry`, keeping the key `px` ms (`undefined`: no expiry). */
export async function touchEnvelope(client: RedisClient, redisKey: string, entry: CacheEntry, px: number | undefined): Promise<boolean> {
  const version = Buffer.allocUnsafe(8);
  version.writeDoubleLE(entry.version ?? 0, 0);
  const deadlines = Buffer.allocUnsafe(24);
  deadlines.writeDoubleLE(entry.freshUntil, 0);
  deadlines.writeDoubleLE(entry.staleUntil, 8);
  deadlines.writeDoubleLE(entry.errorUntil, 16);
  const ttl = Buffer.allocUnsafe(8);
  ttl.writeDoubleLE(entry.freshness?.ttl ?? 0, 0);
  const reply = await runScript(client, TOUCH_IF_SAME_VERSION, [redisKey], [ENTRY_MAGIC, version, deadlines, ttl, px ?? 0, ENTRY_TAGGED_MAGIC]);
  return reply === 1;
}
