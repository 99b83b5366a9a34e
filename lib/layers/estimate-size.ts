/**
 * A structural estimate of a value's size in bytes, the default `sizeOf` of `MemoryLayer.maxBytes`:
 * strings count 2 bytes a character, buffers their length, numbers 8, objects the sum of their parts plus
 * a small overhead. Cheap and bounded in depth; pass your own `sizeOf` when you know better.
 */
const OBJECT_OVERHEAD = 16;
const MAX_DEPTH = 8;

export function estimateSize(value: unknown): number {
  return measure(value, 0);
}

function measure(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 2 * value.length + 8;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 4;
    case 'object':
      if (value === null) return 4;
      if (depth >= MAX_DEPTH) return OBJECT_OVERHEAD;
      if (ArrayBuffer.isView(value)) return value.byteLength + OBJECT_OVERHEAD;
      if (value instanceof Date) return OBJECT_OVERHEAD + 8;
      if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + measure(item, depth + 1), OBJECT_OVERHEAD);
      if (value instanceof Map) {
        let sum = OBJECT_OVERHEAD;
        for (const [k, v] of value) sum += measure(k, depth + 1) + measure(v, depth + 1);
        return sum;
      }
      if (value instanceof Set) {
        let sum = OBJECT_OVERHEAD;
        for (const item of value) sum += measure(item, depth + 1);
        return sum;
      }
      {
        let sum = OBJECT_OVERHEAD;
        for (const key of Object.keys(value)) {
          sum += 2 * key.length + measure((value as Record<string, unknown>)[key], depth + 1);
        }
        return sum;
      }
    default:
      return 8;
  }
}
