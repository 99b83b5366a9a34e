/**
 * A real OpenTelemetry SDK for the tracing tests: a `BasicTracerProvider` exporting to an `InMemorySpanExporter`
 * through a `SimpleSpanProcessor`, and the async-hooks context manager registered globally (once per test file),
 * so active spans flow through awaits as in an app with the Node SDK. `useTracing()` resets the exporter before
 * each test; `span(name)` finds one finished span, `parentOf` follows the parent link.
 */
import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface TestTracing {
  readonly exporter: InMemorySpanExporter;
  readonly provider: BasicTracerProvider;
  /** A tracer of `provider` (not the global one). */
  readonly tracer: Tracer;
}

/** Sets the SDK up for this test file (global context manager and provider) and clears the spans before each test. */
export function useTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  beforeEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  return { exporter, provider, tracer: provider.getTracer('test') };
}

/** The finished spans named `name`. */
export function spansNamed(exporter: InMemorySpanExporter, name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name);
}

/** The one finished span named `name` (fails when there are none or several). */
export function onlySpan(exporter: InMemorySpanExporter, name: string): ReadableSpan {
  const found = spansNamed(exporter, name);
  if (found.length !== 1) throw new Error(`expected one span "${name}", got ${found.length}: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
  return found[0] as ReadableSpan;
}

/** The span id of `span`'s parent, `undefined` for a root span. */
export function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
