/**
 * The worker process as the chart runs it, with BATON_WORKER_METRICS_PORT: a Flux event through the
 * gateway makes the release workflow promote dev → test by notification, and the worker's /metrics,
 * scraped over HTTP, counts that promotion and carries the Temporal SDK's own worker metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { loadConfig } from '../../config/config.js';
import { type RunningGateway, startGateway } from '../../gateway/server.js';
import { createPipelineSource } from '../../pipelines/create-source.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { sendFluxEvent } from '../support/send-flux-event.js';
import { REPO, startWorker, type StartedWorker } from '../support/worker-start.js';
import { metricNames, monitoringQueries } from '../deploy/chart-files.js';

void describe('worker metrics endpoint', () => {
  let temporal: TestWorkflowEnvironment;
  let worker: StartedWorker;
  let pipelines: PipelineSource;
  let gateway: RunningGateway;
  let metricsUrl: string;

  before(async () => {
    temporal = await startDevServer();
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    worker = await startWorker({
      mode: { kind: 'tsx' },
      client: temporal.client,
      temporalAddress: temporal.address,
      taskQueue: 'baton-release',
      env: { BATON_WORKER_METRICS_PORT: String(port) },
    });
    const log = pino({ level: 'silent' });
    const config = loadConfig({
      TEMPORAL_ADDRESS: temporal.address,
      BATON_HOST: '127.0.0.1',
      BATON_PORT: '0',
      BATON_PIPELINES_DIR: `${REPO}examples/pipelines`,
      LOG_LEVEL: 'silent',
    });
    pipelines = await createPipelineSource(config.pipelines, log);
    await pipelines.start();
    gateway = await startGateway(config, { logger: log, pipelines, client: temporal.client });
  });

  after(async () => {
    await gateway?.close();
    await pipelines?.stop();
    await worker?.stop();
    await temporal?.teardown();
  });

  test('a promotion run by the worker is counted, next to the Temporal SDK metrics, on one endpoint', async () => {
    const sent = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded);
    assert.equal(sent.status, 202);
    const series =
      'baton_promotions_total{pipeline="flux-system/podinfo-02",environment="test",strategy="notification",outcome="succeeded"}';
    const text = await eventually('the promotion into test to be counted', async () => {
      const body = await (await fetch(metricsUrl)).text();
      return body.includes(`${series} 1`) ? body : undefined;
    });
    // The SDK's exporter, appended: its pollers and the activity it ran.
    assert.match(text, /^temporal_worker_start\{.*\} \d+/m);
    assert.match(text, /^temporal_activity_execution_latency_(bucket|count)\{.*activity_type="promoteByNotification"/m);
    assert.match(text, /^# TYPE baton_git_step_duration_seconds histogram$/m);
    assert.doesNotMatch(worker.stderr(), /did not answer/);
    // What deploy/monitoring queries of the SDK's metrics exists, labels included.
    for (const name of metricNames(monitoringQueries(), 'temporal_')) {
      assert.match(text, new RegExp(`^${name}(\\{| )`, 'm'), `${name}, used by deploy/monitoring, is served`);
    }
    assert.match(text, /^temporal_num_pollers\{.*poller_type="workflow_task"/m);
  });
});
