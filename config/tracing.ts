/**
 * OpenTelemetry tracing of one Baton component (the gateway or the worker): a tracer provider of its
 * own, named by its service, whose spans go over OTLP/HTTP in batches. Every OpenTelemetry module is
 * loaded here on demand, so a process without `OTEL_EXPORTER_OTLP_ENDPOINT` never loads one.
 *
 * Tracers are handed to the code that makes spans rather than taken from the global provider, so
 * `npm start` runs the gateway and the worker in one process under their own service names; the
 * first component started registers what has to be global (the context manager, which carries the
 * active span across awaits, and the W3C trace-context propagator the Temporal interceptors use).
 */
import type { Tracer } from '@opentelemetry/api';
import type { IResource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { TracingConfig } from './config.js';

export type TracedService = 'baton-gateway' | 'baton-worker';

export interface Tracing {
  readonly service: TracedService;
  readonly tracer: Tracer;
  /** Where spans end: the worker hands it the spans its workflows make in their sandbox. */
  readonly spanProcessor: SpanProcessor;
  /** The service's resource, which the workflows' spans are exported with. */
  readonly resource: IResource;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Spans to the configured OTLP/HTTP endpoint, or (tests) to a span processor of the caller's. */
export type TracingTarget = TracingConfig | { spanProcessor: SpanProcessor };

/** The OTLP/HTTP traces URL of a base endpoint, as the OpenTelemetry specification derives it. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

export async function startTracing(service: TracedService, target: TracingTarget): Promise<Tracing> {
  const [{ Resource, envDetectorSync }, { BatchSpanProcessor }, { NodeTracerProvider }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-trace-node'),
  ]);
  let spanProcessor: SpanProcessor;
  if ('spanProcessor' in target) {
    spanProcessor = target.spanProcessor;
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    // Batch size and delay follow OTEL_BSP_*; headers, timeout and compression OTEL_EXPORTER_OTLP_*.
    spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(target.endpoint) }));
  }
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, take precedence over the name here.
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': service }))
    .merge(envDetectorSync.detect());
  const provider = new NodeTracerProvider({ resource, mergeResourceWithDefaults: false, spanProcessors: [spanProcessor] });
  // Once per process: a second registration changes nothing (the API keeps the first).
  if (!registered) {
    provider.register();
    registered = true;
  }
  return {
    service,
    tracer: provider.getTracer(service),
    spanProcessor,
    resource,
    shutdown: () => provider.shutdown(),
  };
}

let registered = false;

/**
 * For a Temporal client: each workflow start, signal, update or query becomes a span, a child of
 * the active one, whose context travels to the workflow in the call's headers.
 */
export async function tracingClientInterceptors(tracing: Tracing): Promise<{ workflow: WorkflowClientInterceptor[] }> {
  const { OpenTelemetryWorkflowClientInterceptor } = await import('@temporalio/interceptors-opentelemetry/lib/client/index.js');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}
