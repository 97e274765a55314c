/**
 * A Pipeline that queues versions keeps every version, but never downgrades an environment unasked,
 * on the real time-skipping test server: a lower version without a gate in front of the
 * environment ends saying which higher version is there; at a manual gate only an approval with
 * `allowDowngrade` promotes it. Each test uses versions of its own, above the previous tests' (the
 * environments' claims workflows remember what was promoted last). Results are polled, not awaited:
 * awaiting one lets the server skip time, and the releases still waiting would expire.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { environmentClaimsWorkflowId } from '../../model/environment-claims.js';
import { approveSignal, promotedQuery, rejectSignal, stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { PODINFO, type ReleaseHandle, ReleaseHarness, TEST_TARGETS } from './harness.js';

describe('versions in order when a Pipeline queues them (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, {
      exampleAnnotations: { 'promotion.baton.dev/newer-version': 'queue' },
      taskQueue: `queue-order-${process.pid}`,
    });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  const promotedLastInto = (environment: string, version: string): Promise<true> =>
    eventually(`${version} to be remembered as promoted into ${environment}`, async () => {
      const claims = env.client.workflow.getHandle(environmentClaimsWorkflowId(PODINFO, environment));
      return (await claims.query(promotedQuery))?.version === version || undefined;
    });

  /** A release that waits at prod's gate (test reported it). */
  const waitingForProd = async (version: string): Promise<ReleaseHandle> => {
    const handle = await harness.signalRelease('test', PODINFO, version, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    return handle;
  };

  test('without a gate, a version lower than the one promoted there ends, naming the higher one', async () => {
    const higher = await harness.signalRelease('dev', PODINFO, '1.10.0');
    await harness.promotedInto(higher, 'test');
    await promotedLastInto('test', '1.10.0');

    const lower = await harness.signalRelease('dev', PODINFO, '1.9.0');
    const result = await harness.waitForPhase(lower, ReleasePhase.superseded);
    assert.deepEqual(result.supersededBy, { version: '1.10.0', workflowId: higher.workflowId, because: 'version' });
    assert.match(result.currentStep, /^Not promoted into test: 1\.10\.0, a higher version, is already there/);
    assert.equal(result.promotions.length, 0);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.message),
      ['Promote pipeline flux-system/podinfo-02 to test with version 1.10.0'],
      'nothing promoted 1.9.0',
    );

    // A higher version still goes on, and so does one without an order (not SemVer).
    const next = await harness.signalRelease('dev', PODINFO, '1.11.0-rc.1');
    await harness.promotedInto(next, 'test');
    await promotedLastInto('test', '1.11.0-rc.1');
    const unordered = await harness.signalRelease('dev', PODINFO, 'main@sha1:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567');
    await harness.promotedInto(unordered, 'test');
    await Promise.all([higher, next, unordered].map((handle) => handle.terminate('test done')));
  });

  test('at a manual gate, once a higher version is promoted, a plain approval is ignored; allowDowngrade promotes', async () => {
    const lower = await waitingForProd('2.0.0');
    const higher = await waitingForProd('2.1.0');
    await higher.signal(approveSignal, { approver: 'release-manager@example.com' });
    await harness.promotedInto(higher, 'prod');

    // The claims workflow tells the release still waiting which version is in prod now.
    const told = await eventually('the lower release to know about 2.1.0', async () => {
      const state = await lower.query(stateQuery);
      return state.higherVersionIn?.version === '2.1.0' && state;
    });
    assert.equal(told.phase, ReleasePhase.awaitingApproval);
    assert.match(told.currentStep, /Not promoted by a plain approval: 2\.1\.0, a higher version, is already in prod\..*allowDowngrade/s);

    await lower.signal(approveSignal, { approver: 'someone@example.com', comment: 'ship it' });
    const ignored = await eventually('the plain approval to be ignored', async () => {
      const state = await lower.query(stateQuery);
      return state.ignoredDecisions !== undefined && state;
    });
    assert.match(
      ignored.ignoredDecisions?.[0]?.why ?? '',
      /2\.1\.0, a higher version, is already promoted into prod: .*"allowDowngrade": true/,
    );
    assert.equal(ignored.phase, ReleasePhase.awaitingApproval);
    assert.equal(harness.notifier.received.length, 1, 'only 2.1.0 was promoted into prod');

    await lower.signal(approveSignal, { approver: 'someone@example.com', comment: 'roll back', allowDowngrade: true });
    const promoted = await harness.promotedInto(lower, 'prod');
    assert.equal(promoted.promotions.at(-1)?.approval?.allowDowngrade, true);
    assert.equal(harness.notifier.received[1]?.message, 'Promote pipeline flux-system/podinfo-02 to prod with version 2.0.0');
    await promotedLastInto('prod', '2.0.0');
    // A plain approval ignored, a downgrade allowed: test/replay keeps this history.
    if (process.env.BATON_RECORD_DOWNGRADE_HISTORY)
      await writeFile(process.env.BATON_RECORD_DOWNGRADE_HISTORY, historyToJSON(await lower.fetchHistory()));
    await Promise.all([lower, higher].map((handle) => handle.terminate('test done')));
  });

  test('a gate that opens after a higher version was promoted says so; an early plain approval is ignored, a rejection ends it', async () => {
    const higher = await waitingForProd('3.1.0');
    await higher.signal(approveSignal, { approver: 'release-manager@example.com' });
    await harness.promotedInto(higher, 'prod');
    await promotedLastInto('prod', '3.1.0');

    const lower = await harness.signalRelease('dev', PODINFO, '3.0.0');
    await harness.waitForPhase(lower, ReleasePhase.awaitingDeployment);
    await lower.signal(approveSignal, { approver: 'early-bird', environment: 'prod', version: '3.0.0' });
    await harness.signalRelease('test', PODINFO, '3.0.0', TEST_TARGETS);
    const waiting = await harness.waitForPhase(lower, ReleasePhase.awaitingApproval);
    assert.equal(waiting.higherVersionIn?.version, '3.1.0');
    assert.match(waiting.currentStep, /Not promoted by a plain approval: 3\.1\.0/);
    assert.deepEqual(
      waiting.ignoredDecisions?.map((d) => [d.approver, /allowDowngrade/.test(d.why)]),
      [['early-bird', true]],
    );

    await lower.signal(rejectSignal, { approver: 'release-manager@example.com', comment: 'stay on 3.1.0' });
    await harness.waitForPhase(lower, ReleasePhase.rejected);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.message),
      [
        'Promote pipeline flux-system/podinfo-02 to prod with version 3.1.0',
        'Promote pipeline flux-system/podinfo-02 to test with version 3.0.0',
      ],
    );
    await higher.terminate('test done');
  });
});
