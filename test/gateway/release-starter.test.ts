/**
 * The Temporal release starter against a real dev server: signal-with-start, what the Temporal UI
 * shows, repeated events, a release that already completed, and an unreachable server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createTemporalReleaseStarter, type Delivery, releaseDetails, releaseSummary } from '../../gateway/release-starter.js';
import { GATEWAY_GRPC_RETRY, TemporalUnavailableError } from '../../gateway/temporal-calls.js';
import type { Pipeline } from '../../model/pipeline.js';
import { defaultConfig } from '../../config/config.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../../model/search-attributes.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import { createActivities } from '../../activities/index.js';
import { pullRequestSettings } from '../../worker/dependencies.js';
import { WORKFLOWS_PATH } from '../../worker/worker.js';
import { delivery as signedDelivery, directorySource, EXAMPLE_PIPELINES_DIR, PODINFO, testApp } from './helpers.js';
import { FIXTURES, variant } from '../support/events.js';
import { freePort } from '../support/free-port.js';

let env: TestWorkflowEnvironment;
let pipelines: DirectoryPipelineSource;
let podinfo: Pipeline;

/** The example's target namespace of each environment, where Flux reports from. */
const TARGET: Record<string, string> = { dev: 'podinfo-02-dev', test: 'podinfo-02-qa', prod: 'podinfo-02-prod' };

function deliveryOf(version: string, environment = 'dev'): Delivery {
  return {
    pipeline: podinfo,
    version,
    environment,
    receivedAt: new Date().toISOString(),
    event: {
      revision: version,
      reason: 'UpgradeSucceeded',
      message: `Helm upgrade succeeded for release podinfo-02-dev/podinfo.v3 with chart podinfo@${version}`,
      timestamp: '2026-11-22T01:47:12Z',
      reportingController: 'helm-controller',
      involvedObject: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: TARGET[environment]!, name: 'podinfo' },
    },
  };
}

before(async () => {
  env = await startDevServer();
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  const found = pipelines.getPipeline({ namespace: 'flux-system', name: 'podinfo-02' });
  assert.ok(found);
  podinfo = found;
});

after(async () => {
  await pipelines?.stop();
  await env?.teardown();
});

describe('what the Temporal UI shows', () => {
  it('a one-line summary with the environments, and details naming pipeline, app, environments and strategies', () => {
    assert.equal(releaseSummary(podinfo, '6.7.1'), 'Promote podinfo 6.7.1: dev → test → prod');
    assert.equal(
      releaseDetails(podinfo, '6.7.1'),
      [
        '**Pipeline:** flux-system/podinfo-02',
        '**App:** HelmRelease podinfo (helm.toolkit.fluxcd.io/v2beta1)',
        '**Version:** 6.7.1',
        '**Environments:** dev (podinfo-02-dev) → test (podinfo-02-qa, podinfo-02-perf) → prod (podinfo-02-prod)',
        '**Strategy:** test: notification, prod: notification (manual approval)',
      ].join('\n'),
    );
  });
});

