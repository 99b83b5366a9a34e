/**
 * How the CLI finds an entry's Redis key: `<layer prefix>` + the stack's internal key, i.e. the namespace names,
 * each scope followed by its generation once bumped (`g` + U+001C), then the user key (hashed when long and
 * `--hash-long-keys`). The same scheme as lib/stack/key-space.ts and generations.ts (the CLI may not import the
 * engine's internals); the integration spec writes entries with a real stack in bumped namespaces and finds
 * them here, so a change of either side fails it. Also: parsing an internal key back into its parts, and
 * printing keys whose control characters would otherwise be invisible.
 */
import { checkKey, checkName, NAMESPACE_SEPARATOR } from '../core/keys.js';
import type { RedisTagStore } from '../redis/redis-tag.store.js';

/** Follows a scope's generation in a key (lib/stack/generations.ts `GENERATION_MARK`). */
const GENERATION_MARK = '\u001c';

/** Starts the library's own keys right after the layer prefix (tag store, locks, leases). */
export const INTERNAL_KEY_MARK = '\u001f';

/** A namespace path resolved against the tag store: its scopes, their generations and the physical key prefix. */
export interface ResolvedNamespace {
  /** The namespace names, outermost first. */
  readonly names: readonly string[];
  /** The scope of each level, root (`''`) first: what generations are recorded under. */
  readonly scopes: readonly string[];
  /** The current generation of each scope (0 = never bumped). */
  readonly generations: readonly number[];
  /** The internal key prefix of the namespace at its current generations. */
  readonly prefix: string;
}

/** The scopes and current generations of `names` (nested, outermost first), read from the tag store. */
export async function resolveNamespace(store: RedisTagStore, names: readonly string[]): Promise<ResolvedNamespace> {
  const scopes = [''];
  for (const name of names) scopes.push((scopes[scopes.length - 1] as string) + checkName('namespace', name) + NAMESPACE_SEPARATOR);
  const generations = await store.generations(scopes);
  let prefix = '';
  for (let i = 0; i < scopes.length; i++) {
    if (i > 0) prefix += (names[i - 1] as string) + NAMESPACE_SEPARATOR;
    const generation = generations[i] ?? 0;
    if (generation > 0) prefix += String(generation) + GENERATION_MARK;
  }
  return { names, scopes, generations, prefix };
}

/** The internal key of user key `key` in `namespace` (checked like the stack does). */
export function internalKey(namespace: ResolvedNamespace, key: string, hashLongKeys: boolean): string {
  return namespace.prefix + checkKey(key, hashLongKeys);
}

/** An internal key taken apart. */
export interface KeyParts {
  /** Namespace names, outermost first. */
  readonly namespaces: string[];
  /** The generation each level was written under (root first; 0 = none). */
  readonly generations: number[];
  /** The key within its namespace (a memoized call's key keeps its U+001D mark, a hashed key its U+001E). */
  readonly key: string;
}

/** Splits an internal key (the Redis key without the layer prefix) into namespaces, generations and key. */
export function keyParts(internal: string): KeyParts {
  const segments = internal.split(NAMESPACE_SEPARATOR);
  const namespaces: string[] = [];
  const generations: number[] = [];
  segments.forEach((segment, index) => {
    // eslint-disable-next-line no-control-regex
    const match = /^(\d+)\u001c/.exec(segment);
    generations.push(match === null ? 0 : Number(match[1]));
    const rest = match === null ? segment : segment.slice(match[0].length);
    if (index < segments.length - 1) namespaces.push(rest);
    else segments[index] = rest;
  });
  return { namespaces, generations, key: segments[segments.length - 1] as string };
}

/** `text` with control characters as `\uXXXX`, for a terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
