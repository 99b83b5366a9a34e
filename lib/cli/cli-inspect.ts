/**
 * `inspect <key>`: one entry as the stack sees it. Finds its Redis key (namespaces and their current generations,
 * cli-keyspace.ts), decodes the envelope (entry-codec.ts) with a pass-through serializer so the header is shown
 * even when the value was written by a serializer the CLI does not know, then tries msgpack (the default) and
 * JSON on the value. Reports the state at the current time (fresh, stale, error-window, expired), the time left in
 * each window and the Redis TTL, the tags with whether an invalidation recorded in the tag store rejects the entry
 * (the rule of lib/stack/tag-mirror.ts), the write version and when it was taken, size and compression.
 */
import { inspect as inspectValue } from 'node:util';
import { systemClock } from '../core/clock.js';
import { decodeEntry, undecodableReason } from '../core/entry-codec.js';
import { entryState, EntryState, type CacheEntry } from '../core/entry.js';
import { JsonSerializer } from '../core/json.serializer.js';
import { MsgpackSerializer } from '../core/msgpack.serializer.js';
import type { Serializer } from '../core/serializer.js';
import { rejection, type TagState } from '../core/tag-store.js';
import { CLI_EXIT, humanBytes, humanMs, type CliContext, type CliResult } from './cli-context.js';
import { internalKey, printable, resolveNamespace } from './cli-keyspace.js';

const STATE_NAMES: Readonly<Record<EntryState, string>> = {
  [EntryState.Fresh]: 'fresh',
  [EntryState.Stale]: 'stale',
  [EntryState.ErrorWindow]: 'error-window',
  [EntryState.Expired]: 'expired',
};
const ALGORITHMS: Readonly<Record<number, string>> = { 1: 'gzip', 2: 'brotli', 3: 'zstd' };
const HEADER_BYTES = 56;
const EXTENSION_BYTES = 56;
const FLAG_EXTENSION = 1;
const FLAG_COMPRESSED = 8;
const PREVIEW_CHARS = 400;

/** Hands the (inflated) value bytes through, so the header decodes whatever serializer wrote the value. */
const RAW: Serializer = { encode: (value) => value as Uint8Array, decode: (bytes) => Buffer.from(bytes) };

/** One tag of the entry and what the tag store holds against it. */
interface TagReport {
  readonly tag: string;
  /** The tag's version the entry recorded before its value was loaded (µs of the tag store's clock; 0 = none). */
  readonly recorded: number;
  /** The version of the tag's last invalidation alone still kept (0 = none). */
  readonly invalidatedAt: number;
  /** The invalidation (a tag alone, or an "all" group the entry carries entirely) newer than the entry, if any. */
  readonly rejectedBy: { readonly tags: readonly string[]; readonly version: number } | null;
}

/** A tag version (µs) as an instant, or "never" for 0 (small numbers are versions of a store that could not answer). */
function versionTime(version: number): string {
  if (version === 0) return 'never';
  return version > 1e12 ? new Date(version / 1000).toISOString() : `version ${version}`;
}

export async function runInspect(context: CliContext): Promise<CliResult> {
  const { command, connection, tagStore } = context;
  const prefix = command.connection.prefix;
  const namespace = await resolveNamespace(tagStore, command.namespaces);
  const key = internalKey(namespace, command.argument as string, command.hashLongKeys);
  const redisKey = prefix + key;
  const [bytes, pttl] = await Promise.all([
    connection.client.getBuffer(redisKey).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return 'wrongtype' as const;
      throw error;
    }),
    connection.client.pttl(redisKey),
  ]);
  const where = { key: command.argument, namespaces: namespace.names, generations: namespace.generations, redisKey };
  if (bytes === null) {
    return { exitCode: CLI_EXIT.notFound, document: { found: false, ...where }, lines: [`not found: ${printable(redisKey)}`] };
  }
  if (bytes === 'wrongtype') {
    const document = { found: true, ...where, state: 'undecodable', reason: 'another Redis type is stored under the key' };
    return { exitCode: CLI_EXIT.ok, document, lines: [`${printable(redisKey)}: undecodable (another Redis type is stored under the key)`] };
  }
  const entry = decodeEntry(bytes, RAW) as CacheEntry;
  const reason = undecodableReason(entry);
  if (reason !== undefined) {
    const document = { found: true, ...where, state: 'undecodable', reason, size: bytes.length };
    return { exitCode: CLI_EXIT.ok, document, lines: [`${printable(redisKey)}: undecodable (${reason}), ${bytes.length} bytes`] };
  }
  const now = systemClock.now();
  const tags = await tagReports(entry, entry.tags === undefined ? [] : await tagStore.fetch(entry.tags));
  const rejected = tags.some((tag) => tag.rejectedBy !== null);
  const compression = compressionOf(bytes, entry);
  const value = decodeValue(entry.value as Buffer);
  const version = entry.version ?? 0;
  const document = {
    found: true,
    ...where,
    state: STATE_NAMES[entryState(entry, now)],
    invalidatedByTags: rejected,
    now,
    createdAt: entry.createdAt,
    freshUntil: entry.freshUntil,
    staleUntil: entry.staleUntil,
    errorUntil: entry.errorUntil,
    remaining: {
      fresh: Math.max(0, entry.freshUntil - now),
      stale: Math.max(0, entry.staleUntil - now),
      error: Math.max(0, entry.errorUntil - now),
      redisTtl: pttl >= 0 ? pttl : null,
    },
    tags,
    version,
    versionTime: version > 0 ? new Date(version / 1000).toISOString() : null,
    freshness: entry.freshness === undefined ? null : { ...entry.freshness, maxUntil: Number.isFinite(entry.freshness.maxUntil) ? entry.freshness.maxUntil : null },
    size: bytes.length,
    valueSize: (entry.value as Buffer).length,
    compression,
    valueEncoding: value.encoding,
    value: value.preview,
  };
  return { exitCode: CLI_EXIT.ok, document, lines: humanLines(document, entry, now) };
}

