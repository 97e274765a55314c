/**
 * One trace from a Flux event to the activities it causes: the gateway's request span, the Temporal
 * client's signal-with-start span under it, the release workflow's spans (made in the sandbox and
 * exported through the worker's sink) and the activities' spans, on a real Temporal dev server,
 * collected by an in-memory exporter. The traced run's history then replays without tracing, so
 * turning tracing on or off never breaks a running release.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { loadConfig } from '../../config/config.js';
import { startTracing, type Tracing } from '../../config/tracing.js';
import { type RunningGateway, startGateway } from '../../gateway/server.js';
import { createPipelineSource } from '../../pipelines/create-source.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { activityDependencies } from '../../worker/dependencies.js';
import { createReleaseWorker, type ReleaseWorker, WORKFLOWS_PATH } from '../../worker/worker.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES } from '../support/events.js';
import { examplePipelinesWithOpenWindows } from '../support/example-pipelines.js';
import { sendFluxEvent } from '../support/send-flux-event.js';

const TASK_QUEUE = 'baton-tracing-test';

function serviceOf(span: ReadableSpan): unknown {
  return span.resource.attributes['service.name'];
}

/** Whether `ancestor` is `span` or one of its ancestors among `spans`. */
function descendsFrom(span: ReadableSpan, ancestor: ReadableSpan, spans: readonly ReadableSpan[]): boolean {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  for (let current: ReadableSpan | undefined = span; current !== undefined; current = byId.get(current.parentSpanId ?? '')) {
    if (current.spanContext().spanId === ancestor.spanContext().spanId) return true;
  }
  return false;
}

void describe('tracing: gateway request → workflow → activities', () => {
  const exporter = new InMemorySpanExporter();
  let temporal: TestWorkflowEnvironment;
  let examples: { path: string; remove: () => Promise<void> };
  let pipelines: PipelineSource;
  let worker: ReleaseWorker;
  let running: Promise<void>;
  let gateway: RunningGateway;
  const tracings: Tracing[] = [];

  before(async () => {
    temporal = await startDevServer();
    examples = await examplePipelinesWithOpenWindows();
    const log = pino({ level: 'silent' });
    const config = loadConfig({
      TEMPORAL_ADDRESS: temporal.address,
      BATON_TASK_QUEUE: TASK_QUEUE,
      BATON_HOST: '127.0.0.1',
      BATON_PORT: '0',
      BATON_PIPELINES_DIR: examples.path,
      LOG_LEVEL: 'silent',
    });
    const workerTracing = await startTracing('baton-worker', { spanProcessor: new SimpleSpanProcessor(exporter) });
    const gatewayTracing = await startTracing('baton-gateway', { spanProcessor: new SimpleSpanProcessor(exporter) });
    tracings.push(workerTracing, gatewayTracing);
    pipelines = await createPipelineSource(config.pipelines, log);
    await pipelines.start();
    worker = await createReleaseWorker(config.temporal, await activityDependencies(config, pipelines, log), log, {
      tracing: workerTracing,
    });
    running = worker.worker.run();
    // No client given: the gateway's own, as in production, with the tracing interceptor.
    gateway = await startGateway(config, { logger: log, pipelines, tracing: gatewayTracing });
  });

  after(async () => {
    await gateway?.close();
    worker?.worker.shutdown();
    await running;
    await worker?.connection.close();
    await pipelines?.stop();
    await examples?.remove();
    for (const tracing of tracings) await tracing.shutdown();
    await temporal?.teardown();
  });

  test("a Flux event's request, its signal-with-start, the release's workflow spans and its activities share one trace", async () => {
    const sent = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded);
    assert.equal(sent.status, 202);

    // The promotion into test is an activity the release schedules once the deployed signal is in. A
    // workflow's span of an activity ends once the workflow has its result, after the activity's own.
    const spans = await eventually('the promotion, and the workflow spans of every activity run', () => {
      const finished = exporter.getFinishedSpans();
      const ids = new Set(finished.map((s) => s.spanContext().spanId));
      const settled = finished.filter((s) => s.name.startsWith('RunActivity:')).every((s) => ids.has(s.parentSpanId ?? ''));
      return settled && finished.some((s) => s.name === 'StartActivity:promoteByNotification') ? finished : undefined;
    });
    const named = (name: string): ReadableSpan => {
      const span = spans.find((s) => s.name === name);
      assert.ok(span !== undefined, `a span ${name} among ${spans.map((s) => s.name).join(', ')}`);
      return span;
    };

    const request = named('POST /promotion/:namespace/:name/:env');
    assert.equal(request.kind, SpanKind.SERVER);
    assert.equal(serviceOf(request), 'baton-gateway');
    assert.equal(request.attributes['http.response.status_code'], 202);
    assert.equal(request.parentSpanId, undefined, 'the request span is the root of the trace');
    const traceId = request.spanContext().traceId;
    assert.deepEqual(
      spans.filter((s) => s.spanContext().traceId !== traceId).map((s) => s.name),
      [],
      "spans outside the request's trace",
    );

    const start = named('SignalWithStartWorkflow:release');
    assert.equal(serviceOf(start), 'baton-gateway');
    assert.equal(start.parentSpanId, request.spanContext().spanId, 'the signal-with-start is a child of the request');
    assert.equal(start.attributes.temporalWorkflowId, sent.body.workflowId);

    // Made in the workflow sandbox, exported through the worker's sink.
    const signal = named('HandleSignal:deployed');
    assert.equal(signal.parentSpanId, start.spanContext().spanId, 'the workflow handled the signal the request sent');
    assert.ok(descendsFrom(signal, request, spans));
    const scheduled = spans.filter((s) => s.name.startsWith('StartActivity:'));
    assert.ok(scheduled.length >= 3, 'the workflow traced the activities it scheduled');
    for (const span of [signal, ...scheduled]) {
      assert.equal(serviceOf(span), 'baton-worker', `${span.name} is the worker's`);
      assert.equal(span.attributes.workflowId, sent.body.workflowId, `${span.name} is the release's`);
    }
    // Their parent, the workflow run's span, ends with the release; the release waits for test now.
    assert.equal(new Set(scheduled.map((s) => s.parentSpanId)).size, 1, 'one workflow run scheduled every activity');

    const activities = spans.filter((s) => s.name.startsWith('RunActivity:'));
    assert.ok(activities.some((s) => s.name === 'RunActivity:promoteByNotification'));
    for (const activity of activities) {
      assert.equal(serviceOf(activity), 'baton-worker');
      assert.equal(activity.attributes.temporalWorkflowId, sent.body.workflowId);
      const parent = scheduled.find((s) => s.spanContext().spanId === activity.parentSpanId);
      assert.ok(parent !== undefined, `${activity.name} is a child of the workflow span that scheduled it`);
      assert.equal(parent.name.replace('StartActivity:', ''), activity.name.replace('RunActivity:', ''));
    }
    // What an activity asks Temporal through its own client stays in the trace too.
    const controls = named('RunActivity:promotionControls');
    assert.ok(spans.some((s) => s.name === 'QueryWorkflow:controls' && s.parentSpanId === controls.spanContext().spanId));

    // The run recorded with tracing replays without it.
    const history = await temporal.client.workflow.getHandle(sent.body.workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, replayName: 'traced release' }, history);
  });
});
