/**
 * On the real time-skipping test server: an environment is reached once every target reported the
 * version (any target, with `promotion.baton.dev/require-targets: any`), and a Flux failure for the
 * version stops the release wherever it is. Results are polled, not awaited, where other releases
 * still wait: awaiting one lets the server skip time.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deploymentFailedSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase } from '../../model/release.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { eventually } from '../support/eventually.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from './harness.js';
import { releaseFailure } from '../support/failure.js';

/** Weave's behaviour: the first target to report reaches the environment. */
const ANY_TARGET: PipelineRef = { namespace: 'team-a', name: 'any-target' };
const MANIFESTS = `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: any-target
  namespace: team-a
  annotations: {promotion.baton.dev/require-targets: any, promotion.baton.dev/newer-version: queue}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: podinfo}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: test
      targets: [{namespace: api-qa}, {namespace: api-perf}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    strategy: {notification: {}}
`;

describe('every target reports; failures stop the release (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    // Queue mode: the releases of these tests must not supersede one another.
    harness = await ReleaseHarness.start(env, {
      exampleAnnotations: { 'promotion.baton.dev/newer-version': 'queue' },
      manifests: MANIFESTS,
      taskQueue: `targets-${process.pid}`,
    });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  const failureOf = releaseFailure;

  test('a two-target environment waits for the second target, and says which one it waits for', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.promotedInto(handle, 'test');
    await harness.report(handle, 'test', 'podinfo-02-qa');

    const half = await eventually('the first target to be listed', async () => {
      const state = await handle.query(stateQuery);
      return state.targets?.some((t) => t.namespace === 'podinfo-02-perf') === true && state;
    });
    assert.equal(half.phase, ReleasePhase.awaitingDeployment);
    assert.deepEqual(
      half.targets?.filter((t) => t.environment === 'test').map((t) => [t.namespace, t.cluster, t.status, t.reportedAt !== undefined]),
      [
        ['podinfo-02-qa', 'flux-system/dev', 'reported', true],
        ['podinfo-02-perf', 'flux-system/dev', 'waiting', false],
      ],
    );
    assert.deepEqual(
      half.reached.map((r) => r.environment),
      ['dev'],
    );
    assert.match(
      half.currentStep,
      new RegExp(
        `waiting for Flux to report it in test\\n\\nTargets of test: waiting for podinfo-02-perf \\(flux-system/dev\\) to report ${version}; ` +
          `reported: podinfo-02-qa \\(flux-system/dev\\) at `,
      ),
    );
    // The same target again changes nothing.
    await harness.report(handle, 'test', 'podinfo-02-qa');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingDeployment);

    await harness.report(handle, 'test', 'podinfo-02-perf');
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.deepEqual(
      waiting.reached.map((r) => r.environment),
      ['dev', 'test'],
    );
    assert.ok(waiting.targets?.every((t) => t.status === 'reported'));
    assert.doesNotMatch(waiting.currentStep, /Targets of/);
    await handle.terminate('test done');
  });

  test('with require-targets: any, the first target to report reaches the environment (Weave’s behaviour)', async () => {
    const handle = await harness.signalRelease('dev', ANY_TARGET, '1.0.0', 'api-dev');
    await harness.promotedInto(handle, 'test');
    await harness.report(handle, 'test', 'api-perf');
    const state = await harness.promotedInto(handle, 'prod');
    assert.deepEqual(
      state.reached.map((r) => r.environment),
      ['dev', 'test'],
    );
    assert.deepEqual(
      state.targets?.filter((t) => t.environment === 'test').map((t) => [t.namespace, t.status]),
      [
        ['api-perf', 'reported'],
        ['api-qa', 'waiting'],
      ],
    );
    await handle.terminate('test done');
  });

  test('a failure while Flux deploys a promoted version ends the release Failed with the event’s message', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.promotedInto(handle, 'test');
    await handle.signal(deploymentFailedSignal, deployedFromFixture(FIXTURES.upgradeFailed, 'test', 'podinfo-02-qa'));

    const failure = await failureOf(handle);
    assert.equal(failure.type, 'DeploymentFailed');
    assert.equal(failure.nonRetryable, true);
    assert.match(
      failure.message,
      new RegExp(
        `^Flux reported UpgradeFailed for ${version} in test \\(HelmRelease podinfo-02-qa/podinfo\\): Helm upgrade failed for release`,
      ),
    );
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.deepEqual([state.failure?.environment, state.failure?.event.reason], ['test', 'UpgradeFailed']);
    assert.equal(state.promotions.length, 1, 'only test was promoted');
    assert.equal(harness.notifier.received.length, 1);
  });

  test('a failure after the environment was reached stops the release at the next gate: nothing more is promoted', async () => {
    const { handle, version } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const healthCheck = deployedFromFixture(FIXTURES.upgradeFailed, 'test', 'podinfo-02-perf');
    healthCheck.event.reason = 'HealthCheckFailed';
    healthCheck.event.message =
      'health check failed after 5m0s: timeout waiting for: [Deployment/podinfo-02-perf/podinfo status: InProgress]';
    await handle.signal(deploymentFailedSignal, healthCheck);

    const failure = await failureOf(handle);
    assert.match(failure.message, new RegExp(`^Flux reported HealthCheckFailed for ${version} in test .*: health check failed after 5m0s`));
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.equal(state.pendingGate, undefined, 'the gate closed');
    assert.equal(state.failure?.event.reason, 'HealthCheckFailed');
    assert.equal(harness.notifier.received.length, 0, 'nothing promoted into prod');
    // Every target reported, a gate opened, a failure ended it: test/replay keeps this history.
    if (process.env.BATON_RECORD_FAILURE_HISTORY)
      await writeFile(process.env.BATON_RECORD_FAILURE_HISTORY, historyToJSON(await handle.fetchHistory()));
  });
});
