/**
 * Release managers deciding from a terminal: the real `tctl` (v1.18) and `temporal` CLIs against the
 * dev server, on real waiting releases. Whatever a hand-typed command sends — no input, a bare
 * string, an object without an approver — is recorded as ignored and the gate keeps waiting.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal, stateQuery } from '../../model/messages.js';
import { ReleasePhase, type ReleaseState } from '../../model/release.js';
import { PromotionDecidedBy } from '../../model/search-attributes.js';
import { serverBinary } from '../infra/binaries.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { visibleIn } from '../support/visibility.js';
import { PODINFO, type ReleaseHandle, ReleaseHarness, TEST_TARGETS } from '../workflows/harness.js';

const run = promisify(execFile);

describe('approving from the command line: tctl and temporal (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  /** tctl writes its config under $HOME; keep it out of the user's. */
  let home: string;

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env);
    home = await mkdtemp(join(tmpdir(), 'baton-tctl-home-'));
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
    await rm(home, { recursive: true, force: true });
  });

  beforeEach(() => harness.reset());

  async function tctl(...args: string[]): Promise<string> {
    const { stdout } = await run(serverBinary('tctl'), ['--address', env.address, '--namespace', 'default', ...args], {
      env: { ...process.env, HOME: home },
    });
    return stdout;
  }

  async function temporal(...args: string[]): Promise<string> {
    const { stdout } = await run(serverBinary('temporal'), [...args, '--address', env.address, '--namespace', 'default']);
    return stdout;
  }

  async function waitingForApproval(): Promise<{ handle: ReleaseHandle; version: string }> {
    const started = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(started.handle, ReleasePhase.awaitingApproval);
    await visibleIn(env.client, started.handle.workflowId, ReleasePhase.awaitingApproval);
    return started;
  }

  function ignoredDecisions(handle: ReleaseHandle, count: number): Promise<ReleaseState> {
    return eventually(`${count} ignored decisions`, async () => {
      const state = await handle.query(stateQuery);
      return (state.ignoredDecisions?.length ?? 0) >= count && state;
    });
  }

  test('tctl finds the releases waiting for approval and approves one; the approver is recorded', async () => {
    const { handle, version } = await waitingForApproval();
    const listed = await tctl('workflow', 'list', '--query', "PromotionState = 'AwaitingApproval'");
    assert.match(listed, new RegExp(handle.workflowId.replaceAll('.', '\\.')));

    await tctl(
      'workflow',
      'signal',
      '--workflow_id',
      handle.workflowId,
      '--name',
      'approve',
      '--input',
      '{"approver":"tctl-user@example.com","comment":"approved with tctl"}',
    );
    const state = await harness.promotedInto(handle, 'prod');
    const approval = state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval;
    assert.deepEqual(
      [approval?.decision, approval?.approver, approval?.comment],
      ['approved', 'tctl-user@example.com', 'approved with tctl'],
    );
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionDecidedBy), 'tctl-user@example.com');
    assert.equal(harness.notifier.received[0]?.message, `Promote pipeline flux-system/podinfo-02 to prod with version ${version}`);
    await handle.terminate('test done');
  });

  test('temporal workflow query shows the gate; temporal workflow signal rejects the release', async () => {
    const { handle } = await waitingForApproval();
    const shown = JSON.parse(
      await temporal('workflow', 'query', '--workflow-id', handle.workflowId, '--name', 'state', '--output', 'json'),
    ) as {
      queryResult: [ReleaseState];
    };
    assert.equal(shown.queryResult[0].pendingGate?.environment, 'prod');

    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'reject',
      '--input',
      '{"approver":"cli-user@example.com","comment":"not this one"}',
    );
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.rejected);
    assert.match(result.currentStep, /Rejected by cli-user@example\.com \(not this one\)/);
    assert.equal(harness.notifier.received.length, 0);
  });

  test('malformed decisions from the CLI are recorded as ignored, before and at the gate, and the release keeps waiting', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    await tctl('workflow', 'signal', '--workflow_id', handle.workflowId, '--name', 'approve', '--input', '{"comment":"lgtm"}');
    await ignoredDecisions(handle, 1);

    await harness.signalRelease('test', PODINFO, version, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await tctl('workflow', 'signal', '--workflow_id', handle.workflowId, '--name', 'approve');
    await temporal('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', 'approve', '--input', '"alice@example.com"');
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'reject',
      '--input',
      '{"approver":"alice@example.com","comment":42}',
    );
    const state = await ignoredDecisions(handle, 4);
    assert.deepEqual(
      state.ignoredDecisions?.map((d) => [d.decision, d.why]),
      [
        ['approved', 'an approver is required: {"approver": "you@example.com", "comment": "…"}'],
        ['approved', 'a decision is a JSON object like {"approver": "you@example.com", "comment": "…"}, not no input'],
        ['approved', 'a decision is a JSON object like {"approver": "you@example.com", "comment": "…"}, not "alice@example.com"'],
        ['rejected', 'comment must be a string'],
      ],
    );
    assert.equal(state.phase, ReleasePhase.awaitingApproval);
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'no workflow task failed');

    await handle.signal(approveSignal, { approver: 'alice@example.com' });
    await harness.promotedInto(handle, 'prod');
    await handle.terminate('test done');
  });
});
