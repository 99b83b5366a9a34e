/**
 * The stack's maximum entry lifetime (`maxLifetime`, docs/freshness.md "Maximum lifetime"): no deadline of an entry
 * (`freshUntil`, `staleUntil`, `errorUntil`, and `freshness.maxUntil`, the limit of read-time extensions) lies more
 * than `maxLifetime` after its base — its `createdAt`, or an earlier instant a writer gives (when the versions of its
 * tags were read, before the loader ran). Tag records and namespace generation counters expire after that long
 * (issue 18), so no entry may outlive the records it was validated against.
 *
 * Where it is enforced: the entries the stack builds (`EntryFactory.build`, every write and load), their extensions
 * on read (`Renewals.onFreshRead`: `shiftCapped`), and entries restored from a snapshot (`capDeadlines`).
 * Hard part: a sliding extension moves the stale windows by the same shift as `freshUntil`; the shift is capped per
 * deadline, and an extension never moves a deadline earlier than it was (an entry written before the cap existed
 * keeps what it has, it only stops growing).
 */
import { toMilliseconds, type Duration } from '../core/duration.js';
import type { CacheEntry } from '../core/entry.js';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheLogger } from '../core/logger.js';
import { DEFAULT_CACHE_STACK_OPTIONS } from './cache-stack.options.js';

/** The smallest `maxLifetime` accepted (ms): 1 s. */
export const MIN_MAX_LIFETIME_MS = 1000;

/**
 * Resolves the `maxLifetime` option into milliseconds (`undefined`: 7 days).
 * @throws InvalidOptionError naming `maxLifetime` for what is not a duration, or less than 1 s.
 */
export function resolveMaxLifetime(option: Duration | undefined): number {
  const ms = toMilliseconds(option ?? DEFAULT_CACHE_STACK_OPTIONS.maxLifetime, 'maxLifetime');
  if (!(ms >= MIN_MAX_LIFETIME_MS)) {
    throw new InvalidOptionError('maxLifetime', `must be at least 1 s (tag records and namespace generations expire after it), got ${ms} ms`);
  }
  return ms;
}

/**
 * `entry` with every deadline, and `freshness.maxUntil`, at most `until`; the same object when none is later.
 * A deadline already at or before `until` is kept as it is.
 */
export function capDeadlines(entry: CacheEntry, until: number): CacheEntry {
  const f = entry.freshness;
  const maxUntil = f !== undefined && f.maxUntil > until;
  if (entry.freshUntil <= until && entry.staleUntil <= until && entry.errorUntil <= until && !maxUntil) return entry;
  return {
    ...entry,
    freshUntil: Math.min(entry.freshUntil, until),
    staleUntil: Math.min(entry.staleUntil, until),
    errorUntil: Math.min(entry.errorUntil, until),
    ...(maxUntil && { freshness: { ...f, maxUntil: until } }),
  };
}

/** `deadline` moved later by `shift`, but not past `limit`; never earlier than `deadline` (an extension only extends). */
export function shiftCapped(deadline: number, shift: number, limit: number): number {
  const moved = deadline + shift;
  if (moved <= limit) return moved;
  return deadline > limit ? deadline : limit;
}

/** The cap of the entries one stack builds, and its warning (logged once per stack). */
export class LifetimeCap {
  private warned = false;

  /**
   * @param maxMs the stack's `maxLifetime` in ms.
   * @param logger where the one warning goes (the stack's logger).
   */
  constructor(
    readonly maxMs: number,
    private readonly logger: CacheLogger,
  ) {}

  /**
   * `entry` (built at its `createdAt`) capped at `base + maxLifetime`; `base` is clamped to `createdAt` (never
   * later). The first entry of the stack whose ttl and windows alone reach past `maxLifetime` is named in a warning
   * (one capped only because its base is earlier, by a loader's duration, is not: its options are not the cause).
   * @param userKey the key as the caller wrote it, for the warning.
   */
  cap(entry: CacheEntry, base: number, userKey: string): CacheEntry {
    const capped = capDeadlines(entry, Math.min(base, entry.createdAt) + this.maxMs);
    const span = Math.max(entry.staleUntil, entry.errorUntil) - entry.createdAt;
    if (capped !== entry && !this.warned && span > this.maxMs) {
      this.warned = true;
      this.logger.warn(
        `maxLifetime: the entry "${userKey}" was written with a ttl and stale windows reaching ${describeMs(span)} ` +
          `after its creation; it is capped at the stack's maxLifetime (${describeMs(this.maxMs)}), after which tag records and namespace generations expire. ` +
          'Raise maxLifetime to keep entries longer (logged once per stack)',
      );
    }
    return capped;
  }
}

/** `ms` in the largest unit that keeps it readable: `7 days`, `1.5 hours`, `90 seconds`. */
function describeMs(ms: number): string {
  const [amount, unit] = ms >= 86_400_000 ? [ms / 86_400_000, 'day'] : ms >= 3_600_000 ? [ms / 3_600_000, 'hour'] : ms >= 60_000 ? [ms / 60_000, 'minute'] : [ms / 1000, 'second'];
  const rounded = Math.round(amount * 100) / 100;
  return `${rounded} ${unit}${rounded === 1 ? '' : 's'}`;
}
