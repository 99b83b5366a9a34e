/**
 * What a `@Cacheable` or `@CachePut` call needs, resolved once per decorated method and runtime class: the
 * key builder (the default key names the runtime class, so subclasses sharing a base method do not share
 * entries) and the entry options handed to the stack. The options object is the same on every call, so the
 * stack resolves it once (its WeakMap); only tags that are functions of the call need an object per call,
 * built on the miss path.
 */
import type { CacheEntryOptions } from '../stack/cache-stack.options.js';
import type { CacheTagValue } from '../common/cache-tags.metadata.js';
import { DECORATOR_ENTRY_OPTIONS, type CacheWriteOptions } from './cache-decorator.options.js';
import { defaultKeyBuilder, keyBuilderOf, type KeyBuilder } from './cache-key.builder.js';
import { getCacheTags, resolveCacheTags } from '../common/cache-tags.metadata.js';
import type { CacheSite, ClassRef } from './cache-method.wrapper.js';
import { NO_VALUE } from './return-shape.util.js';

/** The resolved plan of one decorated method for one class. */
export class WritePlan {
  constructor(
    readonly key: KeyBuilder,
    /** Shared by every call whose tags do not depend on the call. */
    readonly options: CacheEntryOptions,
    /** Tag values when some are functions of `(args, result)`; then options are built per call. */
    private readonly tagValues: readonly CacheTagValue[] | undefined,
  ) {}

  /** The options of one call: the shared object, or (tags depending on the call) a new one. */
  optionsFor(args: unknown[]): CacheEntryOptions {
    const values = this.tagValues;
    if (values === undefined) return this.options;
    const o = this.options;
    return { ...o, tags: (result: unknown) => resolveCacheTags(values, args, result) };
  }
}

/** The plans of one decorated method by runtime class, with a one-entry cache in front for the hot path. */
export class WritePlans {
  private readonly byClass = new WeakMap<ClassRef, WritePlan>();
  private lastClass: ClassRef | undefined;
  private lastPlan: WritePlan | undefined;
  private readonly key: KeyBuilder | undefined;

  constructor(
    private readonly site: CacheSite,
    private readonly options: CacheWriteOptions & { loaderTimeout?: CacheEntryOptions['loaderTimeout'] },
  ) {
    this.key = options.key === undefined ? undefined : keyBuilderOf(options.key);
  }

  /** The plan for calls on `self`. Class-level `@CacheTags` are read here, lazily: they are applied last. */
  of(self: unknown): WritePlan {
    const cls = this.site.classOf(self);
    if (cls === this.lastClass) return this.lastPlan as WritePlan;
    let plan = this.byClass.get(cls);
    if (plan === undefined) {
      plan = this.create(cls);
      this.byClass.set(cls, plan);
    }
    this.lastClass = cls;
    this.lastPlan = plan;
    return plan;
  }

  private create(cls: ClassRef): WritePlan {
    const o = this.options;
    const { prototype, propertyKey } = this.site;
    // The method as finally decorated on its declaring class carries every @CacheTags written around it.
    const values: CacheTagValue[] = [...getCacheTags(cls, (prototype as Record<string | symbol, unknown>)[propertyKey] as object)];
    if (typeof o.tags === 'function') values.push(o.tags as CacheTagValue);
    else if (o.tags !== undefined) values.push(...o.tags);
    const dynamic = values.some((value) => typeof value === 'function');
    const fixedTags = dynamic ? undefined : resolveCacheTags(values, [], undefined);
    const unless = o.unless as ((result: unknown) => boolean) | undefined;
    const options: CacheEntryOptions = {
      ...entryOptionsOf(o, this.site),
      loaderTimeout: o.loaderTimeout,
      // NO_VALUE: an Observable that completed empty is handed over, never stored.
      shouldCache: unless === undefined ? notEmpty : (value) => value !== NO_VALUE && !unless(value),
      tags: fixedTags !== undefined && fixedTags.length > 0 ? fixedTags : undefined,
    };
    const key = this.key ?? defaultKeyBuilder(cls.name === '' ? this.site.className : cls.name, this.site.method);
    return new WritePlan(key, options, dynamic ? values : undefined);
  }
}

/**
 * The entry options written on the decorator, as the stack reads them (absent ones stay absent). A
 * `circuitBreaker` written without a `scope` gets one circuit per decorated method (named `Class.method`).
 */
function entryOptionsOf(o: CacheWriteOptions, site: CacheSite): CacheEntryOptions {
  const options: Record<string, unknown> = {};
  for (const name of DECORATOR_ENTRY_OPTIONS) if (o[name] !== undefined) options[name] = o[name];
  const breaker = o.circuitBreaker;
  if (breaker !== undefined && breaker !== false && breaker.scope === undefined) {
    const circuit = `${site.className}.${site.method}`;
    options['circuitBreaker'] = { ...breaker, scope: () => circuit };
  }
  return options as CacheEntryOptions;
}

function notEmpty(value: unknown): boolean {
  return value !== NO_VALUE;
}
