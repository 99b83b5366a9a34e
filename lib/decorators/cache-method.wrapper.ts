/**
 * The wiring shared by the method decorators (docs/architecture.md, "Decorators that need DI"):
 * 1. the decorator replaces `descriptor.value` with a wrapper that keeps the original's `name` and every
 *    metadata key of it (routes, guards, `@OnEvent`, `@Cron` live on the function object);
 * 2. it registers on the prototype a hidden property `stackPropertyKey(stack)` with
 *    `@Optional() @Inject(getCacheStackToken(stack))`, so every instance Nest constructs (singleton,
 *    request-scoped, transient, controllers, subclasses) receives its stack; `LayerCacheStackBinder` hands it
 *    to instances Nest did not construct (`useFactory`, `useValue`);
 * 3. the wrapper reads the stack from `this` on each call; there is no module-level reference to a stack,
 *    so two apps in one process never share one. Without a stack (a class used outside Nest) the method
 *    runs uncached and one warning is logged per class and method.
 */
import { Inject, Logger, Optional } from '@nestjs/common';
import { getCacheStackToken, stackPropertyKey, DEFAULT_STACK_NAME } from '../common/layer-cache.tokens.js';
import { isPassThroughStack } from '../common/pass-through-stack.js';
import type { CacheStack } from '../stack/cache-stack.js';
import { describeSite, type CacheTargetOptions } from './cache-decorator.options.js';
import { declaresStack, recordCacheMethod } from './cache-metadata.accessor.js';
import { InvalidOptionError } from '../core/errors.js';

/** A method as the wrappers see it. */
export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/** A class, as `getCacheTags` takes it. */
export type ClassRef = abstract new (...args: never[]) => unknown;

const logger = new Logger('LayerCache');

/** One decorated method: where it is declared, which stack and namespace it uses, its one-time warnings. */
export class CacheSite {
  /** `@Cacheable on UsersService.findOne`, for messages. */
  readonly label: string;
  readonly className: string;
  readonly method: string;
  readonly stackName: string;
  private readonly stackKey: symbol;
  private readonly namespace: string | undefined;
  private readonly views = new WeakMap<CacheStack, CacheStack>();
  private lastStack: CacheStack | undefined;
  private lastView: CacheStack | undefined;
  private readonly warned = new Set<string>();

  constructor(
    readonly decorator: string,
    /** The prototype that declares the method. */
    readonly prototype: object,
    readonly propertyKey: string | symbol,
    target: CacheTargetOptions,
  ) {
    this.className = prototype.constructor.name;
    this.method = methodLabel(propertyKey);
    this.label = describeSite(decorator, this.className, this.method);
    this.stackName = target.stack ?? DEFAULT_STACK_NAME;
    this.stackKey = stackPropertyKey(this.stackName);
    this.namespace = target.namespace;
  }

  /**
   * The stack (or namespace view) of `self`, or `undefined` when `self` has none (logged once per class) or has the
   * pass-through stack of test mode. Hot path: one property read and one comparison with the last stack seen.
   */
  stackOf(self: unknown): CacheStack | undefined {
    const stack = self === null || self === undefined ? undefined : (self as Record<symbol, CacheStack | undefined>)[this.stackKey];
    if (stack === undefined) {
      this.warnUnbound(self);
      return undefined;
    }
    if (stack === this.lastStack) return this.lastView;
    if (isPassThroughStack(stack)) return undefined; // test mode (`enabled: false`): the method runs on every call
    if (this.namespace === undefined) {
      this.lastStack = stack;
      this.lastView = stack;
      return stack;
    }
    let view = this.views.get(stack);
    if (view === undefined) {
      view = stack.namespace(this.namespace);
      this.views.set(stack, view);
    }
    this.lastStack = stack;
    this.lastView = view;
    return view;
  }

  /** The class of `self`, for per-class plans and messages (the declaring class when it has none). */
  classOf(self: unknown): ClassRef {
    const ctor = (self as { constructor?: unknown } | null | undefined)?.constructor;
    return (typeof ctor === 'function' ? ctor : this.prototype.constructor) as ClassRef;
  }

  /** Logs once per kind of problem of this method (a bad key, a surprising return shape, ...). */
  warnOnce(kind: string, message: string, error?: unknown): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    logger.warn(`${this.label}: ${message}${error === undefined ? '' : `: ${describe(error)}`} (logged once)`);
  }

  /** Awaits cache work that must never fail the method (a write, an eviction): errors are logged. */
  safely(work: Promise<unknown>): Promise<void> {
    return work.then(noop, (error: unknown) => logger.warn(`${this.label}: cache operation failed: ${describe(error)}`));
  }

  private warnUnbound(self: unknown): void {
    const cls = self === null || self === undefined ? 'unbound' : this.classOf(self).name;
    this.warnOnce(
      `unbound:${cls}`,
      `the instance of ${cls} has no cache stack (created outside Nest, called without \`this\`, or called before ` +
        `LayerCacheModule bound it); calling the method without the cache`,
    );
  }
}

/**
 * Replaces a method with a wrapper built by `wrap`, keeping its name and metadata, and registers the hidden
 * stack property and the method record. Throws `InvalidOptionError` for a static method or a non-method.
 */
export function decorateMethod<O extends CacheTargetOptions>(
  decorator: string,
  target: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  check: (label: string) => O,
  wrap: (original: AnyMethod, site: CacheSite, options: O) => AnyMethod,
): void {
  if (typeof propertyKey !== 'string' && typeof propertyKey !== 'symbol') {
    throw new InvalidOptionError(
      decorator,
      'was applied as a TC39 standard decorator; like NestJS it needs TypeScript\'s `experimentalDecorators` (and `emitDecoratorMetadata`)',
    );
  }
  const method = methodLabel(propertyKey);
  if (typeof target === 'function') {
    throw new InvalidOptionError(decorator, `cannot decorate the static method ${target.name}.${method}; use it on instance methods of providers or controllers`);
  }
  const original: unknown = descriptor?.value;
  if (typeof original !== 'function') {
    throw new InvalidOptionError(decorator, `${target.constructor.name}.${method} is not a method (getters, setters and fields cannot be cached)`);
  }
  const options = check(describeSite(decorator, target.constructor.name, method));
  const site = new CacheSite(decorator, target, propertyKey, options);
  const wrapper = wrap(original as AnyMethod, site, options);
  for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapper);
  }
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  descriptor.value = wrapper;

  if (!declaresStack(target, site.stackName)) {
    const key = stackPropertyKey(site.stackName);
    Inject(getCacheStackToken(site.stackName))(target, key);
    Optional()(target, key);
  }
  recordCacheMethod(target, { decorator, className: site.className, method: site.method, stack: site.stackName });
}

/** A method's name for messages: `findOne`, or `[description]` for a symbol. */
function methodLabel(propertyKey: string | symbol): string {
  return typeof propertyKey === 'symbol' ? `[${propertyKey.description ?? 'symbol'}]` : propertyKey;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function noop(): void {}
