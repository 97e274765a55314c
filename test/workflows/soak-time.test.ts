/**
 * Soak times on the real time-skipping server: a version that reached an environment with a soak
 * moves on only once it has run there that long (counted from Flux's report), a Flux failure during
 * the soak ends the release with the event's message, and a soak that cannot be read fails the
 * release instead of meaning "no soak". Flux's reports are stamped with the server's clock, which
 * earlier tests moved ahead of the wall clock. Awaiting a result lets the server skip the soak's timer.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../model/failures.js';
import { approveSignal, deployedSignal, deploymentFailedSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase, type ReleaseState, type SoakBlock } from '../../model/release.js';
import { ReleaseNoticeReason } from '../../model/release-notice.js';
import { PromotionBlockedBy } from '../../model/search-attributes.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';
import { releaseFailure } from '../support/failure.js';

const SOAKED: PipelineRef = { namespace: 'team-a', name: 'soaked' };
const BAD_SOAK: PipelineRef = { namespace: 'team-a', name: 'bad-soak' };
const SOAKED_GATE: PipelineRef = { namespace: 'team-a', name: 'soaked-gate' };
const TWO_HOURS = 2 * 60 * 60 * 1000;

/** dev → test → prod, the version soaking in test as `soak` says; `gated`: test has two targets and prod a manual gate. */
function pipeline(name: string, soak: string, gated = false): string {
  return `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
  namespace: team-a
  annotations: {promotion.baton.dev/soak.test: '${soak}', promotion.baton.dev/newer-version: queue}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: test
      targets: [{namespace: api-test}${gated ? ', {namespace: api-perf}' : ''}]
    - name: prod
      targets: [{namespace: api-prod}]
      promotion: {manual: ${gated}, strategy: {notification: {}}}
  promotion:
    strategy: {notification: {}}
`;
}

const soakBlock = (state: ReleaseState): SoakBlock | undefined => (state.blockedBy?.kind === 'soak' ? state.blockedBy : undefined);