describe('deliver', () => {
  const options = { taskQueue: 'starter-test', policy: defaultConfig().releasePolicy, namespace: 'default', signalTimeoutMs: 10_000 };

  it('signal-with-starts release/<ns>/<name>/<version> with its input, search attributes and metadata', async () => {
    const starter = createTemporalReleaseStarter(env.client, options);
    const receipt = await starter.deliver(deliveryOf('1.0.0'));
    assert.equal(receipt.workflowId, 'release/flux-system/podinfo-02/1.0.0');
    assert.equal(receipt.alreadyCompleted, undefined);
    const handle = env.client.workflow.getHandle(receipt.workflowId);
    const description = await handle.describe();
    assert.equal(description.runId, receipt.runId);
    assert.equal(description.type, 'release');
    assert.equal(description.taskQueue, 'starter-test');
    assert.equal(description.typedSearchAttributes.get(PromotionPipeline), 'flux-system/podinfo-02');
    assert.equal(description.typedSearchAttributes.get(PromotionVersion), '1.0.0');
    assert.equal(description.typedSearchAttributes.get(PromotionState), 'Started');
    assert.equal(await description.staticSummary(), 'Promote podinfo 1.0.0: dev → test → prod');
    assert.equal(await description.staticDetails(), releaseDetails(podinfo, '1.0.0'));

    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const input = JSON.parse(Buffer.from(started?.input?.payloads?.[0]?.data ?? []).toString('utf8')) as unknown;
    assert.deepEqual(input, {
      pipeline: { namespace: 'flux-system', name: 'podinfo-02' },
      version: '1.0.0',
      policy: defaultConfig().releasePolicy,
    });
  });

  it('a repeated delivery signals the same run', async () => {
    const starter = createTemporalReleaseStarter(env.client, options);
    const first = await starter.deliver(deliveryOf('1.1.0'));
    const second = await starter.deliver(deliveryOf('1.1.0', 'test'));
    assert.deepEqual(second, first);
  });

  it('a release that ran to completion is not started again: the event is an acknowledged duplicate', async () => {
    const taskQueue = 'starter-test-completing';
    const starter = createTemporalReleaseStarter(env.client, { ...options, taskQueue });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ pipelines, notifiers: [], temporal: env.client, pullRequests: pullRequestSettings(defaultConfig()) }),
    });
    // The real release completes at once when the version is reported in the last environment.
    const first = await worker.runUntil(async () => {
      const receipt = await starter.deliver(deliveryOf('2.0.0', 'prod'));
      await env.client.workflow.getHandle(receipt.workflowId, receipt.runId).result();
      return receipt;
    });
    const description = await env.client.workflow.getHandle(first.workflowId).describe();
    assert.equal(description.status.name, 'COMPLETED');

    const late = await starter.deliver(deliveryOf('2.0.0', 'test'));
    assert.deepEqual(late, { workflowId: first.workflowId, runId: first.runId, alreadyCompleted: true });

    // Through the gateway: 202 with the same workflow, nothing restarted.
    const app = await testApp({ pipelines, releases: starter });
    try {
      const body = variant(FIXTURES.upgradeSucceeded, ['6.7.1', '2.0.0']);
      const response = await app.inject(signedDelivery(`${PODINFO}/dev`, body));
      assert.equal(response.statusCode, 202, response.body);
      assert.deepEqual(response.json(), {
        workflowId: first.workflowId,
        runId: first.runId,
        alreadyCompleted: true,
        url: `http://localhost:8233/namespaces/default/workflows/${encodeURIComponent(first.workflowId)}/${first.runId}/history`,
      });
      assert.equal((await env.client.workflow.getHandle(first.workflowId).describe()).runId, first.runId);
    } finally {
      await app.close();
    }
  });

  it('a release that was terminated is started again by a new event', async () => {
    const starter = createTemporalReleaseStarter(env.client, options);
    const first = await starter.deliver(deliveryOf('3.0.0'));
    await env.client.workflow.getHandle(first.workflowId).terminate('test');
    const again = await starter.deliver(deliveryOf('3.0.0'));
    assert.equal(again.workflowId, first.workflowId);
    assert.notEqual(again.runId, first.runId);
    assert.equal(again.alreadyCompleted, undefined);
  });

  it('refuses a client of another namespace', () => {
    assert.throws(() => createTemporalReleaseStarter(env.client, { ...options, namespace: 'production' }), /namespace/);
  });
});

describe('Temporal unreachable', () => {
  for (const [name, interceptors] of [
    ['the SDK’s default gRPC retries', undefined],
    ['the gateway’s short gRPC retries', [makeGrpcRetryInterceptor(GATEWAY_GRPC_RETRY)]],
  ] as const) {
    it(`throws TemporalUnavailableError within the signal timeout (${name}), and drains before the connection closes`, async () => {
      const connection = Connection.lazy({
        address: `127.0.0.1:${await freePort()}`,
        ...(interceptors ? { interceptors: [...interceptors] } : {}),
      });
      const starter = createTemporalReleaseStarter(new Client({ connection, namespace: 'default' }), {
        taskQueue: 'starter-test',
        policy: defaultConfig().releasePolicy,
        namespace: 'default',
        signalTimeoutMs: 1_000,
      });
      try {
        await assert.rejects(starter.deliver(deliveryOf('9.9.9')), TemporalUnavailableError);
        await assert.rejects(starter.checkReachable(500), TemporalUnavailableError);
      } finally {
        await starter.drain(10_000);
        await connection.close();
      }
    });
  }
});
