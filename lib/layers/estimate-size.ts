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
  /** Objects met so far: a short list (no allocation of a Set for the usual small value), then a Set. */
  readonly few: object[];
  many: Set<object> | undefined;
}

/** Objects kept in `Walk.few` before switching to a Set. */
const FEW = 16;

/** Whether `value` was met before; records it otherwise. */
function seenBefore(value: object, walk: Walk): boolean {
  if (walk.many !== undefined) {
    if (walk.many.has(value)) return true;
    walk.many.add(value);
    return false;
  }
  if (walk.few.includes(value)) return true;
  if (walk.few.length < FEW) {
    walk.few.push(value);
  } else {
    walk.many = new Set(walk.few);
    walk.many.add(value);
  }
  return false;
}

/** The estimated size of `value` in bytes (a finite integer > 0; never throws). */
export function estimateSize(value: unknown): number {
  // The common cases first: no walk state for a string, a number or a buffer body.
  if (typeof value !== 'object' || value === null) return primitiveSize(value);
  if (ArrayBuffer.isView(value)) return value.byteLength + OBJECT_OVERHEAD;
  const walk: Walk = { budget: MAX_NODES, bytes: 0, few: [], many: undefined };
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
  if (seenBefore(value, walk)) {
    walk.bytes += SLOT; // counted where it was first met (also ends a cycle)
    return;
  }
  if (Array.isArray(value)) {
    visitArray(value as unknown[], walk);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    visitRecord(value as Record<string, unknown>, walk);
  } else if (ArrayBuffer.isView(value)) {
    walk.bytes += value.byteLength + OBJECT_OVERHEAD;
  } else if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
    walk.bytes += value.byteLength + OBJECT_OVERHEAD;
  } else if (value instanceof Date || value instanceof RegExp) {
    walk.bytes += OBJECT_OVERHEAD + SLOT;
  } else if (value instanceof Map) {
    const start = open(walk, value.size);
    let measured = 0;
    for (const [k, v] of value) {
      if (walk.budget <= 0) break;
      visit(k, walk);
      visit(v, walk);
      measured++;
    }
    extrapolate(walk, start, measured, value.size);
  } else if (value instanceof Set) {
    const start = open(walk, value.size);
    let measured = 0;
    for (const item of value) {
      if (walk.budget <= 0) break;
      visit(item, walk);
      measured++;
    }
    extrapolate(walk, start, measured, value.size);
  } else {
    visitRecord(value as Record<string, unknown>, walk); // a class instance: its own enumerable properties
  }
}

function visitArray(value: readonly unknown[], walk: Walk): void {
  const count = value.length;
  const start = open(walk, count);
  let measured = 0;
  while (measured < count && walk.budget > 0) visit(value[measured++], walk);
  extrapolate(walk, start, measured, count);
}

function visitRecord(value: Record<string, unknown>, walk: Walk): void {
  const keys = Object.keys(value);
  const count = keys.length;
  const start = open(walk, count);
  let measured = 0;
  while (measured < count && walk.budget > 0) {
    const key = keys[measured++] as string;
    walk.bytes += 2 * key.length;
    visit(value[key], walk);
  }
  extrapolate(walk, start, measured, count);
}

/** Counts a container of `count` children (its overhead and one slot each); returns the count so far. */
function open(walk: Walk, count: number): number {
  walk.bytes += OBJECT_OVERHEAD + SLOT * count;
  return walk.bytes;
}

/** Extrapolates the children of a container left unvisited from the average of the `measured` ones. */
function extrapolate(walk: Walk, start: number, measured: number, count: number): void {
  if (measured > 0 && measured < count) walk.bytes += ((walk.bytes - start) / measured) * (count - measured);
}
