/**
 * The release workflow on the real time-skipping test server, with the real activities over the
 * example Pipelines; only the notifier records instead of calling out, because what it receives is
 * the point here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { createActivities } from '../../activities/index.js';
import { approveSignal, deployedSignal, rejectSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { DEFAULT_RELEASE_POLICY, type ReleaseInput, ReleasePhase, releaseWorkflowId } from '../../model/release.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { WORKFLOWS_PATH } from '../../worker/worker.js';
import { release } from '../../workflows/release.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { RecordingNotifier } from '../support/recording-notifier.js';

const PODINFO: PipelineRef = { namespace: 'flux-system', name: 'podinfo-02' };
const TASK_QUEUE = 'release-test';
const policy = { ...DEFAULT_RELEASE_POLICY, activityRetry: { ...DEFAULT_RELEASE_POLICY.activityRetry, initialInterval: '10ms' } };

const EXTRA_PIPELINES = `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: no-promotion, namespace: team-a}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
---
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: by-pull-request, namespace: team-a}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    strategy:
      pull-request: {type: github, url: 'https://github.com/example/gitops', baseBranch: main, secretRef: {name: creds}}
`;

describe('release workflow (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let directory: string;
  const notifier = new RecordingNotifier();
  let versionCounter = 0;

  before(async () => {
    env = await startTimeSkippingServer();
    directory = await mkdtemp(join(tmpdir(), 'baton-release-'));
    await writeFile(join(directory, 'examples.yaml'), await import('node:fs/promises').then((fs) => fs.readFile('examples/pipelines/podinfo-02.yaml', 'utf8')));
    await writeFile(join(directory, 'extra.yaml'), EXTRA_PIPELINES);
    const pipelines = new DirectoryPipelineSource(directory, pino({ level: 'silent' }));
    await pipelines.start();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ pipelines, notifiers: [notifier] }),
    });
    running = worker.run();
  });

  after(async () => {
    worker.shutdown();
    await running;
    await env.teardown();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    notifier.received.length = 0;
    notifier.failNext(0);
  });

  /** Each test promotes its own version, so each gets its own release. */
  async function startRelease(environment: string, pipeline = PODINFO, namespace?: string) {
    versionCounter += 1;
    const version = `6.7.${versionCounter}`;
    const input: ReleaseInput = { pipeline, version, policy };
    const handle = await env.client.workflow.signalWithStart(release, {
      workflowId: releaseWorkflowId(pipeline, version),
      taskQueue: TASK_QUEUE,
      args: [input],
      signal: deployedSignal,
      signalArgs: [deployedFromFixture(FIXTURES.upgradeSucceeded, environment, namespace)],
    });
    return { handle, version };
  }

  async function waitForPhase(handle: Awaited<ReturnType<typeof startRelease>>['handle'], phase: ReleasePhase) {
    for (let i = 0; i < 200; i += 1) {
      const state = await handle.query(stateQuery);
      if (state.phase === phase) return state;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail(`release never reached ${phase}: ${JSON.stringify(await handle.query(stateQuery))}`);
  }

  test('a dev deployment notifies the promotion into test, exactly once however often Flux repeats it', async () => {
    const { handle, version } = await startRelease('dev');
    const state = await waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(state.targetEnvironment, 'test');
    for (let i = 0; i < 3; i += 1) await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'dev'));
    const after = await handle.query(stateQuery);
    assert.equal(after.reached[0]?.repeats, 3);
    assert.equal(after.promotions.length, 1);
    assert.deepEqual(
      notifier.received.map((n) => n.message),
      [`Promote pipeline flux-system/podinfo-02 to test with version ${version}`],
    );
    assert.equal(notifier.received[0]?.workflowId, releaseWorkflowId(PODINFO, version));
    await handle.terminate('test done');
  });

  test('prod waits for approval; the approver is recorded and the release completes in prod', async () => {
    const { handle, version } = await startRelease('dev');
    await waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'test', 'podinfo-02-qa'));
    const waiting = await waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.deepEqual(waiting.pendingGate?.environment, 'prod');
    assert.equal(notifier.received.length, 1, 'nothing is promoted into prod before the approval');

    await handle.signal(approveSignal, { approver: 'release-manager@example.com', comment: 'ship it' });
    const promoted = await waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(promoted.targetEnvironment, 'prod');
    assert.equal(promoted.promotions[1]?.approval?.approver, 'release-manager@example.com');
    assert.equal(promoted.promotions[1]?.approval?.comment, 'ship it');
    assert.equal(notifier.received[1]?.message, `Promote pipeline flux-system/podinfo-02 to prod with version ${version}`);

    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'prod', 'podinfo-02-prod'));
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.deepEqual(result.reached.map((r) => r.environment), ['dev', 'test', 'prod']);
  });

  test('a rejection ends the release without promoting', async () => {
    const { handle } = await startRelease('test', PODINFO, 'podinfo-02-qa');
    await waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(rejectSignal, { approver: 'qa-lead', comment: 'perf regression' });
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.rejected);
    assert.equal(result.promotions[0]?.approval?.decision, 'rejected');
    assert.equal(notifier.received.length, 0);
  });

  test('an approval for another environment does not open the gate', async () => {
    const { handle } = await startRelease('test', PODINFO, 'podinfo-02-qa');
    await waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'someone', environment: 'test' });
    await env.sleep('1h');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    assert.equal(notifier.received.length, 0);
    await handle.terminate('test done');
  });

  test('a release that sees no progress for the idle timeout ends as Expired', async () => {
    const { handle } = await startRelease('dev');
    await waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await env.sleep('31 days');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.expired);
    assert.match(result.currentStep, /Expired: nothing happened for 30d/);
  });

  test('a transient notification failure is retried by the activity policy', async () => {
    notifier.failNext(2);
    const { handle } = await startRelease('dev');
    const state = await waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(notifier.received.length, 1);
    assert.match(state.promotions[0]?.outcome ?? '', /notified recording/);
    await handle.terminate('test done');
  });

  test('retries are bounded by maximumAttempts, then the release fails with the cause', async () => {
    notifier.failNext(3);
    const { handle } = await startRelease('dev');
    const failure = await handle.result().then(
      () => assert.fail('the release should fail'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(failure.cause?.message ?? '', /promoting .* into test failed: notification-controller unavailable/);
    assert.equal(notifier.received.length, 0);
  });

  test('a Pipeline without a promotion block fails the release with what to fix, without retrying', async () => {
    const { handle } = await startRelease('dev', { namespace: 'team-a', name: 'no-promotion' }, 'api-dev');
    const failure = await handle.result().then(
      () => assert.fail('the release should fail'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'NoPromotionStrategy');
    assert.equal(failure.cause.nonRetryable, true);
    assert.match(failure.cause.message, /has no promotion block for prod: set spec.promotion/);
  });

  test('the pull-request strategy is refused with a non-retryable failure until it exists', async () => {
    const { handle } = await startRelease('dev', { namespace: 'team-a', name: 'by-pull-request' }, 'api-dev');
    const failure = await handle.result().then(
      () => assert.fail('the release should fail'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.equal((failure.cause as ApplicationFailure).type, 'StrategyUnavailable');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.failed);
  });

  test('a deployment in the last environment completes the release at once', async () => {
    const { handle } = await startRelease('prod', PODINFO, 'podinfo-02-prod');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.equal(result.promotions.length, 0);
    assert.equal(notifier.received.length, 0);
  });
});
