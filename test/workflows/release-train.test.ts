/**
 * Release trains on the real dev server (the time-skipping server has no Schedules): Baton keeps one
 * Schedule per train in step with the Pipeline, whose departures the server itself computes — the
 * next two weeks of them are compared with the annotation's — and at each departure (triggered here,
 * as the Temporal UI's "Trigger" does, instead of waiting for Tuesday) the highest version waiting
 * is promoted, lower ones are superseded, and approvals given before the departure are kept.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { FailureType } from '../../model/failures.js';
import { approveSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase, type ReleaseState, type TrainBlock } from '../../model/release.js';
import { departuresAfter, parseTrain, trainScheduleId } from '../../model/release-train.js';
import { PromotionBlockedBy } from '../../model/search-attributes.js';
import { startTrainScheduler, syncTrainSchedules } from '../../worker/train-schedules.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';
import { releaseFailure } from '../support/failure.js';

const TRAIN = '0 10 * * TUE,THU Europe/Berlin';
const TRAINED: PipelineRef = { namespace: 'team-a', name: 'trained' };
const BAD_TRAIN: PipelineRef = { namespace: 'team-a', name: 'bad-train' };
const SCHEDULE_ID = trainScheduleId(TRAINED, 'prod');

/** dev → prod, prod behind a manual gate and (if any) a train; queue mode, so lower versions wait rather than yield at once. */
function manifests(train: string | undefined, name = 'trained'): string {
  const annotation = train === undefined ? '' : `promotion.baton.dev/train.prod: '${train}', `;
  return `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
  namespace: team-a
  annotations: {${annotation}promotion.baton.dev/newer-version: queue}
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
}

const trainBlock = (state: ReleaseState): TrainBlock | undefined => (state.blockedBy?.kind === 'train' ? state.blockedBy : undefined);

describe('release trains (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  const taskQueue = `trains-${process.pid}`;

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env, { manifests: manifests(TRAIN), taskQueue });
    // Another file, so that replacing the first leaves it alone.
    await harness.addManifests('bad-train.yaml', manifests('0 10 * * TUESDAY Europe/Berlin', 'bad-train'), (pipelines) =>
      pipelines.listPipelines().some((p) => p.name === 'bad-train'),
    );
  });

  after(async () => {
    await harness?.stop();
    await env?.teardown();
  });

  beforeEach(() => harness.reset());

  const sync = () => syncTrainSchedules(env.client, harness.pipelines.listPipelines(), taskQueue);

  async function trainIs(train: string | undefined): Promise<void> {
    await harness.replaceManifests(
      manifests(train),
      (pipelines) => pipelines.getPipeline(TRAINED)?.annotations?.['promotion.baton.dev/train.prod'] === train,
    );
  }

  test('a Schedule per train departs as the annotation says over the next two weeks, and follows the annotation', async () => {
    assert.deepEqual(await sync(), { created: [SCHEDULE_ID], updated: [], deleted: [] });
    assert.deepEqual(await sync(), { created: [], updated: [], deleted: [] }, 'nothing to do the second time');

    const handle = env.client.schedule.getHandle(SCHEDULE_ID);
    const description = await handle.describe();
    assert.equal(description.action.type, 'startWorkflow');
    assert.equal(description.action.workflowType, 'trainDeparture');
    assert.deepEqual(description.action.args, [{ pipeline: TRAINED, environment: 'prod' }]);
    assert.equal(description.memo?.train, TRAIN);
    const parsed = parseTrain(TRAIN);
    assert.ok(parsed.ok);
    // The server's own departures (Temporal's cron in Europe/Berlin) are croner's, two weeks of them.
    const serverDepartures = description.info.nextActionTimes.slice(0, 4).map((d) => d.getTime());
    assert.deepEqual(serverDepartures, departuresAfter(parsed.train, Date.now(), 4));
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    assert.ok(
      serverDepartures.every((ms) => ['Tue 10:00', 'Thu 10:00'].includes(berlin.format(ms))),
      serverDepartures.map((ms) => berlin.format(ms)).join('; '),
    );

    // Someone paused the train on the Schedules page; an edit of the annotation keeps it paused.
    await handle.pause('release freeze');
    await trainIs('0 9 * * MON UTC');
    assert.deepEqual(await sync(), { created: [], updated: [SCHEDULE_ID], deleted: [] });
    assert.deepEqual(await sync(), { created: [], updated: [], deleted: [] }, 'the update is not made twice');
    const updated = await handle.describe();
    assert.equal(updated.state.paused, true);
    assert.equal(updated.state.note, 'release freeze');
    const monday = updated.info.nextActionTimes[0]!;
    assert.deepEqual([monday.getUTCDay(), monday.getUTCHours()], [1, 9]);

    await trainIs(undefined);
    assert.deepEqual(await sync(), { created: [], updated: [], deleted: [SCHEDULE_ID] });
    await assert.rejects(handle.describe(), ScheduleNotFoundError);

    await trainIs(TRAIN);
    assert.deepEqual(await sync(), { created: [SCHEDULE_ID], updated: [], deleted: [] });
  });

  /** A new version reaches dev and is approved for prod before the train departs: it waits for the train. */
  async function approvedAndWaiting(): Promise<{ handle: ReleaseHandle; version: string; state: ReleaseState }> {
    const { handle, version } = await harness.startRelease('dev', TRAINED, 'api-dev');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'alice@example.com', comment: `${version} is good` });
    const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
    return { handle, version, state };
  }

  /** Until visibility lists the releases waiting for the train, as the departure will look them up. */
  async function waitingInVisibility(count: number): Promise<void> {
    await eventually(`${count} releases waiting for the train in visibility`, async () => {
      const query = `PromotionPipeline = 'team-a/trained' AND PromotionBlockedBy = 'train' AND ExecutionStatus = 'Running'`;
      return (await env.client.workflow.count(query)).count === count;
    });
  }

  test('at each departure the highest version waiting is promoted with its approval, and lower ones are superseded', async () => {
    await sync();
    const schedule = env.client.schedule.getHandle(SCHEDULE_ID);

    const first = await approvedAndWaiting();
    const block = trainBlock(first.state);
    assert.ok(block !== undefined);
    const parsed = parseTrain(TRAIN);
    assert.ok(parsed.ok);
    assert.equal(Date.parse(block.departsAt), departuresAfter(parsed.train, Date.parse(block.since) - 1, 1)[0]);
    assert.match(block.description, /^departs (Tue|Thu) 10:00 Europe\/Berlin$/);
    assert.equal(block.approval?.approver, 'alice@example.com');
    assert.match(
      first.state.currentStep,
      /^Waiting for the prod train: departs .*, approved by alice@example\.com — train: 0 10 \* \* TUE,THU/,
    );
    assert.equal((await first.handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), 'train');

    // A second, higher version is approved before the same departure.
    const second = await approvedAndWaiting();
    await waitingInVisibility(2);
    assert.equal(harness.notifier.received.length, 0, 'nothing departs before the train');

    // First departure: the higher version goes, the lower one is superseded by it.
    await schedule.trigger();
    const promoted = await harness.promotedInto(second.handle, 'prod');
    assert.equal(promoted.departure?.environment, 'prod');
    assert.equal(promoted.promotions.find((p) => p.targetEnvironment === 'prod')?.approval?.approver, 'alice@example.com');
    assert.equal(promoted.pendingGate, undefined, 'the approval given before the departure was kept');
    const superseded = await first.handle.result();
    assert.equal(superseded.phase, ReleasePhase.superseded);
    assert.equal(superseded.supersededBy?.version, second.version);
    assert.deepEqual(
      harness.notifier.received.map((n) => [n.targetEnvironment, n.version]),
      [['prod', second.version]],
    );

    // A third version arrives between departures and waits for the next one.
    const third = await approvedAndWaiting();
    await waitingInVisibility(1);
    assert.equal(harness.notifier.received.length, 1);
    await schedule.trigger();
    await harness.promotedInto(third.handle, 'prod');
    assert.deepEqual(
      harness.notifier.received.map((n) => [n.targetEnvironment, n.version]),
      [
        ['prod', second.version],
        ['prod', third.version],
      ],
    );
    const state = await third.handle.query(stateQuery);
    assert.equal(state.blockedBy, undefined);

    // Flux reports the version the first train took in prod: its journey is done.
    await harness.report(second.handle, 'prod', 'api-prod');
    assert.equal((await second.handle.result()).phase, ReleasePhase.completed);
    // A committed history of a train departure for test/replay.
    if (process.env.BATON_RECORD_TRAIN_HISTORY) {
      await writeFile(process.env.BATON_RECORD_TRAIN_HISTORY, historyToJSON(await second.handle.fetchHistory()));
    }
    await third.handle.terminate('test done');
  });

  test('the worker’s scheduler syncs at start, again when nudged, and stops', async () => {
    await trainIs(undefined);
    const scheduler = startTrainScheduler({
      client: env.client,
      pipelines: () => harness.pipelines.listPipelines(),
      taskQueue,
      log: pino({ level: 'silent' }),
      everyMs: 60 * 60 * 1000,
    });
    try {
      await eventually('the first sync to delete the train', async () => {
        try {
          await env.client.schedule.getHandle(SCHEDULE_ID).describe();
          return false;
        } catch (error) {
          return error instanceof ScheduleNotFoundError;
        }
      });
      await trainIs(TRAIN);
      assert.deepEqual(await scheduler.nudge(), { created: [SCHEDULE_ID], updated: [], deleted: [] });
    } finally {
      await scheduler.stop();
    }
  });

  test('a train that cannot be read fails the release for good, naming the annotation and the problem, and gets no Schedule', async () => {
    const { handle } = await harness.startRelease('dev', BAD_TRAIN, 'api-dev');
    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.invalidPromotionPolicy);
    assert.equal(
      failure.message,
      'Pipeline team-a/bad-train has an invalid promotion policy: annotation promotion.baton.dev/train.prod: ' +
        '"0 10 * * TUESDAY Europe/Berlin": "TUESDAY" in "0 10 * * TUESDAY" is not a number, * or a month or day name: plain cron only (, - / allowed)',
    );
    await sync();
    await assert.rejects(env.client.schedule.getHandle(trainScheduleId(BAD_TRAIN, 'prod')).describe(), ScheduleNotFoundError);
  });
});
