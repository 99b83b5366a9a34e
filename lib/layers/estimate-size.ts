/**
 * A structural estimate of a value's size in bytes, the default `sizeOf` of `MemoryLayer`: strings count
 * 2 bytes a character (an upper bound: V8 keeps Latin-1 strings in one), buffers and typed arrays their byte
 * length, numbers 8, objects the sum of their parts plus a small overhead.
 *
 * Hard parts: it runs on every write to L1, so it must stay cheap and must never throw. Each object is
 * counted once (shared references and cycles included); at most {@link MAX_NODES} values are visited, and a
 * container still holding unvisited children when that budget runs out is extrapolated from the average of
 * the children it did visit. Getters or proxies that throw end the walk with what was counted so far.
 */
const OBJECT_OVERHEAD = 16;
const SLOT = 8;
/** Most values (objects and primitives) visited per estimate: bounds the cost of a write whatever the value's shape. */
export const MAX_NODES = 4096;

interface Walk {
  /** Values the walk may still visit. */
  budget: number;
  /** Bytes counted so far: what a throw part-way through still reports. */
  bytes: number;
  readonly seen: Set<object>;
}

/** The estimated size of `value` in bytes (a finite integer > 0; never throws). */
export function estimateSize(value: unknown): number {
  // The common cases first: no walk state for a string, a number or a buffer body.
  if (typeof value !== 'object' || value === null) return primitiveSize(value);
  if (ArrayBuffer.isView(value)) return value.byteLength + OBJECT_OVERHEAD;
  const walk: Walk = { budget: MAX_NODES, bytes: 0, seen: new Set() };
  try {
    visit(value, walk);
  } catch {
    // A throwing getter or proxy trap: keep what was counted before it.
  }
  return Number.isFinite(walk.bytes) && walk.bytes > 0 ? Math.ceil(walk.bytes) : OBJECT_OVERHEAD;
}

function primitiveSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 2 * value.length + OBJECT_OVERHEAD;
    case 'boolean':
      return 4;
    case 'bigint':
      return 16;
    default:
      return SLOT; // number, undefined, null, symbol, function (a reference)
  }
}

/** Adds the size of `value` to `walk.bytes`. */
function visit(value: unknown, walk: Walk): void {
  walk.budget--;
  if (typeof value !== 'object' || value === null) {
    walk.bytes += primitiveSize(value);
    return;
  }
  if (walk.seen.has(value)) {
    walk.bytes += SLOT; // counted where it was first met (also ends a cycle)
    return;
  }
  walk.seen.add(value);
  if (ArrayBuffer.isView(value)) {
    walk.bytes += value.byteLength + OBJECT_OVERHEAD;
  } else if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
    walk.bytes += value.byteLength + OBJECT_OVERHEAD;
  } else if (value instanceof Date || value instanceof RegExp) {
    walk.bytes += OBJECT_OVERHEAD + SLOT;
  } else if (Array.isArray(value)) {
    visitAll(value.length, value.values(), (item) => visit(item, walk), walk);
  } else if (value instanceof Map) {
    visitAll(value.size, value.entries(), ([k, v]) => (visit(k, walk), visit(v, walk)), walk);
  } else if (value instanceof Set) {
    visitAll(value.size, value.values(), (item) => visit(item, walk), walk);
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    visitAll(keys.length, keys.values(), (key) => ((walk.bytes += 2 * key.length), visit(record[key], walk)), walk);
  }
}

/**
 * Counts a container of `count` children: its overhead and one slot per child, then each child while the
 * budget lasts; the children left are extrapolated from the average of those measured.
 */
function visitAll<T>(count: number, children: Iterator<T>, each: (child: T) => void, walk: Walk): void {
  walk.bytes += OBJECT_OVERHEAD + SLOT * count;
  const start = walk.bytes;
  let measured = 0;
  while (measured < count && walk.budget > 0) {
    const next = children.next();
    if (next.done === true) break;
    each(next.value);
    measured++;
  }
  if (measured > 0 && measured < count) walk.bytes += ((walk.bytes - start) / measured) * (count - measured);
}
