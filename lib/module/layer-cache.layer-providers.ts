/**
 * Layers as providers (docs/testing.md, "Layers as providers"): an entry of `layers` may be a Nest provider
 * definition (`{ name, useFactory, inject }`, `{ name, useClass }`, `{ name, useExisting }`), and each layer whose
 * name is known when the module is defined is injectable by `getCacheLayerToken(name, stack)`.
 * Hard parts:
 * - laziness: a definition's dependencies are resolved by Nest (a provider of their own, so `inject` is honoured in
 *   order), but its factory or class runs only when the module builds its stack, so `overrideProvider(CacheStack)`
 *   builds no layer and opens nothing;
 * - ownership: a layer the module built (factory, class) is closed with the stack; a `useExisting` layer is the
 *   app's, so the stack gets a view of it whose `close()` does nothing.
 */
import type { FactoryProvider, InjectionToken, OptionalFactoryDependency, Provider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InvalidOptionError } from '../core/errors.js';
import type { CacheLayer } from '../core/layer.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { DEFAULT_MEMORY_LAYER_OPTIONS } from '../layers/memory-layer.options.js';
import { DEFAULT_REDIS_LAYER_OPTIONS } from '../redis/redis-layer.options.js';

/** A layer built by a factory whose arguments Nest injects (`inject`, as in a factory provider). */
export interface LayerCacheLayerFactoryProvider {
  /** The name of the layer the factory returns (its token: `getCacheLayerToken(name)`); checked when it is built. */
  name: string;
  /** Returns the layer; called once per app, when the module builds its stack. The module closes the layer with the stack. */
  useFactory: (...args: never[]) => CacheLayer | Promise<CacheLayer>;
  /** The providers passed to `useFactory`, in order (e.g. an ioredis client, `ConfigService`). @default [] */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

/** A layer class Nest instantiates with its constructor's dependencies (once per app, when the stack is built). */
export interface LayerCacheLayerClassProvider {
  /** The name of the layer (its token); checked when it is built. */
  name: string;
  /** The class; the module closes its instance with the stack. */
  useClass: Type<CacheLayer>;
}

/** A layer the app already provides under `useExisting`: the stack uses it, the module never closes it. */
export interface LayerCacheLayerExistingProvider {
  /** The name of the layer (its token); checked when the stack is built. */
  name: string;
  /** The token of the app's provider of the layer. */
  useExisting: InjectionToken;
}

/** One entry of `layers` given as a Nest provider definition. */
export type LayerCacheLayerProvider = LayerCacheLayerFactoryProvider | LayerCacheLayerClassProvider | LayerCacheLayerExistingProvider;

/** What a provider definition's provider resolves to: builds its layer on demand. */
export interface LayerSource {
  build(): CacheLayer | Promise<CacheLayer>;
  /** Whether the module owns (closes) the layer. */
  readonly owned: boolean;
}

/** A definition's source, by its index in `layers`. */
export type LayerSources = ReadonlyMap<number, LayerSource>;

const KINDS = ['useFactory', 'useClass', 'useExisting'] as const;

/** Whether an entry of `layers` is a provider definition (rather than a layer or a factory function). */
export function isLayerProvider(entry: unknown): entry is LayerCacheLayerProvider {
  return entry !== null && typeof entry === 'object' && KINDS.some((kind) => Object.hasOwn(entry, kind));
}

/** Checks a provider definition of `layers` (`option`: how errors name it, e.g. `layers[1]`). */
export function checkLayerProvider(entry: LayerCacheLayerProvider, option: string): void {
  const kinds = KINDS.filter((kind) => Object.hasOwn(entry, kind));
  if (kinds.length !== 1) throw new InvalidOptionError(option, `expected one of useFactory, useClass, useExisting; got ${kinds.join(', ')}`);
  const kind = kinds[0] as (typeof KINDS)[number];
  checkOptionKeys(entry, kind === 'useFactory' ? ['name', 'useFactory', 'inject'] : ['name', kind], { at: option });
  const { name } = entry as { name?: unknown };
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError(`${option}.name`, `expected the name of the layer it provides (its token is getCacheLayerToken(name)), got ${String(name)}`);
  }
  const value: unknown = (entry as unknown as Record<string, unknown>)[kind];
  if (kind !== 'useExisting' && typeof value !== 'function') throw new InvalidOptionError(`${option}.${kind}`, `expected a ${kind === 'useClass' ? 'class' : 'function'}`);
  if (kind === 'useExisting' && (value === undefined || value === null)) throw new InvalidOptionError(`${option}.useExisting`, 'expected a provider token');
  const inject: unknown = (entry as { inject?: unknown }).inject;
  if (inject !== undefined && !Array.isArray(inject)) throw new InvalidOptionError(`${option}.inject`, 'expected an array of provider tokens');
}

