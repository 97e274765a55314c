/**
 * Change windows on the real time-skipping server: a promotion due outside its window waits on a
 * timer for the window's wall-clock opening (over Europe/Berlin's clock changes too), an approval
 * given outside it is kept, news still wakes the release, and a window that cannot be read fails the
 * release instead of meaning "no window". The server's clock is moved to the Friday a test needs
 * with `env.sleep`: unlike awaiting a result, it stops skipping at that instant, before the timers
 * of the releases waiting meanwhile (their idle timeouts, say) are reached.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { FailureType } from '../../model/failures.js';
import { approveSignal, deployedSignal } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase, type ReleaseState, type WindowBlock } from '../../model/release.js';
import { PromotionBlockedBy } from '../../model/search-attributes.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';
import { releaseFailure } from '../support/failure.js';

const BERLIN = 'Europe/Berlin';
const WINDOW = 'Mon-Fri 09:00-16:00 Europe/Berlin';
const WINDOWED: PipelineRef = { namespace: 'team-a', name: 'windowed' };
const WINDOWED_GATE: PipelineRef = { namespace: 'team-a', name: 'windowed-gate' };
const BAD_WINDOW: PipelineRef = { namespace: 'team-a', name: 'bad-window' };
const WINDOWED_SUPERSEDE: PipelineRef = { namespace: 'team-a', name: 'windowed-supersede' };
const LATE_WINDOW: PipelineRef = { namespace: 'team-a', name: 'late-window' };

/** dev → prod, prod behind a window (if any) and a manual gate (if `manual`). */
function pipeline(name: string, window: string | undefined, manual: boolean, newerVersion = 'queue'): string {
  const windowAnnotation = window === undefined ? '' : `promotion.baton.dev/window.prod: '${window}', `;
  return `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
  namespace: team-a
  annotations: {${windowAnnotation}promotion.baton.dev/newer-version: ${newerVersion}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    manual: ${manual}
    strategy: {notification: {}}
`;
}

/** The test Pipelines; late-window gets its window only when a test sets it. */
function manifests(lateWindow?: string): string {
  return [
    pipeline('windowed', WINDOW, false),
    pipeline('windowed-gate', WINDOW, true),
    pipeline('bad-window', 'Mon-Fri 09:00-17:00 Europe/Berln', false),
    pipeline('windowed-supersede', WINDOW, false, 'supersede'),
    pipeline('late-window', lateWindow, true),
  ].join('---');
}

/** The first `weekday` (1 = Monday) at `hour`:00 Berlin time after `ms`. */
function nextBerlin(ms: number, weekday: number, hour: number): DateTime {
  let day = DateTime.fromMillis(ms, { zone: BERLIN }).startOf('day');
  for (;;) {
    const candidate = day.set({ hour });
    if (candidate.weekday === weekday && candidate.toMillis() > ms) return candidate;
    day = day.plus({ days: 1 });
  }
}

/** The Friday 17:00 before the first clock change in `month` (the last Sunday) after `ms`. */
function fridayBeforeClockChange(ms: number, month: 3 | 10): DateTime {
  for (let year = DateTime.fromMillis(ms, { zone: BERLIN }).year; ; year += 1) {
    let sunday = DateTime.fromObject({ year, month, day: 31 }, { zone: BERLIN });
    while (sunday.weekday !== 7) sunday = sunday.minus({ days: 1 });
    const friday = sunday.minus({ days: 2 }).set({ hour: 17 });
    if (friday.toMillis() > ms) return friday;
  }
}

const iso = (at: DateTime): string => at.toUTC().toISO()!;

/** The change window's hold on a release, if that is what holds it. */
const windowBlock = (state: ReleaseState): WindowBlock | undefined => (state.blockedBy?.kind === 'window' ? state.blockedBy : undefined);

