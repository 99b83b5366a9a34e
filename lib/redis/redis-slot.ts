/**
 * Redis Cluster hash slots computed here (CRC16/XMODEM with hash tags, as `CLUSTER KEYSLOT`), so bulk calls can be
 * split into one command per slot. Hard part: the bytes hashed are the key's UTF-8 bytes, and only a non-empty
 * `{...}` hash tag narrows them.
 */
/** Number of hash slots of a Redis Cluster. */
export const REDIS_SLOT_COUNT = 16_384;

/** CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection) of every byte value, for {@link redisSlot}. */
const CRC16_TABLE = buildTable();

/**
 * The Redis Cluster hash slot of `key`: CRC16/XMODEM of the key's bytes (UTF-8 for a string, as ioredis
 * sends it) modulo 16384. When the key holds a hash tag (a `{` followed later by a `}` with at least one
 * byte between them), only the bytes between the first `{` and the first `}` after it are hashed, so keys
 * sharing a tag share a slot (`{user1000}.following` and `{user1000}.followers`); an empty tag (`{}`)
 * does not count and the whole key is hashed. Same result as the server's `CLUSTER KEYSLOT`.
 */
export function redisSlot(key: string | Uint8Array): number {
  return typeof key === 'string' ? stringSlot(key) : bytesSlot(key);
}

/**
 * Indexes of `keys` grouped by hash slot, in the order each slot first appears; within a group the indexes
 * keep their order. A multi-key command of a Redis Cluster (MGET, UNLINK) may only name keys of one slot.
 */
export function groupBySlot(keys: readonly (string | Uint8Array)[]): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = redisSlot(keys[i] as string | Uint8Array);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [i]);
    else group.push(i);
  }
  return [...groups.values()];
}

function stringSlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    // `{` and `}` are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII: character positions
    // delimit the same tag as byte positions would.
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    const code = key.charCodeAt(i);
    // Anything outside ASCII: hash the UTF-8 encoding (a lone surrogate becomes U+FFFD, as on the wire).
    if (code >= 0x80) return crc16(Buffer.from(key.slice(start, end), 'utf8')) & (REDIS_SLOT_COUNT - 1);
    crc = ((crc << 8) & 0xff00) ^ (CRC16_TABLE[((crc >>> 8) ^ code) & 0xff] as number);
  }
  return crc & (REDIS_SLOT_COUNT - 1);
}

function bytesSlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b); // {
  if (open !== -1) {
    const close = key.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(key.subarray(open + 1, close)) & (REDIS_SLOT_COUNT - 1);
  }
  return crc16(key) & (REDIS_SLOT_COUNT - 1);
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = ((crc << 8) & 0xff00) ^ (CRC16_TABLE[((crc >>> 8) ^ (bytes[i] as number)) & 0xff] as number);
  }
  return crc;
}

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
}
