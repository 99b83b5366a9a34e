/**
 * Conditional GET (`If-None-Match` → 304) on both adapters without exception filters, with one semantics: the
 * interceptor is part of the origin server, so it evaluates `If-None-Match` against the representation it
 * replays (RFC 9110 §13.1.2, weak comparison) whatever the request's `Cache-Control`; `no-cache` (which
 * `fetch` adds to every conditional request) is a directive to caches between client and origin and neither
 * skips the entry nor the 304 (RFC 9111 §5.2.1.4 concerns stored responses of such caches).
 * - Express: its `res.send` answers 304 when `req.fresh`, which its `fresh` check denies on `no-cache`; a
 *   marked request gets an own `fresh` property that is `true`, so `res.send` answers 304 (empty body).
 * - Fastify has no such check: an `onSend` hook, added once per Fastify instance when the app starts, turns
 *   the reply of a request the interceptor marked into an empty 304.
 * Other adapters answer 200 with the body.
 */
import type { AbstractHttpAdapter } from '@nestjs/core';

/** Marks a request whose `If-None-Match` matched the stored representation. */
export const NOT_MODIFIED_MARK: unique symbol = Symbol.for('nestjs-layercache:not-modified') as never;

/** The parts of a Fastify instance, request and reply the hook uses (duck-typed). */
interface FastifyLike {
  addHook(name: 'onSend', hook: (request: object, reply: ReplyLike, payload: unknown, done: (error: null, payload: unknown) => void) => void): unknown;
}
interface ReplyLike {
  readonly statusCode: number;
  code(status: number): unknown;
}

const hooked = new WeakSet<object>();

/** Adds the Fastify `onSend` hook once per instance (no-op on Express and others, or once Fastify is ready). */
export function installNotModifiedHook(adapter: AbstractHttpAdapter | undefined): void {
  if (adapter === undefined || adapter.getType() !== 'fastify') return;
  const instance = adapter.getInstance<FastifyLike>();
  if (hooked.has(instance)) return;
  try {
    // A callback hook, not an async one: it runs on every reply of the instance, and a promise per reply costs
    // each of them an allocation and a microtask.
    instance.addHook('onSend', (request, reply, payload, done) => {
      if ((request as Record<symbol, unknown>)[NOT_MODIFIED_MARK] !== true || reply.statusCode < 200 || reply.statusCode >= 300) {
        done(null, payload);
        return;
      }
      reply.code(304);
      done(null, null);
    });
    hooked.add(instance);
  } catch {
    // Fastify is already ready (e.g. a request-scoped interceptor created late): no 304s, 200 with the body.
  }
}

/** Marks a request for a 304 (see the file header). */
export function markNotModified(request: object): void {
  (request as Record<symbol, unknown>)[NOT_MODIFIED_MARK] = true;
  // Express's request prototype has the `fresh` getter; an own property hides it for this request only.
  if ('fresh' in request) Object.defineProperty(request, 'fresh', { value: true, configurable: true, enumerable: false });
}
