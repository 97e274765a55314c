/**
 * Verification after deploy on the real time-skipping server, the checks' verdicts decided by a
 * stand-in `verifyCheck` activity (the real checks are tested against real servers in
 * test/activities/verification/): an environment's checks run in order once it is reached and the
 * version moves on only when all passed, the last environment's before the release completes; a
 * failed check, or one that cannot run, stops the release as VerificationFailed with nothing more
 * promoted and people told; a verify annotation that cannot be read fails the release for good.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FailureType } from '../../model/failures.js';
import { stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase } from '../../model/release.js';
import { ReleaseNoticeReason } from '../../model/release-notice.js';
import type { CheckRequest, CheckResult } from '../../model/verification.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { releaseFailure } from '../support/failure.js';
import { ReleaseHarness } from './harness.js';

const VERIFIED: PipelineRef = { namespace: 'team-a', name: 'verified' };
const BAD_VERIFY: PipelineRef = { namespace: 'team-a', name: 'bad-verify' };

const TEST_CHECKS = `
- {name: healthz, type: http, url: 'http://api.api-test:8080/healthz', samples: 2, interval: 10s}
- {name: error rate, type: promql, prometheus: 'http://prometheus.monitoring:9090', query: 'sum(rate(errors[5m]))', threshold: 'value < 0.01', for: 1m, interval: 30s}
`;
const PROD_CHECKS = `
- {name: api ready, type: kubernetes, resource: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, namespace: api-prod, name: api}, reportsVersion: true}
`;

/** dev → test → prod, by notification; test and prod verified as `checks` says. */
function pipeline(name: string, checks: { test: string; prod?: string }): string {
  const indent = (text: string) => text.trim().replace(/^/gm, '      ');
  return `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
  namespace: team-a
  annotations:
    promotion.baton.dev/verify.test: |
${indent(checks.test)}
${checks.prod === undefined ? '' : `    promotion.baton.dev/verify.prod: |\n${indent(checks.prod)}`}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: api}
  environments:
    - name: dev
      targets: [{namespace: api-dev}]
    - name: test
      targets: [{namespace: api-test}]
    - name: prod
      targets: [{namespace: api-prod}]
  promotion:
    strategy: {notification: {}}
`;
}

const sample = (passed: boolean, observed: string) => ({ at: '2026-12-02T10:00:00.000Z', passed, observed });

