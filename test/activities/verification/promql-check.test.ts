/**
 * The `verifyCheck` activity's promql checks against a real Prometheus (test/infra/prometheus.ts),
 * which scrapes a gauge the test sets: a query whose value meets the threshold in every sample
 * passes; one that crosses it fails, saying what it saw; a query that returns no series fails; a
 * query Prometheus refuses (400, its own message) and a Prometheus nobody answers at cannot run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVerificationActivities } from '../../../activities/verification/index.js';
import { FailureType } from '../../../model/failures.js';
import { type CheckRequest, parseThreshold, type PromqlCheck } from '../../../model/verification.js';
import { startPrometheus, TEST_GAUGE, type TestPrometheus } from '../../infra/prometheus.js';
import { applicationFailure } from '../../support/failure.js';
import { freePort } from '../../support/free-port.js';
import { runCheck } from './run-check.js';

describe('promql verification checks against a real Prometheus', () => {
  let prometheus: TestPrometheus;
  const activities = createVerificationActivities({ pipelines: { getSecret: () => Promise.resolve(undefined) } });

  before(async () => {
    prometheus = await startPrometheus();
  });

  after(async () => {
    await prometheus.stop();
  });

  function request(check: Partial<PromqlCheck>): CheckRequest {
    const threshold = parseThreshold('value < 0.01');
    assert.ok(threshold.ok);
    const full: PromqlCheck = {
      name: 'error rate',
      type: 'promql',
      prometheus: prometheus.url,
      query: TEST_GAUGE,
      threshold: threshold.value,
      samples: 2,
      intervalMs: 10,
      ...check,
    };
    return { pipeline: { namespace: 'team-a', name: 'api' }, environment: 'test', version: '6.7.1', check: full, namespaces: ['team-a'] };
  }

  test('every sample below the threshold: it passes, each sample kept with the value seen', async () => {
    await prometheus.setGauge(0.004);
    const result = await runCheck(activities, request({ samples: 3 }));
    assert.equal(result.passed, true);
    assert.equal(result.samples.length, 3);
    for (const sample of result.samples) {
      assert.equal(sample.passed, true);
      assert.match(
        sample.observed,
        /^\{__name__="baton_test_error_ratio", instance="127\.0\.0\.1:\d+", job="baton-test-exporter"\} 0\.004$/,
      );
    }
  });

  test('a value that crosses the threshold fails the check, saying what it saw', async () => {
    await prometheus.setGauge(0.25);
    const result = await runCheck(activities, request({ query: `sum(${TEST_GAUGE})` }));
    assert.equal(result.passed, false);
    assert.equal(result.samples.length, 1, 'no sample after the first that failed');
    assert.equal(result.why, `sum(${TEST_GAUGE}): sample 1 of 2: 0.25, not value < 0.01`);
  });

  test('a query that returns no series fails: no data is no evidence', async () => {
    const result = await runCheck(activities, request({ query: 'baton_no_such_metric' }));
    assert.equal(result.passed, false);
    assert.equal(result.samples[0]?.observed, 'no series: the query returned no data');
  });

  test('a query Prometheus refuses (400) cannot run: a failure for good, with Prometheus’s own message', async () => {
    const failure = await applicationFailure(runCheck(activities, request({ query: 'sum(rate(' })));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.match(failure.message, new RegExp(`^Prometheus at ${prometheus.url}/ refused the query \\(400 bad_data\\): .*parse error`));
  });

  test('a range vector is not a number per series: the check cannot run, saying what to write instead', async () => {
    const failure = await applicationFailure(runCheck(activities, request({ query: `${TEST_GAUGE}[1m]` })));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'the query returns a matrix, not an instant vector or a scalar (e.g. rate(x[5m]), not x[5m])');
  });

  test('a Prometheus nobody answers at cannot run the check: a failure for good, naming it', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const failure = await applicationFailure(runCheck(activities, request({ prometheus: nowhere })));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.match(failure.message, new RegExp(`^Prometheus at ${nowhere}/ cannot be reached: .*ECONNREFUSED`));
  });
});
