/**
 * Bad versions. The operator's commands are the real CLI (`baton mark-bad`, `unmark-bad`,
 * `controls`, run in-process) against the dev server; Flux's events go through the real gateway
 * (the example Pipelines, signed fixture bodies) to the release worker. A version marked while its
 * release waits at the prod gate ends that release, saying who and why; a later event for it is
 * acknowledged and ignored; once unmarked, an event starts its release again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { defaultConfig } from '../../config/config.js';
import { createBadVersions } from '../../gateway/bad-versions.js';
import { createTemporalPromotionControls } from '../../gateway/promotion-controls.js';
import { createTemporalReleaseStarter } from '../../gateway/release-starter.js';
import { FailureType } from '../../model/failures.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase, releaseWorkflowId } from '../../model/release.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { buildApp } from '../../gateway/app.js';
import {
  countingStarter,
  delivery,
  directorySource,
  EXAMPLE_PIPELINES_DIR,
  PODINFO as PODINFO_ROUTE,
  testConfig,
  unreachableApprover,
} from '../gateway/helpers.js';
import { startDevServer } from '../infra/temporal.js';
import { FIXTURES, variant } from '../support/events.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from './harness.js';
import { pino } from 'pino';
import { baton } from '../support/controls-cli.js';
import { releaseFailure } from '../support/failure.js';

describe('bad versions (dev server, the baton CLI, the gateway)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  let examples: DirectoryPipelineSource;
  let app: FastifyInstance;
  let releases: ReturnType<typeof countingStarter>;
  const cli = (...args: string[]) => baton(env, harness.taskQueue, ...args);
  /** Flux reports `version` in dev, through the gateway. */
  const fluxReports = (version: string) =>
    app.inject(delivery(`${PODINFO_ROUTE}/dev`, variant(FIXTURES.upgradeSucceeded, ['6.7.1', version])));

  before(async () => {
    env = await startDevServer();
    harness = await ReleaseHarness.start(env);
    examples = await directorySource(EXAMPLE_PIPELINES_DIR);
    releases = countingStarter(
      createTemporalReleaseStarter(env.client, {
        taskQueue: harness.taskQueue,
        policy: defaultConfig().releasePolicy,
        namespace: 'default',
        signalTimeoutMs: 10_000,
      }),
    );
    const controls = createTemporalPromotionControls(env.client, { taskQueue: harness.taskQueue });
    app = await buildApp({
      config: testConfig(),
      pipelines: examples,
      releases,
      approvals: unreachableApprover(),
      controls,
      // Read on every event: the test changes the marks between two events.
      badVersions: createBadVersions(controls, { ttlMs: 0 }),
      logger: pino({ level: 'silent' }),
      metrics: { defaultMetrics: false },
    });
  });

  after(async () => {
    await app?.close();
    await examples?.stop();
    await harness?.stop();
    await env?.teardown();
  });

  test('mark-bad ends the release waiting at the prod gate with who and why; later events are ignored; unmark-bad lets it run again', async () => {
    const { handle, version } = await harness.startRelease('test', PODINFO, TEST_TARGETS);
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    const workflowId = releaseWorkflowId(PODINFO, version);
    const firstRun = (await handle.describe()).runId;

    const marked = await cli('mark-bad', 'flux-system/podinfo-02', version, '--reason', 'leaks memory under load');
    assert.equal(marked.code, 0, marked.stderr);
    assert.match(marked.stdout, new RegExp(`^set bad-\\d+ +flux-system/podinfo-02 ${version} marked bad by oncall@example\\.com`, 'm'));
    assert.match(marked.stdout, new RegExp(`ending ${workflowId}`));

    const ended = await harness.waitForPhase(handle, ReleasePhase.markedBad);
    assert.equal(ended.markedBad?.by, 'oncall@example.com');
    assert.equal(ended.markedBad.reason, 'leaks memory under load');
    assert.equal(ended.pendingGate, undefined, 'the gate closed');
    assert.equal(ended.targetEnvironment, 'prod');
    assert.match(ended.currentStep, new RegExp(`^Marked bad by oncall@example\\.com at .*: leaks memory under load — ${version} will not`));
    assert.equal(
      ended.promotions.some((p) => p.targetEnvironment === 'prod'),
      false,
      'nothing was promoted into prod',
    );
    assert.equal((await releaseFailure(handle)).type, FailureType.markedBad);
    assert.ok(
      harness.notifier.announced.some((n) => n.reason === 'MarkedBad' && n.version === version),
      'people were told',
    );

    const listed = await cli('controls');
    assert.match(
      listed.stdout,
      new RegExp(`bad-\\d+ +flux-system/podinfo-02 ${version} marked bad by oncall@example\\.com .*leaks memory`),
    );
    const again = await cli('mark-bad', 'flux-system/podinfo-02', version, '--reason', 'twice');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is already marked bad \(bad-\d+\) by oncall@example\.com/);

    // Flux reports the version again later: acknowledged, nothing starts.
    const calls = releases.calls;
    const ignored = await fluxReports(version);
    assert.equal(ignored.statusCode, 200, ignored.body);
    const body = ignored.json<{ ignored: boolean; reason: string }>();
    assert.equal(body.ignored, true);
    assert.match(
      body.reason,
      new RegExp(`${version} of flux-system/podinfo-02 is marked bad by oncall@example\\.com at .*: leaks memory under load`),
    );
    assert.equal(releases.calls, calls, 'no release was started or signalled');
    assert.equal((await env.client.workflow.getHandle(workflowId).describe()).runId, firstRun, 'the ended run is still the latest');

    const unmarked = await cli('unmark-bad', 'flux-system/podinfo-02', version);
    assert.equal(unmarked.code, 0, unmarked.stderr);
    assert.match(unmarked.stdout, /^lifted bad-\d+/);
    assert.equal((await cli('unmark-bad', 'flux-system/podinfo-02', version)).code, 1, 'nothing left to unmark');

    const accepted = await fluxReports(version);
    assert.equal(accepted.statusCode, 202, accepted.body);
    const rerun = env.client.workflow.getHandle(workflowId);
    const promoted = await harness.promotedInto(rerun, 'test');
    assert.equal(promoted.markedBad, undefined);
    assert.notEqual((await rerun.describe()).runId, firstRun, 'a new run of the version’s release');
    assert.equal((await rerun.query(stateQuery)).version, version);
    await rerun.terminate('test done');
  });

  test('a version marked before its release starts is never promoted: the release ends before promoting', async () => {
    const version = '6.9.1';
    const marked = await cli('mark-bad', 'flux-system/podinfo-02', version, '--reason', 'broken build');
    assert.equal(marked.code, 0, marked.stderr);
    assert.match(marked.stdout, /no release of it runs/);
    // What the gateway would have started had it not known of the mark yet (it fails open).
    const handle = await harness.signalRelease('dev', PODINFO, version);
    const ended = await harness.waitForPhase(handle, ReleasePhase.markedBad);
    assert.match(ended.currentStep, /^Marked bad by oncall@example\.com at .*: broken build/);
    assert.equal(
      harness.notifier.received.some((n) => n.version === version),
      false,
      'nothing was promoted',
    );
    assert.equal((await cli('unmark-bad', 'flux-system/podinfo-02', version)).code, 0);
  });

  test('bad mark-bad commands are usage errors or refused', async () => {
    assert.equal((await cli('mark-bad', 'flux-system/podinfo-02', '6.7.1')).code, 2, 'no reason');
    assert.equal((await cli('mark-bad', 'flux-system/podinfo-02', '--reason', 'x')).code, 2, 'no version');
    assert.equal((await cli('mark-bad', 'podinfo-02', '6.7.1', '--reason', 'x')).code, 2, 'a Pipeline is namespace/name');
    const metadata = await cli('mark-bad', 'flux-system/podinfo-02', '6.7.1+build.5', '--reason', 'x');
    assert.equal(metadata.code, 1);
    assert.match(metadata.stderr, /mark the version without its build metadata: 6\.7\.1/);
  });
});