describe('verification after deploy (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  /** Every check the stand-in was asked to run, in order. */
  const asked: CheckRequest[] = [];
  /** The verdict per check name; absent: passed. */
  const verdicts = new Map<string, CheckResult | Error>();
  /** While set, the check of that name waits (heartbeating) until it is released. */
  let held: { name: string; release: () => void; released: Promise<void> } | undefined;

  async function verifyCheck(request: CheckRequest): Promise<CheckResult> {
    asked.push(request);
    if (held?.name === request.check.name) {
      const { released } = held;
      let done = false;
      void released.then(() => (done = true));
      while (!done) {
        Context.current().heartbeat();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const verdict = verdicts.get(request.check.name);
    if (verdict instanceof Error) throw verdict;
    return verdict ?? { passed: true, samples: [sample(true, 'status 200')] };
  }

  before(async () => {
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, {
      manifests: [
        pipeline('verified', { test: TEST_CHECKS, prod: PROD_CHECKS }),
        pipeline('bad-verify', { test: '- {name: smoke, type: grpc, url: "http://api"}' }),
      ].join('---'),
      taskQueue: `verify-${process.pid}`,
      activities: { verifyCheck },
    });
  });

  after(async () => {
    await harness.stop();
    await env.teardown();
  });

  beforeEach(() => {
    harness.reset();
    asked.length = 0;
    verdicts.clear();
    held = undefined;
  });

  test('each environment’s checks run in order once it is reached; the version moves on, and completes, only once they passed', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    held = { name: 'error rate', release, released };
    const { handle, version } = await harness.startRelease('dev', VERIFIED, 'api-dev');
    await harness.promotedInto(handle, 'test');
    await harness.report(handle, 'test', 'api-test');

    const verifying = await harness.waitForPhase(handle, ReleasePhase.verifying);
    await eventually('the second check to run', () => asked.length === 2);
    const during = await handle.query(stateQuery);
    assert.equal(
      during.currentStep,
      `Verifying ${version} in test: check 2 of 2, error rate (promql); then api ${version} moves on to prod`,
    );
    assert.equal(verifying.targetEnvironment, 'prod');
    assert.deepEqual(
      during.verifications?.map((v) => [v.environment, v.verdict, v.checks.map((c) => `${c.name}:${c.status}`)]),
      [['test', 'running', ['healthz:passed', 'error rate:running']]],
    );
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test'],
      'nothing promoted into prod while test is verified',
    );
    release();

    await harness.promotedInto(handle, 'prod');
    await harness.report(handle, 'prod', 'api-prod');
    const result = await handle.result();
    assert.equal(result.phase, ReleasePhase.completed);
    assert.deepEqual(
      asked.map((r) => [r.environment, r.check.name, r.version]),
      [
        ['test', 'healthz', version],
        ['test', 'error rate', version],
        ['prod', 'api ready', version],
      ],
    );
    assert.deepEqual(
      asked[2]?.namespaces,
      ['team-a', 'api-dev', 'api-test', 'api-prod'],
      'a kubernetes check may read the Pipeline’s and its targets’ namespaces',
    );
    assert.deepEqual(
      result.verifications?.map((v) => [v.environment, v.verdict, v.checks.map((c) => [c.name, c.status, c.samples.length])]),
      [
        [
          'test',
          'passed',
          [
            ['healthz', 'passed', 1],
            ['error rate', 'passed', 1],
          ],
        ],
        ['prod', 'passed', [['api ready', 'passed', 1]]],
      ],
    );
    if (process.env.BATON_RECORD_VERIFY_HISTORY) {
      await writeFile(process.env.BATON_RECORD_VERIFY_HISTORY, historyToJSON(await handle.fetchHistory()));
    }
  });

  test('a failed check stops the release as VerificationFailed: nothing more promoted, its samples kept, people told', async () => {
    const why = 'sum(rate(errors[5m])): sample 2 of 3: 0.5, not value < 0.01';
    verdicts.set('error rate', { passed: false, samples: [sample(true, '0.001'), sample(false, '0.5, not value < 0.01')], why });
    const { handle, version } = await harness.startRelease('dev', VERIFIED, 'api-dev');
    await harness.promotedInto(handle, 'test');
    await harness.report(handle, 'test', 'api-test');

    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, `verification failed: error rate: ${why}`);
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.verificationFailed);
    assert.equal(
      state.currentStep,
      `Verification of ${version} in test failed, nothing more is promoted: verification failed: error rate: ${why}`,
    );
    assert.equal(state.lastError, failure.message);
    const [verification] = state.verifications ?? [];
    assert.equal(verification?.verdict, 'failed');
    assert.deepEqual(
      verification?.checks.map((c) => [c.name, c.status, c.samples.map((s) => s.passed), c.why]),
      [
        ['healthz', 'passed', [true], undefined],
        ['error rate', 'failed', [true, false], why],
      ],
    );
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test'],
      'never promoted into prod',
    );
    const told = harness.notifier.noticesOf(handle.workflowId).at(-1);
    assert.deepEqual([told?.reason, told?.environment, told?.summary], [ReleaseNoticeReason.verificationFailed, 'test', state.currentStep]);
  });

  test('a check that cannot run (Prometheus unreachable) stops the release at once, naming the check', async () => {
    const cannot = 'Prometheus at http://prometheus.monitoring:9090 cannot be reached: connect ECONNREFUSED 10.0.0.9:9090';
    verdicts.set('error rate', ApplicationFailure.create({ message: cannot, type: FailureType.verificationFailed, nonRetryable: true }));
    const { handle } = await harness.startRelease('dev', VERIFIED, 'api-dev');
    await harness.promotedInto(handle, 'test');
    await harness.report(handle, 'test', 'api-test');

    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.equal(failure.message, `verification failed: error rate: ${cannot}`);
    assert.equal(asked.filter((r) => r.check.name === 'error rate').length, 1, 'not retried');
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.verificationFailed);
    assert.deepEqual(
      harness.notifier.received.map((n) => n.targetEnvironment),
      ['test'],
    );
  });

  test('a verify annotation that cannot be read fails the release for good, naming the annotation and the problem', async () => {
    const { handle } = await harness.startRelease('dev', BAD_VERIFY, 'api-dev');
    const failure = await releaseFailure(handle);
    assert.equal(failure.type, FailureType.invalidPromotionPolicy);
    assert.equal(failure.nonRetryable, true);
    assert.equal(
      failure.message,
      'Pipeline team-a/bad-verify has an invalid promotion policy: annotation promotion.baton.dev/verify.test: ' +
        '"- {name: smoke, type: grpc, url: "http://api"}": check 1 (smoke): unknown check type "grpc" (http, promql, kubernetes)',
    );
    assert.deepEqual(harness.notifier.received, [], 'nothing promoted');
    assert.deepEqual(asked, []);
  });
});