/**
 * Each tag's state against the version the entry recorded for it (tag-mirror.ts: a newer "any" invalidation, or a
 * newer "all" group it fully carries).
 */
function tagReports(entry: CacheEntry, states: readonly (TagState | undefined)[]): TagReport[] {
  const tags = entry.tags ?? [];
  return tags.map((tag, i) => {
    const state = states[i];
    const recorded = entry.tagVersions?.[i] ?? 0;
    const found = state === undefined ? undefined : rejection(tag, state, tags, recorded);
    return { tag, recorded, invalidatedAt: state?.any ?? 0, rejectedBy: found === undefined ? null : { tags: found.tags, version: found.version } };
  });
}

/** The compression of the stored value (`null` for none): algorithm and inflated size, read from its prefix. */
function compressionOf(bytes: Buffer, entry: CacheEntry): { algorithm: string; inflatedSize: number } | null {
  const flags = bytes[3] as number;
  if ((flags & FLAG_COMPRESSED) === 0) return null;
  let offset = HEADER_BYTES + ((flags & FLAG_EXTENSION) !== 0 ? EXTENSION_BYTES : 0);
  for (const tag of entry.tags ?? []) offset += 12 + Buffer.byteLength(tag, 'utf8');
  return { algorithm: ALGORITHMS[bytes[offset] as number] ?? `unknown (${String(bytes[offset])})`, inflatedSize: bytes.readUInt32LE(offset + 1) };
}

/** The value decoded with msgpack (the default serializer), else JSON, as a bounded preview. */
function decodeValue(bytes: Buffer): { encoding: string; preview: string | null } {
  for (const [encoding, serializer] of [
    ['msgpack', new MsgpackSerializer()],
    ['json', new JsonSerializer()],
  ] as const) {
    try {
      const value = serializer.decode(bytes);
      const text = inspectValue(value, { depth: 4, breakLength: Infinity, maxArrayLength: 20, maxStringLength: PREVIEW_CHARS });
      return { encoding, preview: text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text };
    } catch {
      // try the next one
    }
  }
  return { encoding: 'unknown (a custom serializer?)', preview: null };
}

function humanLines(document: Record<string, unknown> & { remaining: Record<string, number | null>; tags: TagReport[] }, entry: CacheEntry, now: number): string[] {
  const at = (ms: number): string => (Number.isFinite(ms) ? `${new Date(ms).toISOString()} (${ms > now ? `in ${humanMs(ms - now)}` : `${humanMs(now - ms)} ago`})` : 'never');
  const state = document['invalidatedByTags'] === true ? `${String(document['state'])}, but invalidated by a tag (a miss)` : String(document['state']);
  const lines = [
    `key          ${printable(String(document['redisKey']))}`,
    `state        ${state}`,
    `created      ${at(entry.createdAt)}`,
    `fresh until  ${at(entry.freshUntil)}`,
    `stale until  ${at(entry.staleUntil)}`,
    `error until  ${at(entry.errorUntil)}`,
    `redis ttl    ${document.remaining['redisTtl'] === null ? 'none' : humanMs(document.remaining['redisTtl'] as number)}`,
    `version      ${String(document['version'])}${document['versionTime'] === null ? '' : ` (${String(document['versionTime'])})`}`,
  ];
  if (document.tags.length === 0) lines.push('tags         none');
  for (const tag of document.tags) {
    const verdict = tag.rejectedBy === null ? 'valid' : `REJECTED by the invalidation of ${tag.rejectedBy.tags.join(' + ')} at ${versionTime(tag.rejectedBy.version)}`;
    lines.push(`tag          ${printable(tag.tag)}: ${verdict} (entry read it at ${versionTime(tag.recorded)})`);
  }
  const compression = document['compression'] as { algorithm: string; inflatedSize: number } | null;
  lines.push(`size         ${humanBytes(Number(document['size']))}${compression === null ? '' : `, ${compression.algorithm} of ${humanBytes(compression.inflatedSize)}`}`);
  if (entry.freshness !== undefined) lines.push(`freshness    ttl ${humanMs(entry.freshness.ttl)}${entry.freshness.sliding ? ', sliding' : ''}${entry.freshness.refreshAhead > 0 ? `, refresh-ahead ${entry.freshness.refreshAhead}` : ''}`);
  lines.push(`value (${String(document['valueEncoding'])})  ${document['value'] === null ? '(not decodable here)' : String(document['value'])}`);
  return lines;
}
