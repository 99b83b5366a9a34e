/**
 * The shape a decorated method keeps: a Promise-returning method stays async, an Observable-returning one
 * returns an Observable, a plain method stays synchronous. Read from `design:returntype`; Observables are
 * duck-typed (another copy of rxjs must work too), never checked with `instanceof`.
 */
import { lastValueFrom, Observable, type Subscribable, type Subscriber, type Unsubscribable } from 'rxjs';

/** How a decorated method returns its value. */
export type ReturnShape = 'async' | 'sync' | 'observable';

/** Stands for "the Observable completed without a value": never cached, never emitted. */
export const NO_VALUE: unique symbol = Symbol('nestjs-layercache:no-value');

/**
 * The shape of a method from its declared return type: `Promise` (or another thenable class) → async;
 * an Observable class → observable; no metadata (no annotation, no `emitDecoratorMetadata`) → async;
 * any other declared type (`number`, a class, an interface, `any`) → sync.
 */
export function returnShapeOf(prototype: object, propertyKey: string | symbol): ReturnShape {
  const type: unknown = Reflect.getMetadata('design:returntype', prototype, propertyKey);
  if (typeof type !== 'function') return 'async';
  const proto = type.prototype as Record<string, unknown> | undefined;
  if (type === Promise || typeof proto?.['then'] === 'function') return 'async';
  if (typeof proto?.['subscribe'] === 'function' && typeof proto['lift'] === 'function') return 'observable';
  return 'sync';
}

/** Whether a value is a promise or another thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** The last value of an Observable, or `NO_VALUE` when it completes without one. */
export function lastValueOf(source: Observable<unknown>): Promise<unknown> {
  return lastValueFrom(source, { defaultValue: NO_VALUE });
}

/** Emits the settled value of `promise` (nothing for `NO_VALUE`) and completes, or errors. */
export function emitSettled(subscriber: Subscriber<unknown>, promise: Promise<unknown>): void {
  promise.then(
    (value) => {
      if (value !== NO_VALUE) subscriber.next(value);
      subscriber.complete();
    },
    (error: unknown) => subscriber.error(error),
  );
}

/**
 * Mirrors `source` (subscribed lazily) and, when it completes, awaits `after(lastValue)` (`NO_VALUE` when
 * it emitted nothing) before completing. `after` must not reject. An error of `source` skips `after`.
 */
export function completeAfter(source: Subscribable<unknown>, after: (last: unknown) => Promise<void>): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let last: unknown = NO_VALUE;
    const inner = source.subscribe({
      next: (value) => {
        last = value;
        subscriber.next(value);
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => void after(last).then(() => subscriber.complete()),
    });
    return () => inner.unsubscribe();
  });
}

/** Runs `before()` at each subscription, then mirrors `source`. `before` must not reject. */
export function subscribeAfter(before: () => Promise<void>, source: Subscribable<unknown>): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let inner: Unsubscribable | undefined;
    let closed = false;
    void before().then(() => {
      if (!closed) inner = source.subscribe(subscriber);
    });
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });
}
