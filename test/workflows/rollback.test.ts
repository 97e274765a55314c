/**
 * Rollbacks. The operator asks with the real CLI (`baton promote`, run in-process) against the dev
 * server; the release of the older version runs prod's gate and strategy (the example Pipeline's
 * notification, behind a manual approval), is recorded as a rollback in its state and notification,
 * and ends once Flux reports the version in prod. Refused: a version marked bad, a version whose
 * release still runs, an environment the Pipeline cannot roll back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../model/failures.js';
import { approveUpdate, rejectUpdate } from '../../model/messages.js';
import { ReleasePhase, releaseWorkflowId } from '../../model/release.js';
import type { release } from '../../workflows/release.js';
import { startDevServer } from '../infra/temporal.js';
import { baton } from '../support/controls-cli.js';
import { releaseFailure } from '../support/failure.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from './harness.js';

describe('rollbacks (dev server, the baton CLI)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  const cli = (...args: string[]) => baton(env, harness.taskQueue, ...args);
  const releaseOf = (version: string) => env.client.workflow.getHandle<typeof release>(releaseWorkflowId(PODINFO, version));
  const rollBack = (version: string, environment: string, reason: string) =>
    cli('promote', 'flux-system/podinfo-02', '--env', environment, '--version', version, '--reason', reason);

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env);
  });

  after(async () => {
    await harness?.stop();
    await env?.teardown();
  });

  test('baton promote rolls prod back to an older version through its gate, recorded as a rollback, done when Flux reports it', async () => {
    const version = '6.6.0';
    const asked = await rollBack(version, 'prod', '6.7.1 breaks checkout');
    assert.equal(asked.code, 0, asked.stderr);
    const workflowId = releaseWorkflowId(PODINFO, version);
    assert.match(asked.stdout, new RegExp(`^rolling back flux-system/podinfo-02 to 6\\.6\\.0 in prod: ${workflowId}\\n`));
    assert.match(asked.stdout, /\/namespaces\/default\/workflows\/release%2Fflux-system%2Fpodinfo-02%2F6\.6\.0\n$/);

    const handle = releaseOf(version);
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(waiting.pendingGate?.environment, 'prod', 'prod’s manual gate applies to a rollback');
    assert.equal(waiting.rollback?.environment, 'prod');
    assert.equal(waiting.rollback.by, 'oncall@example.com');
    assert.equal(waiting.rollback.reason, '6.7.1 breaks checkout');
    assert.deepEqual(waiting.reached, [], 'no Flux event started it');
    assert.equal(waiting.promotions.length, 0, 'nothing promoted before the approval');

    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', environment: 'prod', comment: 'roll back' }] });
    const promoted = await harness.promotedInto(handle, 'prod');
    assert.equal(promoted.promotions.length, 1);
    const [promotion] = promoted.promotions;
    assert.equal(promotion?.sourceEnvironment, 'test');
    assert.equal(promotion.approval?.approver, 'alice');
    assert.equal(promoted.phase, ReleasePhase.awaitingDeployment);
    const notified = harness.notifier.received.filter((n) => n.version === version);
    assert.equal(notified.length, 1, 'one promotion notification');
    assert.equal(notified[0]?.targetEnvironment, 'prod');
    assert.equal(notified[0].rollback?.by, 'oncall@example.com');
    assert.equal(notified[0].rollback.reason, '6.7.1 breaks checkout');

    // Flux deploys it elsewhere first (a re-deploy in test): still waiting for prod.
    await harness.report(handle, 'test', TEST_TARGETS);
    await harness.report(handle, 'prod', 'podinfo-02-prod');
    const done = await harness.waitForPhase(handle, ReleasePhase.completed);
    assert.match(done.currentStep, /^Rolled back to 6\.6\.0 in prod: Flux reported it there/);
    assert.equal(done.promotions.length, 1, 'nothing promoted after prod');
    const firstRun = (await handle.describe()).runId;

    // The version's release completed; asked again, it runs again as a new run of the same release.
    const again = await rollBack(version, 'prod', 'once more');
    assert.equal(again.code, 0, again.stderr);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.notEqual((await handle.describe()).runId, firstRun);
    await handle.executeUpdate(rejectUpdate, { args: [{ approver: 'alice', environment: 'prod' }] });
    await harness.waitForPhase(handle, ReleasePhase.rejected);
  });

  test('a version marked bad, or whose release still runs, is refused before anything starts', async () => {
    assert.equal((await cli('mark-bad', 'flux-system/podinfo-02', '6.5.0', '--reason', 'corrupts data')).code, 0);
    const marked = await rollBack('6.5.0', 'prod', 'older is better');
    assert.equal(marked.code, 1);
    assert.match(
      marked.stderr,
      /^refused: flux-system\/podinfo-02 6\.5\.0 is marked bad \(bad-\d+\) by oncall@example\.com at .*: corrupts data/,
    );
    await assert.rejects(releaseOf('6.5.0').describe(), WorkflowNotFoundError, 'no release started');

    const { handle, version } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const running = await rollBack(version, 'prod', 'twice');
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`the release of flux-system/podinfo-02 ${version} is still running`));
    const state = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(state.rollback, undefined, 'the running release is untouched');
    await handle.executeUpdate(rejectUpdate, { args: [{ approver: 'alice', environment: 'prod' }] });
  });

  test('an environment the Pipeline cannot roll back ends the release at once, saying why', async () => {
    const first = await rollBack('6.4.0', 'dev', 'dev is broken');
    assert.equal(first.code, 0, first.stderr);
    const failure = await releaseFailure(releaseOf('6.4.0'));
    assert.equal(failure.type, FailureType.invalidPipeline);
    assert.match(failure.message, /^cannot roll back to 6\.4\.0: dev is the Pipeline's first environment: nothing promotes into it/);

    assert.equal((await rollBack('6.4.1', 'staging', 'typo')).code, 0);
    const unknown = await releaseFailure(releaseOf('6.4.1'));
    assert.match(unknown.message, /the Pipeline has no environment staging \(it has dev, test, prod\)/);
    assert.equal(harness.notifier.received.filter((n) => n.version.startsWith('6.4.')).length, 0, 'nothing promoted');
  });

  test('bad promote commands are usage errors or refused', async () => {
    assert.equal((await cli('promote', 'flux-system/podinfo-02', '--env', 'prod', '--version', '6.6.0')).code, 2, 'no reason');
    assert.equal((await cli('promote', 'flux-system/podinfo-02', '--version', '6.6.0', '--reason', 'x')).code, 2, 'no env');
    assert.equal((await cli('promote', 'podinfo-02', '--env', 'prod', '--version', '6.6.0', '--reason', 'x')).code, 2, 'not ns/name');
    const metadata = await rollBack('6.6.0+build.1', 'prod', 'x');
    assert.equal(metadata.code, 1);
    assert.match(metadata.stderr, /give the version without its build metadata: 6\.6\.0/);
    const spaced = await rollBack('6.6.0', 'pro d', 'x');
    assert.equal(spaced.code, 1);
    assert.match(spaced.stderr, /environment is a Pipeline environment's name/);
  });
});