/**
 * The providers resolving the dependencies of each provider definition in `layers` (their tokens: `tokens`, one per
 * definition, by index). Nothing is built here: each resolves to a {@link LayerSource}.
 */
export function layerSourceProviders(layers: readonly unknown[] | undefined, stackName: string): { providers: Provider[]; tokens: Map<number, symbol> } {
  const providers: Provider[] = [];
  const tokens = new Map<number, symbol>();
  (layers ?? []).forEach((entry, index) => {
    if (!isLayerProvider(entry)) return;
    const token = Symbol(`nestjs-layercache:layer-source:${stackName}:${index}`);
    tokens.set(index, token);
    providers.push(sourceProvider(entry, token));
  });
  return { providers, tokens };
}

function sourceProvider(entry: LayerCacheLayerProvider, token: symbol): FactoryProvider<LayerSource> {
  if ('useFactory' in entry) {
    const factory = entry.useFactory as (...args: unknown[]) => CacheLayer | Promise<CacheLayer>;
    return { provide: token, useFactory: (...deps: unknown[]) => ({ build: () => factory(...deps), owned: true }), inject: entry.inject ?? [] };
  }
  if ('useClass' in entry) {
    const cls = entry.useClass;
    return { provide: token, useFactory: (moduleRef: ModuleRef) => ({ build: () => moduleRef.create(cls), owned: true }), inject: [ModuleRef] };
  }
  return { provide: token, useFactory: (existing: CacheLayer) => ({ build: () => existing, owned: false }), inject: [entry.useExisting] };
}

/** What `staticLayerNames` reads: the layer options of a registration known when the module is defined. */
export interface StaticLayerOptions {
  readonly layers?: readonly unknown[] | undefined;
  readonly memory?: { readonly name?: string } | undefined;
  readonly redis?: unknown;
  readonly redisLayer?: { readonly name?: string } | undefined;
}

/**
 * The names of the layers known when the module is defined (each gets a token): instances' and definitions'
 * names, and in `forRoot` the default memory layer's and the `redis` shortcut's. Factory functions' layers are
 * only named once built (no token). Two entries with one name are an `InvalidOptionError`.
 */
export function staticLayerNames(options: StaticLayerOptions, complete: boolean): string[] {
  const named: [name: string, where: string][] = [];
  if (options.layers !== undefined) {
    options.layers.forEach((entry, index) => {
      const name = (entry as { name?: unknown } | null)?.name;
      if (typeof entry !== 'function' && typeof name === 'string') named.push([name, `layers[${index}]`]);
    });
  } else if (complete) {
    named.push([options.memory?.name ?? DEFAULT_MEMORY_LAYER_OPTIONS.name, 'the default memory layer']);
  }
  if (complete && options.redis !== undefined) named.push([options.redisLayer?.name ?? DEFAULT_REDIS_LAYER_OPTIONS.name, 'the redis layer']);
  checkUniqueNames(named);
  return named.map(([name]) => name);
}

/** Throws `InvalidOptionError` when two layers of one stack share a name (metrics and tokens name layers). */
export function checkUniqueNames(named: readonly (readonly [name: string, where: string])[]): void {
  const seen = new Map<string, string>();
  for (const [name, where] of named) {
    const first = seen.get(name);
    if (first !== undefined) {
      throw new InvalidOptionError('layers', `${first} and ${where} are both named "${name}"; layer names must be unique in a stack (give one another name)`);
    }
    seen.set(name, where);
  }
}

/**
 * A view of an app's layer (`useExisting`) for the stack: every member is the layer's own (methods bound to it)
 * except `close()`, which does nothing, since the app owns the layer.
 */
export function borrowedLayer(layer: CacheLayer): CacheLayer {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(layer, {
    get(target, property) {
      if (property === 'close') return noop;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}

function noop(): void {}
