/**
 * Prometheus export of the stacks' metrics (`metrics: { prometheus }`, docs/observability.md "## Prometheus"):
 * `layercache_*` counters, gauges and histograms registered in a prom-client registry (the default `register`, or
 * the one given), labelled by stack, layer and operation only (never a key or a tag).
 *
 * Hard parts: the hot path pays nothing — each metric is a custom prom-client metric whose `get()` reads
 * `CacheStack.getMetrics()` at scrape time; the latency distributions become real histograms (`_bucket{le}`
 * cumulative, `_sum`, `_count`, in seconds). Several stacks (named registrations) share one set of metrics per
 * registry and prefix (prom-client refuses a name twice): each adds itself as a source and removes itself on
 * shutdown; the last one out unregisters the metrics. prom-client is an optional peer, imported only when
 * `prometheus: true` asks for its default registry.
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/option-keys.js';
import { LATENCY_BUCKETS_MS, type CacheMetrics, type LatencyMetrics } from '../core/metrics.js';
import type { CacheStack } from '../stack/cache-stack.js';

/** What the exporter needs of a prom-client `Registry` (any prom-client 15 registry fits). */
export interface LayerCachePrometheusRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/** `metrics.prometheus` as an object: the registry (default: prom-client's global `register`) and the name prefix. */
export interface LayerCachePrometheusOptions {
  /** @default prom-client's default `register` */
  registry?: LayerCachePrometheusRegistry;
  /** Prefix of every metric name: letters, digits and `_`. @default 'layercache_' */
  prefix?: string;
}

/** The module's `metrics` option. */
export interface LayerCacheMetricsOptions {
  /** Registers the stack's metrics in prom-client's registry (`true`: the default registry and prefix). @default false */
  prometheus?: boolean | LayerCachePrometheusOptions;
}

/** The default metric name prefix. */
export const DEFAULT_PROMETHEUS_PREFIX = 'layercache_';

/** Checks the `metrics` option: unknown keys are errors. */
export function checkMetricsOption(metrics: unknown): void {
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new InvalidOptionError('metrics', 'expected an object ({ prometheus })');
  }
  checkOptionKeys(metrics, ['prometheus'], { at: 'metrics' });
  const prometheus = (metrics as LayerCacheMetricsOptions).prometheus;
  if (prometheus === undefined || typeof prometheus === 'boolean') return;
  if (prometheus === null || typeof prometheus !== 'object' || Array.isArray(prometheus)) {
    throw new InvalidOptionError('metrics.prometheus', 'expected true, false or { registry, prefix }');
  }
  checkOptionKeys(prometheus, ['registry', 'prefix'], { at: 'metrics.prometheus' });
  const { registry, prefix } = prometheus;
  if (registry !== undefined && (registry === null || typeof registry.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function')) {
    throw new InvalidOptionError('metrics.prometheus.registry', 'expected a prom-client Registry');
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix))) {
    throw new InvalidOptionError('metrics.prometheus.prefix', 'expected a metric name prefix (letters, digits, _; not starting with a digit)');
  }
}

type Labels = Record<string, string>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}
interface MetricDef {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly samples: (source: string, metrics: CacheMetrics, out: Sample[]) => void;
}

const LAYER_COUNTERS = ['hits', 'misses', 'sets', 'setAttempts', 'deletes', 'backfills', 'errors', 'skipped', 'undecodable'] as const;
const BUS_COUNTERS = ['published', 'publishErrors', 'received', 'rejected', 'resyncs'] as const;
const STACK_GAUGES: ReadonlySet<string> = new Set(['openCircuits']);

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The samples of a histogram (seconds) from a distribution in ms. */
function histogram(name: string, labels: Labels, latency: LatencyMetrics, out: Sample[]): void {
  let cumulative = 0;
  LATENCY_BUCKETS_MS.forEach((bound, i) => {
    cumulative += latency.buckets[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bound / 1000) }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: latency.count });
  out.push({ metricName: `${name}_sum`, labels, value: latency.sum / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: latency.count });
}

