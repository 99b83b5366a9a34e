/**
 * The module's opt-in `admin: { path, guard }` extra: a JSON stats endpoint and a dashboard page of one stack.
 * Hard part: no admin route without a guard — a missing or wrong `guard` fails `forRoot` with an `InvalidOptionError`
 * naming `admin.guard`; the path is checked to plain segments (no route parameters or wildcards).
 */
import type { CanActivate, Type } from '@nestjs/common';
import { toMilliseconds, type Duration } from '../core/duration.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { describeValue, positiveInteger } from '../core/option-values.js';

/** The `admin` option of `LayerCacheModule.forRoot` / `forRootAsync` (static in both). */
export interface LayerCacheAdminOptions {
  /** Where the page is mounted (`'/admin/cache'`); the JSON is at `<path>/stats`. Plain segments only. */
  path: string;
  /** Protects both routes: a `CanActivate` class (instantiated by Nest in the registration's scope) or instance. Required. */
  guard: Type<CanActivate> | CanActivate;
  /** How often a point of the time series is taken (on the stack's clock) and the page polls (a number is seconds). @default '5s' */
  interval?: Duration;
  /** Points of the time series kept in memory (a ring: the oldest is dropped). @default 120 */
  history?: number;
}

/** Defaults of {@link LayerCacheAdminOptions}. */
export const DEFAULT_LAYER_CACHE_ADMIN_OPTIONS: Readonly<Required<Pick<LayerCacheAdminOptions, 'interval' | 'history'>>> = Object.freeze({
  interval: '5s',
  history: 120,
});

/** {@link LayerCacheAdminOptions} checked and resolved. */
export interface ResolvedAdminOptions {
  /** Normalized: no leading or trailing slash. */
  readonly path: string;
  readonly guard: Type<CanActivate> | CanActivate;
  readonly intervalMs: number;
  readonly history: number;
}

const ADMIN_KEYS: ReadonlySet<string> = new Set(['path', 'guard', 'interval', 'history']);
const SEGMENT_RE = /^[A-Za-z0-9._~-]+$/;
/** The shortest sampling interval: the page polls at this pace too. */
const MIN_INTERVAL_MS = 100;

/** Checks the `admin` option (eagerly, when `forRoot` / `forRootAsync` is called) and resolves its defaults. */
export function checkAdminOption(admin: unknown): ResolvedAdminOptions {
  if (admin === null || typeof admin !== 'object' || Array.isArray(admin)) {
    throw new InvalidOptionError('admin', `expected { path, guard, interval?, history? }, got ${describeValue(admin)}`);
  }
  checkOptionKeys(admin, ADMIN_KEYS, { at: 'admin' });
  const { path, guard, interval, history } = admin as Partial<LayerCacheAdminOptions>;
  const intervalMs = toMilliseconds(interval ?? DEFAULT_LAYER_CACHE_ADMIN_OPTIONS.interval, 'admin.interval');
  if (intervalMs < MIN_INTERVAL_MS) throw new InvalidOptionError('admin.interval', `expected at least ${MIN_INTERVAL_MS} ms, got ${intervalMs} ms`);
  return {
    path: checkPath(path),
    guard: checkGuard(guard),
    intervalMs,
    history: history === undefined ? DEFAULT_LAYER_CACHE_ADMIN_OPTIONS.history : positiveInteger('admin.history', history, 'points'),
  };
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string') throw new InvalidOptionError('admin.path', `expected a path such as '/admin/cache', got ${describeValue(path)}`);
  const segments = path.split('/').filter((segment) => segment.length > 0);
  if (segments.length === 0) throw new InvalidOptionError('admin.path', `expected a path below the root such as '/admin/cache', got ${describeValue(path)}`);
  const bad = segments.find((segment) => !SEGMENT_RE.test(segment) || segment === '.' || segment === '..');
  if (bad !== undefined) {
    throw new InvalidOptionError('admin.path', `expected plain segments of letters, digits and . _ ~ - (no parameters or wildcards), got ${describeValue(path)}`);
  }
  return segments.join('/');
}

function checkGuard(guard: unknown): Type<CanActivate> | CanActivate {
  if (guard === undefined || guard === null) {
    throw new InvalidOptionError('admin.guard', 'is required: the stats routes are never mounted unprotected (give a CanActivate class or instance)');
  }
  if (typeof guard === 'function') {
    if (typeof (guard as { prototype?: { canActivate?: unknown } }).prototype?.canActivate === 'function') return guard as Type<CanActivate>;
  } else if (typeof guard === 'object' && typeof (guard as { canActivate?: unknown }).canActivate === 'function') {
    return guard as CanActivate;
  }
  throw new InvalidOptionError('admin.guard', `expected a CanActivate class or instance (with a canActivate method), got ${describeValue(guard)}`);
}
