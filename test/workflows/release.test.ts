/**
 * The release workflow on the real time-skipping test server: journeys, repeats, retries, failures,
 * and everything that waits for days. (Updates run on the dev server: approval.test.ts; supersede
 * has supersede.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal, deployedSignal, rejectSignal, stateQuery } from '../../model/messages.js';
import { ReleasePhase, releaseWorkflowId } from '../../model/release.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { eventually } from '../support/eventually.js';
import { GUARDED, PODINFO, type ReleaseHandle, ReleaseHarness, TEST_TARGETS } from './harness.js';

/**
 * Terminates a release once nothing is in flight: the time-skipping server stops skipping time for
 * good when a workflow is terminated with an activity running, and later tests would wait in real time.
 */
async function endIdle(harness: ReleaseHarness, handle: ReleaseHandle): Promise<void> {
  await harness.quiescent(handle);
  await handle.terminate('test done');
}

describe('release workflow (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    // Queue mode: a test's releases must not supersede each other's (supersede.test.ts is about that).
    harness = await ReleaseHarness.start(env, {
      exampleAnnotations: { 'promotion.baton.dev/newer-version': 'queue', 'promotion.baton.dev/approval-timeout': '7d' },
    });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  const failureOf = (handle: { result(): Promise<unknown> }): Promise<unknown> =>
    handle.result().then(
      () => assert.fail('the release should fail'),
      (error: unknown) => error,
    );

  test('a dev deployment notifies the promotion into test, exactly once however often Flux repeats it', async () => {
    const { handle, version } = await harness.startRelease('dev');
    const state = await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(state.targetEnvironment, 'test');
    for (let i = 0; i < 3; i += 1) await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'dev'));
    const repeated = await eventually('the repeats to be recorded', async () => {
      const current = await handle.query(stateQuery);
      return current.reached[0]?.repeats === 3 && current;
    });
    assert.equal(repeated.promotions.length, 1);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.message),
      [`Promote pipeline flux-system/podinfo-02 to test with version ${version}`],
    );
    assert.equal(harness.notifier.received[0]?.workflowId, releaseWorkflowId(PODINFO, version));
    await endIdle(harness, handle);
  });

  test('prod waits for approval; the approver is recorded and the release completes in prod', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await harness.report(handle, 'test', TEST_TARGETS);
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(waiting.pendingGate?.environment, 'prod');
    assert.equal(harness.notifier.received.length, 1, 'nothing is promoted into prod before the approval');

    await handle.signal(approveSignal, { approver: 'release-manager@example.com', comment: 'ship it' });
    const promoted = await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(promoted.targetEnvironment, 'prod');
    assert.equal(promoted.promotions[1]?.approval?.approver, 'release-manager@example.com');
    assert.equal(promoted.promotions[1]?.approval?.comment, 'ship it');
    assert.equal(harness.notifier.received[1]?.message, `Promote pipeline flux-system/podinfo-02 to prod with version ${version}`);

    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'prod', 'podinfo-02-prod'));
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.deepEqual(
      result.reached.map((r) => r.environment),
      ['dev', 'test', 'prod'],
    );
  });

  test('a rejection ends the release without promoting', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(rejectSignal, { approver: 'qa-lead', comment: 'perf regression' });
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.rejected);
    assert.equal(result.promotions[0]?.approval?.decision, 'rejected');
    assert.match(result.currentStep, /Rejected by qa-lead \(perf regression\)/);
    assert.equal(harness.notifier.received.length, 0);
  });

  test('a signalled approval for another environment is recorded as ignored and does not open the gate', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'someone', environment: 'test' });
    const state = await eventually('the ignored decision', async () => {
      const current = await handle.query(stateQuery);
      return current.ignoredDecisions !== undefined && current;
    });
    assert.match(state.ignoredDecisions?.[0]?.why ?? '', /test is not waiting for approval; prod is/);
    await env.sleep('1h');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    assert.equal(harness.notifier.received.length, 0);
    await endIdle(harness, handle);
  });

  test('only the Pipeline’s approvers may decide by signal; others are recorded and ignored', async () => {
    const { handle } = await harness.startRelease('dev', GUARDED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'mallory@example.com' });
    const state = await eventually('the ignored decision', async () => {
      const current = await handle.query(stateQuery);
      return current.ignoredDecisions !== undefined && current;
    });
    assert.equal(state.phase, ReleasePhase.awaitingApproval);
    assert.match(
      state.ignoredDecisions?.[0]?.why ?? '',
      /mallory@example.com may not decide promotions into prod \(approvers: alice@example.com, bob@example.com\)/,
    );
    await handle.signal(rejectSignal, { approver: 'bob@example.com', comment: 'not today' });
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.rejected);
    assert.equal(result.promotions[0]?.approval?.approver, 'bob@example.com');
    assert.equal(harness.notifier.received.length, 0);
  });

  test('a gate nobody decides ends as ApprovalExpired after the Pipeline’s approval timeout', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(Date.parse(waiting.pendingGate!.expiresAt!) - Date.parse(waiting.pendingGate!.since), 7 * 24 * 3600 * 1000);
    await env.sleep('6 days');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    await env.sleep('2 days');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.approvalExpired);
    assert.match(result.currentStep, /Approval expired: nobody decided on promoting .* into prod/);
    assert.equal(harness.notifier.received.length, 0);
  });

  test('an approval signalled before the gate is reached applies when it opens', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await handle.signal(approveSignal, { approver: 'early-bird', environment: 'prod', version });
    await harness.report(handle, 'test', TEST_TARGETS);
    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions[1]?.approval?.approver, 'early-bird');
    await endIdle(harness, handle);
  });

  test('an early decision that does not name both environment and version is ignored with the reason', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await handle.signal(approveSignal, { approver: 'no-gate-named' });
    await handle.signal(approveSignal, { approver: 'no-version', environment: 'prod' });
    await handle.signal(approveSignal, { approver: 'no-environment', version });
    await harness.report(handle, 'test', TEST_TARGETS);
    const state = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.deepEqual(
      state.ignoredDecisions?.map((d) => [d.approver, d.why.replace(/.*; this one /, '')]),
      [
        ['no-gate-named', 'has no environment and no version'],
        ['no-version', 'has no version'],
        ['no-environment', 'has no environment'],
      ],
    );
    assert.match(state.ignoredDecisions?.[0]?.why ?? '', /a decision sent before its gate opens must name the environment and the version/);
    // No time skipped here: an early decision applies in the workflow task that opens the gate, so the
    // gate seen waiting above has already passed over them (and a sleep here once stalled the server).
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval, 'the gate still waits');
    assert.equal(harness.notifier.received.length, 1, 'only test was promoted');
    await endIdle(harness, handle);
  });

  test('a release that sees no progress for the idle timeout ends as Expired', async () => {
    // A short idle timeout: every day skipped wakes the environments' claims workflows (queue mode) for
    // a check of their holders, which costs real time.
    const { handle } = await harness.startRelease('dev', PODINFO, undefined, { idleTimeout: '2h' });
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await env.sleep('3 hours');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.expired);
    assert.match(result.currentStep, /Expired: nothing happened for 2h/);
  });

  test('a transient notification failure is retried by the activity policy', async () => {
    harness.notifier.failNext(2);
    const { handle } = await harness.startRelease('dev');
    const state = await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal(harness.notifier.received.length, 1);
    assert.match(state.promotions[0]?.outcome ?? '', /notified recording/);
    await endIdle(harness, handle);
  });

  test('retries are bounded by maximumAttempts, then the release fails with the cause', async () => {
    harness.notifier.failNext(3);
    const { handle } = await harness.startRelease('dev');
    const failure = await failureOf(handle);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(failure.cause?.message ?? '', /promoting .* into test failed: notification-controller unavailable/);
    assert.equal(harness.notifier.received.length, 0);
  });

  test('a Pipeline without a promotion block fails the release with what to fix, without retrying', async () => {
    const { handle } = await harness.startRelease('dev', { namespace: 'team-a', name: 'no-promotion' }, 'api-dev');
    const failure = await failureOf(handle);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'NoPromotionStrategy');
    assert.equal(failure.cause.nonRetryable, true);
    assert.match(failure.cause.message, /has no promotion block for prod: set spec.promotion/);
  });

  test('a pull-request promotion whose Secret does not exist fails without retrying, naming the Secret', async () => {
    const { handle } = await harness.startRelease('dev', { namespace: 'team-a', name: 'by-pull-request' }, 'api-dev');
    const failure = await failureOf(handle);
    assert.ok(failure instanceof WorkflowFailedError);
    assert.ok(failure.cause instanceof ApplicationFailure);
    assert.equal(failure.cause.type, 'InvalidPipeline');
    assert.equal(failure.cause.nonRetryable, true);
    assert.match(failure.cause.message, /Secret team-a\/creds \(secretRef of Pipeline team-a\/by-pull-request\) does not exist/);
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.failed);
  });

  test('a deployment in the last environment completes the release at once', async () => {
    const { handle } = await harness.startRelease('prod', PODINFO, 'podinfo-02-prod');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.equal(result.promotions.length, 0);
    assert.equal(harness.notifier.received.length, 0);
  });
});
