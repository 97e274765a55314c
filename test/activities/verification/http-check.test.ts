/**
 * The `verifyCheck` activity's http checks (Temporal's MockActivityEnvironment) against an HTTP server
 * on loopback: status and JSON path, samples and heartbeats, a down service, a redirect elsewhere,
 * BATON_VERIFY_HOSTS, a secretRef's token (sent, never returned) and a retry resuming the samples
 * its previous attempt heartbeated.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { hostAllowlist, VERIFY_HOSTS_VARIABLE } from '../../../activities/http/host-allowlist.js';
import { createVerificationActivities } from '../../../activities/verification/index.js';
import { FailureType } from '../../../model/failures.js';
import type { CheckRequest, CheckResult, HttpCheck, VerificationCheck } from '../../../model/verification.js';
import { freePort } from '../../support/free-port.js';
import { applicationFailure } from '../../support/failure.js';
import { runCheck } from './run-check.js';

const TOKEN = 'verify-token-d41d8cd98f00b204';

describe('http verification checks against a loopback server', () => {
  let server: Server;
  let base: string;
  /** What the server answers next: a status and a JSON body. */
  let answer: { status: number; body: unknown; location?: string } = { status: 200, body: { status: 'ok' } };
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    server = createServer((request, response) => {
      requests.push({ url: request.url ?? '', headers: request.headers });
      response.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.location ? { location: answer.location } : {}) });
      response.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    requests.length = 0;
    answer = { status: 200, body: { status: 'ok', checks: [{ ready: true }] } };
  });

  const activities = createVerificationActivities({
    pipelines: {
      getSecret: (namespace, name) =>
        Promise.resolve(namespace === 'team-a' && name === 'api-token' ? { token: Buffer.from(`${TOKEN}\n`) } : undefined),
    },
  });

  /** Runs the activity in `env` (a fresh one by default). */
  const verify = (checkRequest: CheckRequest, env?: MockActivityEnvironment): Promise<CheckResult> =>
    runCheck(activities, checkRequest, env);

  function request(check: Partial<HttpCheck>): CheckRequest {
    const full: VerificationCheck = {
      name: 'healthz',
      type: 'http',
      url: `${base}/healthz`,
      status: 200,
      samples: 1,
      intervalMs: 10,
      ...check,
    };
    return { pipeline: { namespace: 'team-a', name: 'api' }, environment: 'test', version: '6.7.1', check: full, namespaces: ['team-a'] };
  }

  test('every sample has the status and the value at the JSON path: it passes, heartbeating as it goes', async () => {
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    const result = await verify(request({ samples: 3, jsonPath: '$.checks[0].ready', equals: true }), env);
    assert.equal(result.passed, true);
    assert.deepEqual(
      result.samples.map((s) => [s.passed, s.observed]),
      Array(3).fill([true, 'status 200, $.checks[0].ready = true']),
    );
    assert.equal(requests.length, 3);
    assert.ok(heartbeats >= 3, `heartbeated ${heartbeats} times`);
  });

  test('another status fails the sample, and the check stops there', async () => {
    answer = { status: 503, body: { status: 'starting' } };
    const result = await verify(request({ samples: 3 }));
    assert.equal(result.passed, false);
    assert.equal(requests.length, 1, 'no sample after the first that failed');
    assert.equal(result.why, `GET ${base}/healthz: sample 1 of 3: status 503, expected 200`);
  });

  test('another value at the JSON path fails, quoting what was there', async () => {
    answer = { status: 200, body: { status: 'degraded' } };
    const result = await verify(request({ jsonPath: '$.status', equals: 'ok' }));
    assert.equal(result.passed, false);
    assert.equal(result.samples[0]?.observed, 'status 200, $.status = "degraded", expected "ok"');
  });

  test('a service that does not answer fails the check (it is what the check verifies)', async () => {
    const down = `http://127.0.0.1:${await freePort()}/healthz`;
    const result = await verify(request({ url: down }));
    assert.equal(result.passed, false);
    assert.match(result.why ?? '', /^GET http:\/\/127\.0\.0\.1:\d+\/healthz: sample 1 of 1: no answer: .*ECONNREFUSED/);
  });

  test('a redirect to another origin is not followed', async () => {
    answer = { status: 302, body: {}, location: 'http://169.254.169.254/latest/meta-data/' };
    const result = await verify(request({}));
    assert.equal(result.passed, false);
    assert.match(
      result.samples[0]?.observed ?? '',
      /answered 302 redirecting to http:\/\/169\.254\.169\.254\/latest\/meta-data\/, which is not followed/,
    );
    assert.equal(requests.length, 1);
  });

  test('a host BATON_VERIFY_HOSTS does not allow is refused for good, before any request', async () => {
    const guarded = createVerificationActivities({
      pipelines: { getSecret: () => Promise.resolve(undefined) },
      allowedHosts: hostAllowlist(['*.example.com'], VERIFY_HOSTS_VARIABLE),
    });
    const failure = await applicationFailure(runCheck(guarded, request({})));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.match(
      failure.message,
      /^the url http:\/\/127\.0\.0\.1:\d+\/healthz names the host 127\.0\.0\.1, which BATON_VERIFY_HOSTS does not allow \(\*\.example\.com\)/,
    );
    assert.equal(requests.length, 0);
  });

  test("a secretRef's token is sent as a bearer token and appears nowhere in the result", async () => {
    answer = { status: 401, body: { error: `bad token ${TOKEN}` } };
    const result = await verify(request({ secretRef: { name: 'api-token', key: 'token' } }));
    assert.equal(requests[0]?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(result.passed, false);
    assert.ok(!JSON.stringify(result).includes(TOKEN), 'the token is in no sample or reason');
  });

  test('a secretRef naming a Secret that does not exist: the check cannot run', async () => {
    const failure = await applicationFailure(verify(request({ secretRef: { name: 'missing', key: 'token' } })));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'the Secret team-a/missing of its secretRef does not exist');
  });

  test('a retry resumes from the samples its previous attempt heartbeated', async () => {
    const earlier = { at: '2026-12-02T10:00:00.000Z', passed: true, observed: 'status 200' };
    const env = new MockActivityEnvironment({ heartbeatDetails: { samples: [earlier] } });
    const result = await verify(request({ samples: 2 }), env);
    assert.equal(result.passed, true);
    assert.deepEqual(result.samples[0], earlier);
    assert.equal(requests.length, 1, 'only the sample still to take');
  });

  test('a check of a type the worker does not know cannot run', async () => {
    const unknown = { ...request({}), check: { name: 'x', type: 'grpc' } as unknown as VerificationCheck };
    const failure = await applicationFailure(verify(unknown));
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'unknown check type "grpc"');
  });
});
