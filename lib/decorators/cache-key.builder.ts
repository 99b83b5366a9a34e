/**
 * Keys of decorated method calls, built without `JSON.stringify` where possible.
 * - Templates (`'user:{0}'`, `'{0.id}:{1}'`) are parsed once; `{n}` is the n-th argument, `{n.a.b}` a
 *   property path into it. Strings, numbers, booleans and bigints appear as `String(value)`, `null` and
 *   `undefined` as words, objects in the collision-free argument encoding. A path that reaches
 *   `undefined` (a typo such as `{0.Id}`) is an error, not the word `undefined` shared by every call.
 * - The default key is `ClassName.methodName:` + `encodeArguments(args)`; an encoding longer than a key
 *   may be is replaced by its SHA-256 (`#` + base64url, which no encoding starts with).
 */
import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../core/errors.js';
import { encodeArguments, MAX_KEY_LENGTH } from '../core/keys.js';
import type { CacheKeyOption } from './cache-decorator.options.js';

/** Builds the key of one call from its arguments. */
export type KeyBuilder = (args: unknown[]) => string;

const PLACEHOLDER = /\{(\d+)((?:\.[^.{}\s]+)*)\}/g;

/** One `{n.path}` of a template. */
interface Slot {
  readonly index: number;
  readonly path: readonly string[];
}

/** The key builder of a `key` option (template or function). */
export function keyBuilderOf(option: CacheKeyOption): KeyBuilder {
  if (typeof option === 'function') return (args) => option(...args);
  return compileKeyTemplate(option);
}

/** Parses a key template once into a builder; a template without placeholders is a constant key. */
export function compileKeyTemplate(template: string): KeyBuilder {
  const literals: string[] = [];
  const slots: Slot[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    literals.push(template.slice(last, match.index));
    slots.push({ index: Number(match[1]), path: match[2] === '' || match[2] === undefined ? [] : match[2].slice(1).split('.') });
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  if (slots.length === 0) return () => template;
  const first = slots[0] as Slot;
  const head = literals[0] as string;
  if (slots.length === 1 && first.path.length === 0) {
    const index = first.index;
    return (args) => head + keyPart(args[index]) + tail;
  }
  return (args) => {
    let key = '';
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as Slot;
      key += (literals[i] as string) + keyPart(slot.path.length === 0 ? args[slot.index] : follow(template, args, slot));
    }
    return key + tail;
  };
}

/** The default key builder: `ClassName.methodName:` + the encoded arguments. */
export function defaultKeyBuilder(className: string, method: string): KeyBuilder {
  const prefix = `${className}.${method}:`;
  const room = MAX_KEY_LENGTH - prefix.length;
  return (args) => {
    const encoded = encodeArguments(args);
    return encoded.length <= room ? prefix + encoded : prefix + '#' + createHash('sha256').update(encoded).digest('base64url');
  };
}

/** How one argument (or a property of it) appears in a template key. */
function keyPart(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return 'undefined';
    default:
      return value === null ? 'null' : encodeArguments([value]);
  }
}

function follow(template: string, args: unknown[], slot: Slot): unknown {
  let value: unknown = args[slot.index];
  for (const name of slot.path) {
    if (value === null || value === undefined) break;
    value = (value as Record<string, unknown>)[name];
  }
  if (value === undefined) {
    throw new InvalidKeyError(
      `Key template ${JSON.stringify(template)}: {${slot.index}.${slot.path.join('.')}} is undefined for this call`,
    );
  }
  return value;
}
