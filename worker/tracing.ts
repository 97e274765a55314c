/**
 * The worker's part of a trace: Temporal's OpenTelemetry interceptors. In the workflow sandbox they
 * continue the trace context the starter put in the workflow's headers, make a span per workflow
 * run, signal, update and scheduled activity, and pass those spans out through the `exporter` sink;
 * around each activity they make the activity's span, a child of the workflow's span scheduling it.
 *
 * Only a worker with tracing loads any of it: the workflow interceptors are bundled into the
 * workflows (`npm run build` prebuilds a second, traced bundle), the rest is imported here on demand.
 */
import { createRequire } from 'node:module';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { type Tracing, tracingClientInterceptors } from '../config/tracing.js';

/** The package's workflow interceptor module (inbound, outbound, internals), resolved for the bundler. */
export const TRACING_WORKFLOW_MODULES: readonly string[] = [
  createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

export interface WorkerTracing {
  activityInterceptors: ActivityInterceptorsFactory[];
  /** The sink the workflow interceptors export their spans through, out of the sandbox. */
  sinks: InjectedSinks<OpenTelemetrySinks>;
  /** For the activities' own Temporal client: what they signal or start continues their trace. */
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
}

export async function workerTracing(tracing: Tracing): Promise<WorkerTracing> {
  const worker = await import('@temporalio/interceptors-opentelemetry/lib/worker/index.js');
  const { tracer } = tracing;
  return {
    activityInterceptors: [
      (ctx) => ({
        inbound: new worker.OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
        // Puts the trace and span IDs into the activity's log lines.
        outbound: new worker.OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: worker.makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
    clientInterceptors: await tracingClientInterceptors(tracing),
  };
}
