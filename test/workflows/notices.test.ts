/**
 * What a release tells people, on the real time-skipping test server: a gate that opens says what
 * to approve and how, reminds at the Pipeline's interval for as long as it waits (days, skipped) and
 * never after the decision, and every way a release moves on or ends is told. Telling is best
 * effort: a notifier that keeps failing never stops a release.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal, rejectSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase } from '../../model/release.js';
import { ReleaseNoticeReason } from '../../model/release-notice.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';

/** Queue mode, so that the releases of different tests never supersede each other. */
const ANNOUNCED: PipelineRef = { namespace: 'team-n', name: 'announced' };
/** Supersede mode: a higher version waiting at prod ends the lower one. */
const CONTESTED: PipelineRef = { namespace: 'team-n', name: 'contested' };
/** Gate annotations that are not durations. */
const MISCONFIGURED: PipelineRef = { namespace: 'team-n', name: 'misconfigured' };

const pipeline = (name: string, annotations: Record<string, string>): string => `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
  namespace: team-n
  annotations: ${JSON.stringify(annotations)}
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

const MANIFESTS = [
  pipeline('announced', {
    'promotion.baton.dev/approval-reminder': '10h',
    'promotion.baton.dev/approval-timeout': '3d',
    'promotion.baton.dev/newer-version': 'queue',
  }),
  pipeline('contested', { 'promotion.baton.dev/approval-reminder': '4h' }),
  pipeline('misconfigured', {
    'promotion.baton.dev/approval-reminder': 'every morning',
    'promotion.baton.dev/approval-timeout': 'a week',
    'promotion.baton.dev/newer-version': 'queue',
  }),
].join('---\n');

describe('release notices (time skipping)', () => {
  /**
   * Ends a release waiting at a gate by rejecting it, not by terminating it: the time-skipping
   * server stops skipping time for good after a workflow is terminated, and later tests would wait
   * forever for their timers.
   */
  async function endTest(handle: ReleaseHandle): Promise<void> {
    await handle.signal(rejectSignal, { approver: 'test' });
    await handle.result();
  }

  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, { manifests: MANIFESTS });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  const reasons = (workflowId: string): string[] => harness.notifier.noticesOf(workflowId).map((n) => n.reason);

  test('an opening gate says what to approve and how: the CLI command, the approval endpoint and the Temporal UI link', async () => {
    const { handle, version } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const [waiting] = await eventually('the waiting notice', () => {
      const notices = harness.notifier.noticesOf(handle.workflowId);
      return notices.length > 0 && notices;
    });
    assert.ok(waiting);
    assert.equal(waiting.reason, ReleaseNoticeReason.awaitingApproval);
    assert.deepEqual(
      [waiting.pipeline.namespace, waiting.pipeline.name, waiting.environment, waiting.version, waiting.phase],
      ['team-n', 'announced', 'prod', version, ReleasePhase.awaitingApproval],
    );
    const command = `npx baton approve team-n/announced prod ${version} --gateway https://baton.example.com`;
    const endpoint = `https://baton.example.com/approval/team-n/announced/prod/${version}`;
    const link = `http://localhost:8233/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`;
    assert.match(waiting.message, new RegExp(`^api ${version.replaceAll('.', '\\.')} is waiting for approval to be promoted into prod`));
    for (const line of [`Approve: ${command}`, `Reject: npx baton reject team-n/announced prod ${version} --gateway`, endpoint, link]) {
      assert.ok(waiting.message.includes(line), `the message names ${line}:\n${waiting.message}`);
    }
    assert.deepEqual(
      { command: waiting.details['approve-command'], url: waiting.details['approval-url'], ui: waiting.details['temporal-url'] },
      { command, url: endpoint, ui: link },
    );
    await endTest(handle);
  });

  test('a gate nobody decides reminds every 10h for its 3 days, then tells that the approval expired', async () => {
    const { handle } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.approvalExpired);

    const notices = harness.notifier.noticesOf(handle.workflowId);
    const reminders = notices.filter((n) => n.reason === ReleaseNoticeReason.approvalReminder);
    // 10h, 20h, … 70h; the next would be due after the expiry at 72h.
    assert.deepEqual(
      reminders.map((r) => r.reminder),
      [1, 2, 3, 4, 5, 6, 7],
    );
    const waited = reminders.map((r) => /has waited ([^f]+) for approval/.exec(r.message)?.[1]);
    assert.deepEqual(waited, ['10h', '20h', '1d 6h', '1d 16h', '2d 2h', '2d 12h', '2d 22h']);
    assert.ok(
      reminders.every((r) => r.message.includes(r.details['approve-command'] ?? 'no command')),
      'every reminder repeats the command',
    );
    assert.equal(notices[0]?.reason, ReleaseNoticeReason.awaitingApproval);
    assert.equal(notices.at(-1)?.reason, ReleaseNoticeReason.approvalExpired);
    assert.equal(notices.at(-1)?.phase, ReleasePhase.approvalExpired);
    assert.equal(notices.length, 1 + 7 + 1);

    // Reminder timers, notices and the patch marker in one history: test/replay keeps it.
    if (process.env.BATON_RECORD_NOTICES_HISTORY) {
      await writeFile(process.env.BATON_RECORD_NOTICES_HISTORY, historyToJSON(await handle.fetchHistory()));
    }
  });

  test('approved, promoted, then expired for want of news: no reminder after the decision, in 30 days', async () => {
    const { handle, version } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    // Approved once people were asked (a decision before the waiting notice leaves nobody to ask).
    await eventually('the waiting notice', () => harness.notifier.noticesOf(handle.workflowId).length > 0);
    await handle.signal(approveSignal, { approver: 'alice@example.com', comment: 'ship it' });
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.expired);

    assert.deepEqual(reasons(handle.workflowId), [
      ReleaseNoticeReason.awaitingApproval,
      ReleaseNoticeReason.approved,
      ReleaseNoticeReason.promoted,
      ReleaseNoticeReason.expired,
    ]);
    const [, approved, promoted, expired] = harness.notifier.noticesOf(handle.workflowId);
    assert.equal(approved?.approver, 'alice@example.com');
    assert.match(
      approved?.message ?? '',
      new RegExp(`^Approved by alice@example\\.com \\(ship it\\): promoting ${version.replaceAll('.', '\\.')} into prod`),
    );
    assert.equal(promoted?.environment, 'prod');
    assert.match(promoted?.message ?? '', /^Promoted .* from dev into prod \(notified recording/);
    assert.match(expired?.message ?? '', /^Expired: nothing happened for 30d/);
    assert.equal(harness.notifier.received.length, 1, 'the promotion itself went through the notification strategy');
  });

  test('a rejection is told, with who rejected', async () => {
    const { handle } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(rejectSignal, { approver: 'qa-lead@example.com', comment: 'perf regression' });
    assert.equal((await handle.result()).phase, ReleasePhase.rejected);
    assert.deepEqual(reasons(handle.workflowId), [ReleaseNoticeReason.awaitingApproval, ReleaseNoticeReason.rejected]);
    const rejected = harness.notifier.noticesOf(handle.workflowId)[1];
    assert.equal(rejected?.approver, 'qa-lead@example.com');
    assert.match(rejected?.message ?? '', /^Rejected by qa-lead@example\.com \(perf regression\)/);
  });

  test('a release superseded at its gate is told so, naming the higher version', async () => {
    const older = await harness.startRelease('dev', CONTESTED, 'api-dev');
    await harness.waitForPhase(older.handle, ReleasePhase.awaitingApproval);
    const newer = await harness.startRelease('dev', CONTESTED, 'api-dev');
    assert.equal((await older.handle.result()).phase, ReleasePhase.superseded);
    assert.deepEqual(reasons(older.handle.workflowId), [ReleaseNoticeReason.awaitingApproval, ReleaseNoticeReason.superseded]);
    assert.match(
      harness.notifier.noticesOf(older.handle.workflowId)[1]?.message ?? '',
      new RegExp(`^Superseded by ${newer.version.replaceAll('.', '\\.')}`),
    );
    await endTest(newer.handle);
  });

  test('a failed promotion is told before the release fails', async () => {
    harness.notifier.failNext(3);
    const { handle } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'alice@example.com' });
    await assert.rejects(handle.result(), WorkflowFailedError);
    assert.deepEqual(reasons(handle.workflowId), [
      ReleaseNoticeReason.awaitingApproval,
      ReleaseNoticeReason.approved,
      ReleaseNoticeReason.failed,
    ]);
    const failed = harness.notifier.noticesOf(handle.workflowId)[2];
    assert.equal(failed?.phase, ReleasePhase.failed);
    assert.match(failed?.message ?? '', /^Failed: promoting .* into prod failed: notification-controller unavailable/);
  });

  test('a notifier that keeps failing neither stops nor fails the release; the state keeps why', async () => {
    harness.notifier.failNextAnnouncements(100);
    const { handle } = await harness.startRelease('dev', ANNOUNCED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'alice@example.com' });
    const promoted = await eventually('the promotion, and its notice given up', async () => {
      const state = await handle.query(stateQuery);
      return state.lastNoticeError?.includes('Promoted notice') === true && state;
    });
    assert.equal(promoted.phase, ReleasePhase.awaitingDeployment);
    assert.equal(promoted.targetEnvironment, 'prod');
    assert.match(
      promoted.lastNoticeError ?? '',
      /^\S+ the Promoted notice of release\/team-n\/announced\/\S+ was not sent: recording: notification-controller unavailable \(simulated\)$/,
    );
    assert.deepEqual(harness.notifier.announced, []);
    // Flux reports it in prod: the release completes (rather than being terminated, see endTest).
    await harness.report(handle, 'prod', 'api-prod');
    assert.equal((await handle.result()).phase, ReleasePhase.completed);
  });

  test('gate annotations that are not durations are told, never read as "no reminders"', async () => {
    const { handle } = await harness.startRelease('dev', MISCONFIGURED, 'api-dev');
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(waiting.pendingGate?.remindEvery, undefined);
    assert.deepEqual(waiting.pendingGate?.problems, [
      "promotion.baton.dev/approval-reminder: 'every morning' is not a duration of at least 1m (examples: 4h, 30m, 1d); " +
        'no reminders are sent until it is fixed (it is read when a gate opens)',
      "promotion.baton.dev/approval-timeout: 'a week' is not a duration (examples: 72h, 7d); the gate waits 30d instead",
    ]);
    assert.match(waiting.currentStep, /approval-reminder: 'every morning' is not a duration/);
    const [notice] = await eventually('the waiting notice', () => {
      const notices = harness.notifier.noticesOf(handle.workflowId);
      return notices.length > 0 && notices;
    });
    assert.match(notice?.message ?? '', /approval-reminder: 'every morning' is not a duration.*approval-timeout: 'a week'/s);
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    await endTest(handle);
  });
});