describe('change windows (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, { manifests: manifests() });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => harness.reset());

  /** Moves the server's clock forward to `at`. */
  async function advanceTo(at: DateTime): Promise<void> {
    const now = await env.currentTimeMs();
    if (at.toMillis() > now) await env.sleep(at.toMillis() - now);
  }

  /** Moves the server to `friday` 17:00 and lets Flux report a new version in dev: prod is due, outside its window. */
  async function dueOnFriday(friday: DateTime, ref: PipelineRef): Promise<{ handle: ReleaseHandle; version: string }> {
    await advanceTo(friday);
    return harness.startRelease('dev', ref, 'api-dev');
  }

  /** Moves the server to a minute after `opening` and returns the release once it promoted into prod. */
  async function promotedAfter(handle: ReleaseHandle, opening: DateTime) {
    await advanceTo(opening.plus({ minutes: 1 }));
    const state = await harness.promotedInto(handle, 'prod');
    const startedAt = Date.parse(state.promotions[0]!.startedAt);
    assert.ok(startedAt >= opening.toMillis(), `promoted at ${state.promotions[0]!.startedAt}, not before ${iso(opening)}`);
    assert.ok(startedAt < opening.set({ hour: 16 }).toMillis(), 'promoted inside the window');
    assert.equal(state.blockedBy, undefined);
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), undefined);
    assert.equal(harness.notifier.received.length, 1);
    return state;
  }

  test('a promotion due Friday 17:00 Europe/Berlin waits for Monday 09:00, saying so in its state, details and search attributes', async () => {
    const friday = nextBerlin(await env.currentTimeMs(), 5, 17);
    const { handle, version } = await dueOnFriday(friday, WINDOWED);
    const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
    const monday = friday.plus({ days: 3 }).set({ hour: 9 });
    assert.deepEqual(state.blockedBy, {
      kind: 'window',
      environment: 'prod',
      policy: WINDOW,
      since: state.blockedBy?.since,
      opensAt: iso(monday),
      description: 'opens Mon 09:00 Europe/Berlin',
    });
    assert.ok(Date.parse(state.blockedBy.since) >= friday.toMillis());
    assert.equal(
      state.currentStep,
      `Waiting for the prod window: opens Mon 09:00 Europe/Berlin (${iso(monday)}), to promote api ${version} — window: ${WINDOW}`,
    );
    assert.equal((await handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), 'window');
    assert.equal(harness.notifier.received.length, 0, 'nothing promoted outside the window');

    await promotedAfter(handle, monday);
    await handle.terminate('test done');
  });

  for (const [month, name, hours] of [
    [3, 'March', 63],
    [10, 'October', 65],
  ] as const) {
    test(`over the ${name} clock change, Monday 09:00 Europe/Berlin is ${hours} hours after Friday 17:00`, async () => {
      const friday = fridayBeforeClockChange(await env.currentTimeMs(), month);
      const { handle } = await dueOnFriday(friday, WINDOWED);
      const state = await harness.waitForPhase(handle, ReleasePhase.blocked);
      const monday = friday.plus({ days: 3 }).set({ hour: 9 });
      assert.equal(windowBlock(state)?.opensAt, iso(monday));
      assert.equal(windowBlock(state)?.opensAt, iso(friday.plus({ hours })), 'the clocks changed over the weekend');
      await promotedAfter(handle, monday);
      await handle.terminate('test done');
    });
  }

  test('an approval given outside the window is kept, and the promotion happens when the window opens', async () => {
    const friday = nextBerlin(await env.currentTimeMs(), 5, 17);
    const { handle } = await dueOnFriday(friday, WINDOWED_GATE);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await handle.signal(approveSignal, { approver: 'alice@example.com', comment: 'ship it on Monday' });
    const blocked = await harness.waitForPhase(handle, ReleasePhase.blocked);
    assert.equal(blocked.pendingGate, undefined);
    assert.equal(windowBlock(blocked)?.approval?.approver, 'alice@example.com');
    assert.match(blocked.currentStep, /^Waiting for the prod window: opens Mon 09:00 Europe\/Berlin .*, approved by alice@example\.com — /);

    const promoted = await promotedAfter(handle, friday.plus({ days: 3 }).set({ hour: 9 }));
    assert.equal(promoted.promotions[0]?.approval?.approver, 'alice@example.com');
    assert.equal(promoted.pendingGate, undefined, 'no second approval asked for');

    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'prod', 'api-prod'));
    assert.equal((await handle.result()).phase, ReleasePhase.completed);
    // A committed history of a window wait for test/replay.
    if (process.env.BATON_RECORD_WINDOW_HISTORY) {
      await writeFile(process.env.BATON_RECORD_WINDOW_HISTORY, historyToJSON(await handle.fetchHistory()));
    }
  });

  test('a window set while the approval waits holds the promotion it approves', async () => {
    const friday = nextBerlin(await env.currentTimeMs(), 5, 17);
    const { handle } = await dueOnFriday(friday, LATE_WINDOW);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    await harness.replaceManifests(
      manifests(WINDOW),
      (pipelines) => pipelines.getPipeline(LATE_WINDOW)?.annotations?.['promotion.baton.dev/window.prod'] === WINDOW,
    );
    await handle.signal(approveSignal, { approver: 'alice@example.com' });
    const blocked = await harness.waitForPhase(handle, ReleasePhase.blocked);
    assert.equal(windowBlock(blocked)?.opensAt, iso(friday.plus({ days: 3 }).set({ hour: 9 })));
    assert.equal(harness.notifier.received.length, 0);
    await handle.terminate('test done');
  });

  test('Flux reporting the version in prod while it waits for the window ends the wait', async () => {
    const friday = nextBerlin(await env.currentTimeMs(), 5, 17);
    const { handle } = await dueOnFriday(friday, WINDOWED);
    await harness.waitForPhase(handle, ReleasePhase.blocked);
    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'prod', 'api-prod'));
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.equal(result.blockedBy, undefined);
    assert.equal(harness.notifier.received.length, 0);
  });

  test('a higher version waiting for the same window supersedes a lower one waiting there', async () => {
    const friday = nextBerlin(await env.currentTimeMs(), 5, 17);
    const lower = await dueOnFriday(friday, WINDOWED_SUPERSEDE);
    await harness.waitForPhase(lower.handle, ReleasePhase.blocked);
    const higher = await harness.startRelease('dev', WINDOWED_SUPERSEDE, 'api-dev');
    await harness.waitForPhase(higher.handle, ReleasePhase.blocked);
    const result = await lower.handle.result();
    assert.equal(result.phase, ReleasePhase.superseded);
    assert.equal(result.supersededBy?.version, higher.version);
    assert.deepEqual(result.promotions, [], 'superseded while it waited, not after promoting when the window opened');
    assert.equal(result.blockedBy, undefined);
    assert.equal((await lower.handle.describe()).typedSearchAttributes.get(PromotionBlockedBy), undefined);
    await higher.handle.terminate('test done');
  });

  test('a window that cannot be read fails the release for good, naming the annotation and the problem', async () => {
    const { handle } = await harness.startRelease('dev', BAD_WINDOW, 'api-dev');
    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.invalidPromotionPolicy);
    assert.equal(failure.nonRetryable, true);
    const expected =
      'Pipeline team-a/bad-window has an invalid promotion policy: annotation promotion.baton.dev/window.prod: ' +
      '"Mon-Fri 09:00-17:00 Europe/Berln": "Europe/Berln" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)';
    assert.equal(failure.message, expected);
    assert.equal(harness.notifier.received.length, 0);
  });
});