/** Every metric exported, under `prefix`. */
function definitions(prefix: string, stackFields: readonly string[]): MetricDef[] {
  const defs: MetricDef[] = [];
  for (const field of LAYER_COUNTERS) {
    defs.push({
      name: `${prefix}layer_${snake(field)}_total`,
      help: `LayerMetrics.${field} of each layer`,
      type: 'counter',
      samples: (stack, m, out) => {
        for (const [layer, counters] of Object.entries(m.layers)) out.push({ labels: { stack, layer }, value: counters[field] });
      },
    });
  }
  for (const field of stackFields) {
    const gauge = STACK_GAUGES.has(field);
    defs.push({
      name: `${prefix}${snake(field)}${gauge ? '' : '_total'}`,
      help: `StackMetrics.${field}`,
      type: gauge ? 'gauge' : 'counter',
      samples: (stack, m, out) => void out.push({ labels: { stack }, value: (m.stack as unknown as Record<string, number>)[field] ?? 0 }),
    });
  }
  for (const field of BUS_COUNTERS) {
    defs.push({
      name: `${prefix}bus_${snake(field)}_total`,
      help: `BusMetrics.${field} of the invalidation bus`,
      type: 'counter',
      samples: (stack, m, out) => void (m.bus !== undefined && out.push({ labels: { stack }, value: m.bus[field] })),
    });
  }
  const layerOps = `${prefix}layer_operation_duration_seconds`;
  defs.push({
    name: layerOps,
    help: 'Duration of layer commands (the synchronous L1 reads sampled), in seconds',
    type: 'histogram',
    samples: (stack, m, out) => {
      for (const [layer, counters] of Object.entries(m.layers)) {
        for (const [operation, latency] of Object.entries(counters.latency)) histogram(layerOps, { stack, layer, operation }, latency, out);
      }
    },
  });
  const loader = `${prefix}loader_duration_seconds`;
  defs.push({ name: loader, help: 'Duration of loader runs, in seconds', type: 'histogram', samples: (stack, m, out) => histogram(loader, { stack }, m.loaderDuration, out) });
  const lag = `${prefix}bus_lag_seconds`;
  defs.push({
    name: lag,
    help: 'Invalidation bus publish-to-receive delay (stamped messages), in seconds',
    type: 'histogram',
    samples: (stack, m, out) => void (m.bus !== undefined && histogram(lag, { stack }, m.bus.lag, out)),
  });
  return defs;
}

/** One registry+prefix's metrics and the stacks they read. */
class PrometheusExport {
  readonly sources = new Map<CacheStack, string>();
  private readonly names: string[] = [];

  constructor(
    private readonly registry: LayerCachePrometheusRegistry,
    prefix: string,
    stackFields: readonly string[],
  ) {
    for (const def of definitions(prefix, stackFields)) {
      const metric = {
        name: def.name,
        help: def.help,
        type: def.type,
        aggregator: 'sum',
        get: () => {
          const values: Sample[] = [];
          for (const [stack, source] of this.sources) def.samples(source, stack.getMetrics(), values);
          return Promise.resolve({ name: metric.name, help: def.help, type: def.type, aggregator: 'sum', values });
        },
        reset: () => undefined,
      };
      registry.registerMetric(metric as never);
      this.names.push(def.name);
    }
  }

  unregister(): void {
    for (const name of this.names) this.registry.removeSingleMetric(name);
  }
}

const registered = new WeakMap<object, Map<string, PrometheusExport>>();

/** Adds `stack` (labelled `name`) to the export of `registry` under `prefix`; returns its removal. */
export function exportToPrometheus(stack: CacheStack, name: string, registry: LayerCachePrometheusRegistry, prefix = DEFAULT_PROMETHEUS_PREFIX): () => void {
  let byPrefix = registered.get(registry);
  if (byPrefix === undefined) registered.set(registry, (byPrefix = new Map()));
  let exported = byPrefix.get(prefix);
  if (exported === undefined) {
    exported = new PrometheusExport(registry, prefix, Object.keys(stack.getMetrics().stack));
    byPrefix.set(prefix, exported);
  }
  exported.sources.set(stack, name);
  const owner = exported;
  return () => {
    owner.sources.delete(stack);
    if (owner.sources.size > 0 || byPrefix.get(prefix) !== owner) return;
    owner.unregister();
    byPrefix.delete(prefix);
  };
}

/** prom-client's default registry, imported now (the optional peer); a clear error when it is not installed. */
async function defaultRegistry(): Promise<LayerCachePrometheusRegistry> {
  try {
    const promClient = (await import('prom-client')) as { register: LayerCachePrometheusRegistry; default?: { register: LayerCachePrometheusRegistry } };
    return promClient.register ?? (promClient.default as { register: LayerCachePrometheusRegistry }).register;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidOptionError('metrics.prometheus', `needs the optional peer dependency prom-client (npm install prom-client): ${reason}`);
  }
}

/** Token of the registration's `metrics` option and stack name, for {@link LayerCachePrometheus}. */
export const LAYER_CACHE_PROMETHEUS_SETTINGS = Symbol('LAYER_CACHE_PROMETHEUS_SETTINGS');

/** What {@link LayerCachePrometheus} is given. */
export interface PrometheusSettings {
  /** The stack the module built; `undefined` in test mode or under an overridden stack provider (nothing is exported). */
  readonly stack: CacheStack | undefined;
  readonly name: string;
  readonly option: LayerCacheMetricsOptions['prometheus'];
}

/** Registers the stack in the registry when the app starts, and removes it when the app shuts down. */
@Injectable()
export class LayerCachePrometheus implements OnModuleInit, OnApplicationShutdown {
  private remove: (() => void) | undefined;

  constructor(@Inject(LAYER_CACHE_PROMETHEUS_SETTINGS) private readonly settings: PrometheusSettings) {}

  async onModuleInit(): Promise<void> {
    const option = this.settings.option;
    const stack = this.settings.stack;
    if (option === undefined || option === false || stack === undefined) return;
    const given = option === true ? {} : option;
    const registry = given.registry ?? (await defaultRegistry());
    this.remove = exportToPrometheus(stack, this.settings.name, registry, given.prefix);
  }

  onApplicationShutdown(): void {
    this.remove?.();
    this.remove = undefined;
  }
}
