/**
 * Supersede on the real time-skipping test server: a higher version waiting for (or promoted into)
 * an environment ends the lower one still waiting there, unless the Pipeline queues (between
 * revisions that are not SemVer, the later arrival ends the earlier). Releases claim
 * environments through one claims workflow per (Pipeline, environment), which needs no visibility
 * (this server has none): the order claims arrive in cannot let two releases miss each other.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import protos from '@temporalio/proto';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { createSupersedeActivities } from '../../activities/supersede.js';
import { CLAIMS_HISTORY_LIMIT, environmentClaimsWorkflowId } from '../../model/environment-claims.js';
import { approveSignal, claimsQuery, type EnvironmentClaim, promotedQuery, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase } from '../../model/release.js';
import type { environmentClaims } from '../../workflows/environment-claims.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { GUARDED, PODINFO, type ReleaseHandle, ReleaseHarness, TEST_TARGETS } from './harness.js';

describe('supersede (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  // A server per test: a release terminated with an activity in flight can leave the time-skipping
  // server's time locked, and the next test would wait for its timers in real time.
  beforeEach(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env);
  });

  afterEach(async () => {
    await harness?.stop();
    await env?.teardown();
  });

  const claimsOn = (pipeline: PipelineRef, environment: string) =>
    env.client.workflow.getHandle<typeof environmentClaims>(environmentClaimsWorkflowId(pipeline, environment));

  /** Until the claims workflow holds exactly `versions`, in arrival order. */
  const holding = (pipeline: PipelineRef, environment: string, versions: string[]): Promise<true> =>
    eventually(`${environment} to be held by ${versions.join(', ')}`, async () => {
      const holders = await claimsOn(pipeline, environment).query(claimsQuery);
      return JSON.stringify(holders.map((claim) => claim.version)) === JSON.stringify(versions) || undefined;
    });

  /** What a release's activity does when it claims an environment, run here for claims made up by the test. */
  const sendClaim = (pipeline: PipelineRef, claim: EnvironmentClaim): Promise<void> =>
    new MockActivityEnvironment({ taskQueue: harness.taskQueue }).run(() =>
      createSupersedeActivities(env.client).claimEnvironment({ pipeline, claim }),
    );

  const waitingForProd = async (pipeline: PipelineRef): Promise<{ handle: ReleaseHandle; version: string; since: string }> => {
    const started =
      pipeline === GUARDED
        ? await harness.startRelease('dev', GUARDED, 'api-dev')
        : await harness.startRelease('test', PODINFO, TEST_TARGETS);
    const state = await harness.waitForPhase(started.handle, ReleasePhase.awaitingApproval);
    return { ...started, since: state.pendingGate!.since };
  };

  test('a newer version waiting for prod supersedes the older one waiting there', async () => {
    const older = await waitingForProd(PODINFO);
    const newer = await waitingForProd(PODINFO);

    const result = await older.handle.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.deepEqual(result.supersededBy, { version: newer.version, workflowId: newer.handle.workflowId, because: 'version' });
    assert.match(result.currentStep, new RegExp(`Superseded by ${newer.version.replaceAll('.', '\\.')}`));
    assert.equal((await newer.handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval, 'the newer one still waits');
    await holding(PODINFO, 'prod', [newer.version]);
    await newer.handle.terminate('test done');
  });

  test('a newer version promoted into test supersedes the older one still waiting to be deployed there', async () => {
    const older = await harness.startRelease('dev');
    await harness.waitForPhase(older.handle, ReleasePhase.awaitingDeployment);
    const newer = await harness.startRelease('dev');
    await harness.waitForPhase(newer.handle, ReleasePhase.awaitingDeployment);
    const result = await older.handle.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.equal(result.supersededBy?.version, newer.version);
    // The newer one carries on: Flux reports it in test and it waits for prod's approval.
    await harness.report(newer.handle, 'test', TEST_TARGETS);
    await harness.waitForPhase(newer.handle, ReleasePhase.awaitingApproval);
    await newer.handle.terminate('test done');
  });

  test('a Pipeline that queues keeps both versions waiting: its claims supersede nobody', async () => {
    const older = await waitingForProd(GUARDED);
    const newer = await waitingForProd(GUARDED);
    await older.handle.signal(approveSignal, { approver: 'bob@example.com' });
    await harness.promotedInto(older.handle, 'prod');
    await eventually('the claims workflow to remember the promotion', async () => {
      return (await claimsOn(GUARDED, 'prod').query(promotedQuery))?.version === older.version || undefined;
    });
    const newerState = await newer.handle.query(stateQuery);
    assert.equal(newerState.phase, ReleasePhase.awaitingApproval);
    assert.equal(newerState.higherVersionIn, undefined, 'the lower version promoted makes approving the higher one no downgrade');
    await holding(GUARDED, 'prod', []);
    await Promise.all([older.handle.terminate('test done'), newer.handle.terminate('test done')]);
  });

  test('a lower version arriving after a higher one does not supersede it: it ends superseded by the higher one', async () => {
    const higher = await harness.signalRelease('test', PODINFO, '7.0.1', TEST_TARGETS);
    await harness.waitForPhase(higher, ReleasePhase.awaitingApproval);
    await holding(PODINFO, 'prod', ['7.0.1']);
    const lower = await harness.signalRelease('test', PODINFO, '7.0.0', TEST_TARGETS);

    const result = await lower.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.deepEqual(result.supersededBy, { version: '7.0.1', workflowId: higher.workflowId, because: 'version' });
    assert.match(result.currentStep, /Superseded by 7\.0\.1 .*: 7\.0\.1 is a higher version than 7\.0\.0/);
    assert.equal((await higher.query(stateQuery)).phase, ReleasePhase.awaitingApproval, 'the higher one still waits');
    await holding(PODINFO, 'prod', ['7.0.1']);
    await higher.terminate('test done');
  });

  test('revisions that are not SemVer have no order: the later arrival supersedes, and the state says why', async () => {
    const first = await harness.signalRelease('test', PODINFO, 'main@sha1:bbbbbbb', TEST_TARGETS);
    await harness.waitForPhase(first, ReleasePhase.awaitingApproval);
    await holding(PODINFO, 'prod', ['main@sha1:bbbbbbb']);
    const later = await harness.signalRelease('test', PODINFO, 'main@sha1:aaaaaaa', TEST_TARGETS);

    const result = await first.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.deepEqual(result.supersededBy, { version: 'main@sha1:aaaaaaa', workflowId: later.workflowId, because: 'arrival' });
    assert.match(
      result.currentStep,
      /it got there later; main@sha1:aaaaaaa and main@sha1:bbbbbbb are not both SemVer, so arrival order decides/,
    );
    assert.equal((await later.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    await later.terminate('test done');
  });

  test('claims taken in any order end the lower version', async () => {
    // The queueing Pipeline's releases send queued claims, which supersede nobody: these are sent here, newest first.
    const older = await waitingForProd(GUARDED);
    const newer = await waitingForProd(GUARDED);
    const claim = (release: typeof older): EnvironmentClaim => ({
      version: release.version,
      environment: 'prod',
      workflowId: release.handle.workflowId,
      reason: 'waiting',
      at: release.since,
    });
    for (const release of [newer, older]) await sendClaim(GUARDED, claim(release));

    const result = await older.handle.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.equal(result.supersededBy?.version, newer.version);
    await holding(GUARDED, 'prod', [newer.version]);
    assert.equal((await newer.handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);
    await newer.handle.terminate('test done');
  });

  test('a long-lived claims workflow continues as new and carries its holders over', async () => {
    const pipeline: PipelineRef = { namespace: 'team-a', name: 'busy' };
    const currentRunId = async (): Promise<string> => (await claimsOn(pipeline, 'prod').describe()).runId;
    // Claims of releases that no longer run: each new one is told to the one before, which fails.
    const claimNumber = async (n: number): Promise<void> => {
      const claim: EnvironmentClaim = {
        version: `1.0.${n}`,
        environment: 'prod',
        workflowId: `release/team-a/busy/1.0.${n}`,
        reason: 'waiting',
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      };
      await sendClaim(pipeline, claim);
    };
    await claimNumber(0);
    const first = await currentRunId();
    for (let n = 1; n < 400; n += 1) await claimNumber(n);
    await eventually('a new run holding only the last claim', async () => {
      if ((await currentRunId()) === first) return false;
      const holders = await claimsOn(pipeline, 'prod').query(claimsQuery);
      return holders.length === 1 && holders[0]!.version === '1.0.399';
    });
    const events = (await env.client.workflow.getHandle(environmentClaimsWorkflowId(pipeline, 'prod'), first).fetchHistory()).events ?? [];
    assert.equal(events.at(-1)?.eventType, protos.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    // Claims kept coming faster than they were taken; the history still stopped near the limit.
    assert.ok(events.length < CLAIMS_HISTORY_LIMIT + 50, `the first run's history has ${events.length} events`);
  });

  test('a holder that no longer runs is dropped; the claims workflow ends a day after its last holder', async () => {
    const gone = await waitingForProd(PODINFO);
    await holding(PODINFO, 'prod', [gone.version]);
    await gone.handle.terminate('the release was ended by hand');
    const older = await waitingForProd(PODINFO);
    await holding(PODINFO, 'prod', [older.version]);
    const newer = await waitingForProd(PODINFO);
    assert.equal((await older.handle.result()).phase, ReleasePhase.superseded);
    await holding(PODINFO, 'prod', [newer.version]);

    await newer.handle.terminate('test done');
    // Waiting for the result lets the server skip the day to the claims workflow's check.
    await claimsOn(PODINFO, 'prod').result();
    assert.equal((await claimsOn(PODINFO, 'prod').describe()).status.name, 'COMPLETED');

    // Prod's claims workflow has now taken every branch but continue-as-new: test/replay keeps its history.
    if (process.env.BATON_RECORD_CLAIMS_HISTORY) {
      await writeFile(process.env.BATON_RECORD_CLAIMS_HISTORY, historyToJSON(await claimsOn(PODINFO, 'prod').fetchHistory()));
    }
  });
});
