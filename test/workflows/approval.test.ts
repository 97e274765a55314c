/**
 * Decisions through Updates on the real dev server: validators refuse without touching history, and
 * exactly one concurrent decision wins. (The time-skipping server leaves time skipping locked after
 * a refused Update; supersede.test.ts has supersede.)
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../model/failures.js';
import { approveSignal, approveUpdate, type Decision, rejectUpdate, stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { PromotionDecidedBy } from '../../model/search-attributes.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { GUARDED, PODINFO, refused, ReleaseHarness, TEST_TARGETS } from './harness.js';
import { releaseFailure } from '../support/failure.js';

/** A Pipeline of its own for the downgrade test: the versions it promotes stay out of the others' way. */
const QUEUED_REF = { namespace: 'team-a', name: 'queued' };
const QUEUED = `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: queued
  namespace: team-a
  annotations: {promotion.baton.dev/newer-version: queue}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    manual: true
    strategy: {notification: {}}
`;

describe('approvals (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env, { manifests: QUEUED });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  test('an approve Update returns the decision, records the approver; a second decision is refused without touching history', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const record = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'lgtm', environment: 'prod' }] });
    assert.deepEqual([record.decision, record.environment, record.approver, record.comment], ['approved', 'prod', 'alice', 'lgtm']);
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionDecidedBy), 'alice');

    const before = await harness.quiescent(handle);
    await refused(handle.executeUpdate(rejectUpdate, { args: [{ approver: 'bob' }] }), /not waiting for approval \(AwaitingDeployment\)/);
    assert.equal((await handle.fetchHistory()).events?.length, before, 'a refused update leaves no trace in history');
    assert.equal(harness.notifier.received.length, 1);
    await handle.terminate('test done');
  });

  test('an Update for an environment, version or approver that does not match is refused', async () => {
    const { handle, version } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', environment: 'test' }] }),
      /test is not waiting for approval; prod is/,
    );
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', version: '0.0.1' }] }),
      /version 0\.0\.1 is not waiting for approval/,
    );
    await refused(handle.executeUpdate(approveUpdate, { args: [{ approver: ' ' }] }), /an approver is required/);
    // What a hand-typed `temporal workflow update execute --input` may send; the types do not stop it.
    await refused(
      handle.executeUpdate(approveUpdate, { args: ['alice' as unknown as Decision] }),
      /a decision is a JSON object like .*, not "alice"/,
    );
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'a'.repeat(300) }] }),
      /the approver is longer than 256 characters/,
    );
    const record = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', version }] });
    assert.equal(record.decision, 'approved');
    await handle.terminate('test done');
  });

  test('an Update before the gate opens is refused, saying that an early decision names environment and version', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    const before = await harness.quiescent(handle);
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice' }] }),
      /a decision sent before its gate opens must name the environment and the version.*this one has no environment and no version/,
    );
    await refused(handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', environment: 'prod' }] }), /this one has no version/);
    // Named, it is still refused: only a signal waits for the gate.
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', environment: 'prod', version }] }),
      /not waiting for approval \(AwaitingDeployment\); only a signal waits for the gate to open/,
    );
    assert.equal((await handle.fetchHistory()).events?.length, before, 'refused updates leave no trace in history');
    await handle.terminate('test done');
  });

  test('an approver outside the Pipeline’s approvers is refused', async () => {
    const { handle } = await harness.startRelease('dev', GUARDED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await refused(
      handle.executeUpdate(approveUpdate, { args: [{ approver: 'mallory@example.com' }] }),
      /mallory@example.com may not decide promotions into prod \(approvers: alice@example.com, bob@example.com\)/,
    );
    const record = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice@example.com' }] });
    assert.equal(record.approver, 'alice@example.com');
    await harness.promotedInto(handle, 'prod');
    await handle.terminate('test done');
  });

  test('a release waiting for approval survives a worker restart and continues when approved', async () => {
    const { handle, version } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await harness.restartWorker();
    await handle.signal(approveSignal, { approver: 'after-restart' });
    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions[0]?.approval?.approver, 'after-restart');
    assert.equal(harness.notifier.received[0]?.message, `Promote pipeline flux-system/podinfo-02 to prod with version ${version}`);
    await handle.terminate('test done');
  });

  test('an approval policy that cannot be read fails the release at the gate, naming the annotation', async () => {
    const { handle } = await harness.startRelease('dev', { namespace: 'team-a', name: 'bad-policy' }, 'api-dev');
    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.invalidPipeline);
    assert.equal(failure.nonRetryable, true);
    assert.match(
      failure.message,
      /Pipeline team-a\/bad-policy has an invalid approval policy: annotation promotion\.baton\.dev\/required-approvals\.prod: 'two' is not a number/,
    );
    assert.equal(harness.notifier.received.length, 0, 'nothing promoted');
  });

  test('Temporal decisions carry how they were sent: a typed name, marked asserted', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const record = await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice' }] });
    assert.deepEqual(record.authentication, { method: 'temporal', subject: 'alice', verified: false });
    // A claim of the gateway's authentication without its proof is what anyone could type.
    const next = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(next.handle, ReleasePhase.awaitingApproval);
    await refused(
      next.handle.executeUpdate(approveUpdate, {
        args: [{ approver: 'alice', authentication: { method: 'oidc', subject: 'alice', verified: true } }],
      }),
      /a decision sent straight to Temporal cannot say how it was authenticated/,
    );
    await next.handle.terminate('test done');
    await handle.terminate('test done');
  });

  test('concurrent approvals: exactly one decision wins', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const outcomes = await Promise.allSettled(
      ['alice', 'bob', 'carol'].map((approver) => handle.executeUpdate(approveUpdate, { args: [{ approver }] })),
    );
    const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    assert.equal(winners.length, 1);
    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions[0]?.approval?.approver, winners[0]?.approver);
    assert.equal(harness.notifier.received.length, 1);
    await handle.terminate('test done');
  });

  test('a queued Pipeline: approving a version lower than the one in prod is refused unless the Update allows the downgrade', async () => {
    const waiting = async (version: string) => {
      const handle = await harness.signalRelease('dev', QUEUED_REF, version, 'api-dev');
      await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
      return handle;
    };
    const lower = await waiting('1.9.0');
    const higher = await waiting('1.10.0');
    await higher.executeUpdate(approveUpdate, { args: [{ approver: 'alice' }] });
    await harness.promotedInto(higher, 'prod');
    await eventually('the lower release to know 1.10.0 is in prod', async () => {
      return (await lower.query(stateQuery)).higherVersionIn?.version === '1.10.0' || undefined;
    });

    const before = await harness.quiescent(lower);
    await refused(
      lower.executeUpdate(approveUpdate, { args: [{ approver: 'alice' }] }),
      /1\.10\.0, a higher version, is already promoted into prod: approving 1\.9\.0 would downgrade it; send "allowDowngrade": true/,
    );
    assert.equal((await lower.fetchHistory()).events?.length, before, 'a refused update leaves no trace in history');
    const record = await lower.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'roll back', allowDowngrade: true }] });
    assert.deepEqual([record.decision, record.allowDowngrade], ['approved', true]);
    await harness.promotedInto(lower, 'prod');
    await Promise.all([lower, higher].map((handle) => handle.terminate('test done')));
  });
});
