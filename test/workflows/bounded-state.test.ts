/**
 * What a release keeps stays small whatever senders put in signals: the state is returned by the
 * `state` query and carried over continue-as-new as one payload, which Temporal caps at 2 MB.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import protos from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal, type Decision, deployedSignal, stateQuery } from '../../model/messages.js';
import { ReleasePhase, type ReleaseState } from '../../model/release.js';
import { RELEASE_LIMITS } from '../../model/release-limits.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { eventually } from '../support/eventually.js';
import { PODINFO, type ReleaseHandle, ReleaseHarness, TEST_TARGETS } from './harness.js';

const MiB = 1024 * 1024;
/** Far more than any sensible state, far less than what the unbounded lists reached. */
const SMALL_STATE_BYTES = 64 * 1024;

describe('bounded release state (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    // Queue mode: these releases must not supersede each other's.
    harness = await ReleaseHarness.start(env, { exampleAnnotations: { 'promotion.baton.dev/newer-version': 'queue' } });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  const stateBytes = (state: ReleaseState): number => Buffer.byteLength(JSON.stringify(state), 'utf8');

  /** Signals in batches, as fast as a busy sender would. */
  async function signalAll(handle: ReleaseHandle, decisions: unknown[]): Promise<void> {
    for (let i = 0; i < decisions.length; i += 100) {
      await Promise.all(decisions.slice(i, i + 100).map((d) => handle.signal(approveSignal, d as Decision)));
    }
  }

  test('a 1 MiB Flux message is kept cut to a few hundred characters', async () => {
    const { handle } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    const huge = deployedFromFixture(FIXTURES.upgradeSucceeded, 'test', 'podinfo-02-qa');
    huge.event.message = 'x'.repeat(MiB);
    await handle.signal(deployedSignal, huge);
    await harness.report(handle, 'test', 'podinfo-02-perf');
    const state = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const message = state.targets?.find((t) => t.namespace === 'podinfo-02-qa')?.event?.message ?? '';
    assert.equal(message.length, RELEASE_LIMITS.eventMessageChars);
    assert.ok(message.endsWith('x…'));
    assert.ok(stateBytes(state) < SMALL_STATE_BYTES, `the state is ${stateBytes(state)} bytes`);
    await handle.terminate('test done');
  });

  test('1,000 ignored decisions leave the latest few, summarised, and a count of the others', async () => {
    const { handle } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const wrongEnvironment = Array.from({ length: 999 }, (_, i) => ({ approver: `approver-${i}`, environment: 'test' }));
    // Not a decision at all: the answer used to quote it whole.
    await signalAll(handle, wrongEnvironment);
    await signalAll(handle, ['y'.repeat(100_000)]);
    const state = await eventually('all 1,000 decisions to be handled', async () => {
      const current = await handle.query(stateQuery);
      return (current.ignoredDecisions?.length ?? 0) + (current.ignoredDecisionsDropped ?? 0) === 1000 && current;
    });
    assert.equal(state.ignoredDecisions?.length, RELEASE_LIMITS.ignoredDecisions);
    assert.equal(state.ignoredDecisionsDropped, 1000 - RELEASE_LIMITS.ignoredDecisions);
    for (const ignored of state.ignoredDecisions ?? []) assert.ok(ignored.why.length <= RELEASE_LIMITS.ignoredWhyChars);
    assert.match(state.ignoredDecisions?.at(-1)?.why ?? '', /^a decision is a JSON object like .*, not "yyy+…$/);
    assert.match(state.ignoredDecisions?.at(-2)?.why ?? '', /test is not waiting for approval; prod is/);
    assert.ok(stateBytes(state) < SMALL_STATE_BYTES, `the state is ${stateBytes(state)} bytes`);
    assert.equal(state.phase, ReleasePhase.awaitingApproval);
    await handle.terminate('test done');
  });

  test('decisions waiting for a gate that has not opened are bounded; the first ones are kept', async () => {
    const { handle, version } = await harness.startRelease('dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    const extra = 5;
    const early = Array.from({ length: RELEASE_LIMITS.earlyDecisions + extra }, (_, i) => ({
      approver: `early-${i}`,
      environment: 'prod',
      version,
    }));
    await signalAll(handle, early.slice(0, 1));
    await signalAll(handle, early.slice(1));
    const state = await eventually('the decisions past the bound to be ignored', async () => {
      const current = await handle.query(stateQuery);
      return current.ignoredDecisions?.length === extra && current;
    });
    assert.match(state.ignoredDecisions?.[0]?.why ?? '', /decisions already wait for the next gate/);
    await harness.report(handle, 'test', TEST_TARGETS);
    const promoted = await harness.promotedInto(handle, 'prod');
    assert.equal(promoted.promotions[1]?.approval?.approver, 'early-0');
    await handle.terminate('test done');
  });

  test('an early decision survives continue-as-new while Flux keeps repeating an event', async () => {
    const { handle, version } = await harness.startRelease('dev', PODINFO, undefined, { maxHistoryEvents: 80 });
    await harness.waitForPhase(handle, ReleasePhase.awaitingDeployment);
    const firstRunId = (await handle.describe()).runId;
    await handle.signal(approveSignal, { approver: 'early-bird', environment: 'prod', version });
    // Each repeat adds a few events; the run used to refuse to continue as new while a decision waited.
    await eventually('a new run', async () => {
      await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'dev'));
      return (await handle.describe()).runId !== firstRunId;
    });
    const firstRun = await env.client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory();
    assert.equal(firstRun.events?.at(-1)?.eventType, protos.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    assert.ok((firstRun.events?.length ?? 0) < 80 + 20, `the first run's history has ${firstRun.events?.length} events`);
    // The patched path for test/replay: the run carries its early decision over continue-as-new.
    if (process.env.BATON_RECORD_EARLY_DECISION_HISTORY)
      await writeFile(process.env.BATON_RECORD_EARLY_DECISION_HISTORY, historyToJSON(firstRun));

    await harness.report(handle, 'test', TEST_TARGETS);
    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions[1]?.approval?.approver, 'early-bird');
    assert.equal(harness.notifier.received.length, 2, 'test and prod were each promoted once');
    await handle.terminate('test done');
  });
});