describe('soak time (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, {
      manifests: [pipeline('soaked', '2h'), pipeline('bad-soak', 'two hours'), pipeline('soaked-gate', '2h', true)].join('---'),
      taskQueue: `soak-${process.pid}`,
    });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  /**
   * A new version reaches dev, is promoted into test, and Flux reports it there now (server time):
   * the release starts soaking. Returns when it says so, with the moment of the report.
   */
  async function soaking(
    idleTimeout = '30d',
  ): Promise<{ handle: ReleaseHandle; version: string; reportedAt: number; state: ReleaseState }> {
    const { handle, version } = await harness.startRelease('dev', SOAKED, 'api-dev', { idleTimeout });
    await harness.promotedInto(handle, 'test');
    const reportedAt = await env.currentTimeMs();
    const report = deployedFromFixture(FIXTURES.upgradeSucceeded, 'test', 'api-test');
    await handle.signal(deployedSignal, { ...report, receivedAt: new Date(reportedAt).toISOString() });
    const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
    return { handle, version, reportedAt, state };
  }

  test('a soak of 2h holds the promotion into prod, saying how long is left, then lets it through', async () => {
    const { handle, version, reportedAt, state } = await soaking('3h');
    const block = soakBlock(state);
    const endsAt = new Date(reportedAt + TWO_HOURS).toISOString();
    assert.deepEqual(block, {
      kind: 'soak',
      environment: 'prod',
      policy: '2h',
      since: block?.since,
      soakingIn: 'test',
      reachedAt: new Date(reportedAt).toISOString(),
      endsAt,
      description: block?.description,
    });
    assert.match(block.description, /^(2h|1h59m) left$/);
    assert.equal(
      state.currentStep,
      `Soaking in test: ${block.description}, until ${endsAt} (soak: 2h from ${block.reachedAt}, when Flux reported it there); ` +
        `then api ${version} moves on to prod`,
    );
    assert.equal(state.targetEnvironment, 'prod');
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), 'soak');
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test'],
      'nothing promoted into prod while the version soaks',
    );

    // Awaiting the result skips time: the soak ends, prod is promoted, and nobody reports it there for the idle timeout.
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.expired);
    const prod = result.promotions.find((p) => p.targetEnvironment === 'prod');
    assert.ok(prod !== undefined, 'promoted into prod once the soak was over');
    assert.ok(prod.startedAt >= endsAt, `promoted into prod at ${prod.startedAt}, not before the soak ended at ${endsAt}`);
    assert.equal(result.blockedBy, undefined);
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), undefined);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test', 'prod'],
    );
  });

  test('a Flux failure during the soak ends the release with the event’s message, and says the soak failed', async () => {
    const { handle, version } = await soaking();
    const failure = deployedFromFixture(FIXTURES.upgradeFailed, 'test', 'api-test');
    failure.event.reason = 'HealthCheckFailed';
    failure.event.message = 'health check failed after 5m0s: timeout waiting for: [Deployment/api-test/api status: InProgress]';
    await handle.signal(deploymentFailedSignal, failure);

    const ended = await releaseFailure(handle);
    assert.equal(ended.type, FailureType.deploymentFailed);
    const expected =
      `The soak of ${version} in test failed: Flux reported HealthCheckFailed for ${version} in test (HelmRelease api-test/podinfo): ` +
      failure.event.message;
    assert.equal(ended.message, expected);

    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.equal(state.currentStep, `Failed: ${expected}`);
    assert.deepEqual(
      [state.failure?.environment, state.failure?.during, state.failure?.event.reason],
      ['test', 'soak', 'HealthCheckFailed'],
    );
    assert.equal(state.blockedBy, undefined);
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), undefined);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test'],
      'never promoted into prod',
    );
    const told = harness.notifier.noticesOf(handle.workflowId).at(-1);
    assert.deepEqual([told?.reason, told?.environment, told?.summary], [ReleaseNoticeReason.soakFailed, 'test', `Failed: ${expected}`]);
  });

  test('with two targets the soak counts from the last report; an approval signalled during it is kept for the gate after it', async () => {
    const { handle, version } = await harness.startRelease('dev', SOAKED_GATE, 'api-dev', { idleTimeout: '3h' });
    await harness.promotedInto(handle, 'test');
    const reportedAt = await env.currentTimeMs();
    const report = (namespace: string, at: number) => ({
      ...deployedFromFixture(FIXTURES.upgradeSucceeded, 'test', namespace),
      receivedAt: new Date(at).toISOString(),
    });
    await handle.signal(deployedSignal, report('api-perf', reportedAt - 90 * 60 * 1000));
    await handle.signal(deployedSignal, report('api-test', reportedAt));
    const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
    const endsAt = new Date(reportedAt + TWO_HOURS).toISOString();
    assert.equal(soakBlock(state)?.endsAt, endsAt, 'two hours after the second target reported, not the first');
    assert.equal(state.pendingGate, undefined, 'the gate opens once the version has soaked');
    await handle.signal(approveSignal, { approver: 'alice@example.com', environment: 'prod', version });

    const result = await handle.result();
    const prod = result.promotions.find((p) => p.targetEnvironment === 'prod');
    assert.ok(prod !== undefined, 'promoted into prod once the soak was over');
    assert.ok(prod.startedAt >= endsAt, `promoted into prod at ${prod.startedAt}, not before the soak ended at ${endsAt}`);
    assert.equal(prod.approval?.approver, 'alice@example.com', 'the approval given during the soak');
    assert.deepEqual(result.ignoredDecisions ?? [], []);
    // A committed history of a soak for test/replay.
    if (process.env.BATON_RECORD_SOAK_HISTORY) {
      await writeFile(process.env.BATON_RECORD_SOAK_HISTORY, historyToJSON(await handle.fetchHistory()));
    }
  });

  test('a soak that cannot be read fails the release for good, naming the annotation and the problem', async () => {
    const { handle } = await harness.startRelease('dev', BAD_SOAK, 'api-dev');
    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.invalidPromotionPolicy);
    assert.equal(failure.nonRetryable, true);
    assert.equal(
      failure.message,
      'Pipeline team-a/bad-soak has an invalid promotion policy: annotation promotion.baton.dev/soak.test: "two hours": ' +
        'not a duration (e.g. 2h, 90m, 1d, "30 minutes")',
    );
    assert.deepEqual(harness.notifier.received, [], 'nothing promoted');
  });
});
