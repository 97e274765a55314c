/**
 * Stop-the-line, holds and freezes. The operator's commands are the real CLI (`baton stop`, `hold`,
 * `resume`, `unhold`, `controls`, run in-process) against the dev server; releases of the example
 * Pipeline are held before promoting, show who holds them and why, and promote once lifted. A
 * three-week freeze runs on the time-skipping server.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, stateQuery } from '../../model/messages.js';
import { PROMOTION_CONTROLS_WORKFLOW_ID, type PromotionControl } from '../../model/promotion-controls.js';
import { ReleasePhase } from '../../model/release.js';
import { PromotionBlockedBy } from '../../model/search-attributes.js';
import { promotionControls } from '../../workflows/promotion-controls.js';
import { startDevServer, startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from './harness.js';
import { baton } from '../support/controls-cli.js';

describe('stop-the-line and holds (dev server, the baton CLI)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  const cli = (...args: string[]) => baton(env, harness.taskQueue, ...args);

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env);
  });

  after(async () => {
    await harness?.stop();
    await env?.teardown();
  });

  beforeEach(() => harness.reset());

  test('baton stop --all holds 50 releases before their promotion, with who and why; baton resume --all lets them go', async () => {
    const stopped = await cli('stop', '--all', '--reason', 'incident 42: database failover');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(
      stopped.stdout,
      /^set stop-\d+ +stopped by oncall@example\.com at .* \(every Pipeline\): incident 42: database failover$/m,
    );

    const releases = await Promise.all(Array.from({ length: 50 }, () => harness.startRelease('dev', PODINFO, 'podinfo-02-dev')));
    for (const { handle } of releases) {
      const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
      assert.equal(state.blockedBy?.kind, 'stop');
      assert.equal(state.blockedBy?.environment, 'test');
      assert.match(
        state.currentStep,
        /Held before promoting podinfo .* into test: stopped by oncall@example\.com .*incident 42.*`baton resume` lifts it/,
      );
      assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), 'stop');
    }
    assert.equal(harness.notifier.received.length, 0, 'nothing promoted while stopped');

    const listed = await cli('controls');
    assert.match(listed.stdout, /stop-\d+ +stopped by oncall@example\.com/);
    const wrongScope = await cli('resume', 'flux-system/podinfo-02');
    assert.equal(wrongScope.code, 1, 'a resume of another scope lifts nothing');
    assert.match(wrongScope.stderr, /refused: nothing is stopped in that scope; stopped: stop-\d+/);

    const resumed = await cli('resume', '--all');
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const { handle } of releases) {
      const state = await harness.promotedInto(handle, 'test');
      assert.equal(state.blockedBy, undefined);
      assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), undefined);
    }
    assert.equal(harness.notifier.received.filter((n) => n.targetEnvironment === 'test').length, 50);
    // Lower versions promoted into test end superseded by higher ones: only the rest still run.
    for (const { handle } of releases) {
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test done');
    }
  });

  test('baton hold holds one environment of one Pipeline and keeps the approval; unhold promotes with it', async () => {
    const held = await cli('hold', 'flux-system/podinfo-02', '--env', 'prod', '--reason', 'quarterly audit');
    assert.equal(held.code, 0, held.stderr);
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', comment: 'ship it' }] });
    const blocked = await harness.waitForPhase(handle, ReleasePhase.blocked);
    assert.equal(blocked.blockedBy?.kind, 'stop');
    assert.equal(blocked.blockedBy.approval?.approver, 'alice', 'the approval is kept while held');
    assert.match(
      blocked.currentStep,
      /\(approved by alice\): stopped by oncall@example\.com .*\(prod of flux-system\/podinfo-02\): quarterly audit/,
    );

    // A promotion into another environment of the same Pipeline is not held by it.
    const other = await harness.startRelease('dev', PODINFO, 'podinfo-02-dev');
    await harness.promotedInto(other.handle, 'test');

    assert.equal((await cli('unhold', 'flux-system/podinfo-02', '--env', 'prod')).code, 0);
    const state = await harness.promotedInto(handle, 'prod');
    const prod = state.promotions.find((p) => p.targetEnvironment === 'prod');
    assert.equal(prod?.approval?.approver, 'alice');
    assert.equal(state.pendingGate, undefined, 'the gate was not asked again');
    await other.handle.terminate('test done');
    await handle.terminate('test done');
  });

  test('bad commands are usage errors; nothing to resume is refused', async () => {
    assert.equal((await cli('stop', '--reason', 'x')).code, 2, 'no scope');
    assert.equal((await cli('stop', '--all')).code, 2, 'no reason');
    assert.equal((await cli('hold', 'flux-system/podinfo-02', '--reason', 'x')).code, 2, 'hold needs --env');
    assert.equal((await cli('freeze', '--all', '--reason', 'x')).code, 2, 'freeze needs dates');
    const backwards = await cli('freeze', '--all', '--reason', 'x', '--from', '2030-01-02T00:00:00Z', '--until', '2030-01-01T00:00:00Z');
    assert.equal(backwards.code, 1);
    assert.match(backwards.stderr, /a freeze ends after it starts/);
    const nothing = await cli('resume', '--all');
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /nothing is stopped in that scope/);
  });
});

describe('freezes (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env);
  });

  after(async () => {
    await harness?.stop();
    await env?.teardown();
  });

  test('a three-week freeze holds a due promotion until it ends, then the release resumes by itself', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    const until = new Date(Date.now() + 21 * 24 * 3600 * 1000).toISOString();
    const freeze: PromotionControl = {
      id: 'freeze-1',
      kind: 'freeze',
      scope: { pipeline: 'flux-system/podinfo-02' },
      reason: 'year-end freeze',
      by: 'release-manager@example.com',
      at: from,
      from,
      until,
    };
    const controls = await env.client.workflow.start(promotionControls, {
      workflowId: PROMOTION_CONTROLS_WORKFLOW_ID,
      taskQueue: harness.taskQueue,
      args: [{ controls: [freeze], lastId: 1 }],
    });
    const { handle } = await harness.startRelease('dev', PODINFO, 'podinfo-02-dev');
    const blocked = await eventually('the release to be held by the freeze', async () => {
      const state = await handle.query(stateQuery);
      return state.phase === ReleasePhase.blocked && state;
    });
    assert.equal(blocked.blockedBy?.kind, 'freeze');
    assert.equal(blocked.blockedBy?.opensAt, until);
    assert.deepEqual(blocked.blockedBy?.controls, ['freeze-1']);
    assert.match(
      blocked.currentStep,
      /frozen until .* by release-manager@example\.com \(flux-system\/podinfo-02\): year-end freeze — resumes by itself/,
    );
    assert.equal(harness.notifier.received.length, 0);

    // Queries skip no time: sleep past the freeze's end, then the release's own timer has fired.
    await env.sleep(Date.parse(until) - Date.now() + 60_000);
    const state = await harness.promotedInto(handle, 'test');
    assert.ok(Date.parse(state.promotions[0]!.startedAt) >= Date.parse(until), 'promoted only once the freeze ended');
    await handle.terminate('test done');
    await controls.terminate('test done');
  });
});
