/**
 * Loading an optional peer dependency (memjs, @opentelemetry/api…) synchronously, only when a feature that needs it
 * is used. It is resolved from the app's entry script, then from the working directory, where the app installs its
 * peers, and not from this module's own URL: the ESM-only meta property (`import` dot `meta`) cannot be compiled by a CommonJS app's Jest
 * (ts-jest transforms this package to CommonJS), which would then fail on importing the library at all.
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

/** Where an optional peer is looked for, in order. */
function bases(): string[] {
  const entry = process.argv[1];
  return [...(entry === undefined || entry === '' ? [] : [resolve(entry)]), join(process.cwd(), 'index.js')];
}

/**
 * The module `name`, or a thrown `Error` whose message ends with the last resolution failure. Callers wrap it in
 * the typed error of the option that asked for the peer.
 */
export function requireOptionalPeer<T>(name: string): T {
  let failure: unknown;
  for (const base of bases()) {
    try {
      return createRequire(base)(name) as T;
    } catch (error) {
      failure = error;
    }
  }
  throw new Error(failure instanceof Error ? failure.message : String(failure));
}
