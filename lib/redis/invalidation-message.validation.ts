/**
 * The checks of the L1 invalidation bus's messages and settings (wire format in `invalidation-message.codec.ts`):
 * each returns the reason a value is not what is expected (or throws `InvalidOptionError` for an option), with
 * a short description of the value, never the whole value. Used where a message is published (a bad message
 * fails there, instead of being dropped by every peer) and where a decoded body is turned into a message.
 */
import { InvalidOptionError } from '../core/errors.js';

/** Most keys (or tags) one message may carry; a bus splits longer "keys" and "any"-mode "tags" messages. */
export const MAX_INVALIDATION_ITEMS = 10_000;

/** Longest origin id, in characters. */
export const MAX_ORIGIN_ID_LENGTH = 256;

/**
 * Checks an HMAC secret: `undefined`, a non-empty string or a non-empty Buffer / Uint8Array; returns a private
 * copy of its bytes (later changes to the caller's Buffer do not change the key).
 */
export function checkInvalidationSecret(option: string, secret: unknown): Buffer | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret === 'string') {
    if (secret.length === 0) throw new InvalidOptionError(option, 'expected a non-empty string or Buffer, got an empty string');
    return Buffer.from(secret, 'utf8');
  }
  if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw new InvalidOptionError(option, 'expected a non-empty string or Buffer, got an empty Buffer');
    return Buffer.from(secret);
  }
  throw new InvalidOptionError(option, `expected a non-empty string or Buffer, got ${describeValue(secret)}`);
}

/**
 * Checks an origin id: a non-empty string of at most {@link MAX_ORIGIN_ID_LENGTH} characters. Returns the
 * reason it is not one, or `undefined`.
 */
export function originIdProblem(originId: unknown): string | undefined {
  if (typeof originId !== 'string') return `the origin id is ${describeValue(originId)}, not a string`;
  if (originId.length === 0) return 'the origin id is empty';
  if (originId.length > MAX_ORIGIN_ID_LENGTH) return `the origin id is ${originId.length} characters long (max ${MAX_ORIGIN_ID_LENGTH})`;
  return undefined;
}

/**
 * Checks that `value` is exactly an {@link InvalidationMessage}: returns the reason it is not one, or
 * `undefined`. Extra properties are not allowed: they would be lost on the wire.
 */
export function invalidationMessageProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `the message is ${describeValue(value)}, not an object`;
  const message = value as Record<string, unknown>;
  switch (message.kind) {
    case 'keys':
      return (
        exactProperties(message, ['kind', 'keys', 'version']) ??
        stringListProblem('keys', message.keys) ??
        counterProblem('version', message.version)
      );
    case 'tags':
      return (
        exactProperties(message, ['kind', 'tags', 'mode', 'versions']) ??
        stringListProblem('tags', message.tags) ??
        modeProblem(message.mode) ??
        tagVersionsProblem(message.tags as string[], message.mode as 'any' | 'all', message.versions)
      );
    case 'clear':
      return (
        exactProperties(message, ['kind', 'prefix', 'version'], ['prefix']) ??
        (message.prefix === undefined || typeof message.prefix === 'string' ? undefined : `prefix is ${describeValue(message.prefix)}, not a string or undefined`) ??
        counterProblem('version', message.version)
      );
    case 'generation':
      return (
        exactProperties(message, ['kind', 'scope', 'generation']) ??
        (typeof message.scope === 'string' ? undefined : `scope is ${describeValue(message.scope)}, not a string`) ??
        counterProblem('generation', message.generation)
      );
    default:
      return `unknown kind ${describeValue(message.kind)}`;
  }
}

/** Checks that a decoded body has `expected` fields (its kind is `body[1]`). */
export function arityProblem(body: readonly unknown[], expected: number): string | undefined {
  return body.length === expected ? undefined : `a "${String(body[1])}" message has ${expected} fields, got ${body.length}`;
}

/** Checks a list of keys or tags: an array of at most {@link MAX_INVALIDATION_ITEMS} strings. */
export function stringListProblem(field: string, list: unknown): string | undefined {
  if (!Array.isArray(list)) return `${field} is ${describeValue(list)}, not an array`;
  if (list.length > MAX_INVALIDATION_ITEMS) return `${field} has ${list.length} entries (max ${MAX_INVALIDATION_ITEMS})`;
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== 'string') return `${field}[${i}] is ${describeValue(list[i])}, not a string`;
  }
  return undefined;
}

/**
 * Checks a version or generation: a safe non-negative integer (every counter the library produces
 * is one; how far a peer's counter may be ahead is judged by the stack, see lib/stack/peer-counters.ts).
 */
export function counterProblem(field: string, value: unknown): string | undefined {
  if (typeof value !== 'number') return `${field} is ${describeValue(value)}, not a number`;
  if (!Number.isSafeInteger(value) || value < 0) return `${field} is ${String(value)}, not a safe non-negative integer`;
  return undefined;
}

/** Checks the versions of a "tags" message: safe non-negative integers, one per tag ("any") or one ("all"). */
export function tagVersionsProblem(tags: readonly string[], mode: 'any' | 'all', versions: unknown): string | undefined {
  if (!Array.isArray(versions)) return `versions is ${describeValue(versions)}, not an array`;
  const expected = mode === 'all' ? Math.min(tags.length, 1) : tags.length;
  if (versions.length !== expected) return `versions has ${versions.length} entries, expected ${expected} (${mode === 'all' ? 'one for the group' : 'one per tag'})`;
  for (let i = 0; i < versions.length; i++) {
    const problem = counterProblem(`versions[${i}]`, versions[i]);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Checks a tag match mode: "any" or "all". */
export function modeProblem(mode: unknown): string | undefined {
  return mode === 'any' || mode === 'all' ? undefined : `mode is ${describeValue(mode)}, not "any" or "all"`;
}

/** Only `names` (some of which may be `optional`) are own enumerable properties of `value`. */
function exactProperties(value: Record<string, unknown>, names: readonly string[], optional: readonly string[] = []): string | undefined {
  for (const name of names) {
    if (!optional.includes(name) && !Object.hasOwn(value, name)) return `missing property "${name}"`;
  }
  for (const name of Object.keys(value)) {
    if (!names.includes(name)) return `unexpected property "${name}"`;
  }
  return undefined;
}

/** A short description of an unexpected value for a reason string (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return String(value);
    case 'object':
      return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
    default:
      return `a ${typeof value}`;
  }
}
