/**
 * The glob of `invalidateByPattern`: `*` matches any run of characters, `?` exactly one, every other character
 * only itself (no classes, no escapes: keys are plain strings). Control characters never match (see `findKeys`
 * in the layer contract), so a pattern cannot reach into nested namespaces or the library's own keys.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A predicate for the part of a key after the prefix. */
export function globMatcher(glob: string | undefined): (rest: string) => boolean {
  if (glob === undefined) return (rest) => !CONTROL.test(rest);
  let source = '^';
  for (const char of glob) {
    if (char === '*') source += '[^\\u0000-\\u001f\\u007f]*';
    else if (char === '?') source += '[^\\u0000-\\u001f\\u007f]';
    else source += char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  const regex = new RegExp(`${source}$`, 'u');
  return (rest) => regex.test(rest);
}

/** The same glob as a Redis `MATCH` pattern fragment: `*` and `?` kept, every other metacharacter escaped. */
export function toRedisGlob(glob: string | undefined): string {
  if (glob === undefined) return '*';
  let out = '';
  for (const char of glob) out += char === '*' || char === '?' ? char : char.replace(/[[\]\\^-]/g, '\\$&');
  return out;
}
