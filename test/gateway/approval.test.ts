/**
 * The approval endpoint, `POST /approval/{ns}/{name}/{targetEnv}/{revision}`, against a real
 * Temporal dev server and a real release worker: releases of the example podinfo-02 Pipeline wait
 * for approval into prod, and the gateway (through `inject()`) approves them with the `approve`
 * Update. Every answer of the endpoint, replayed and stale signatures by the example's prod approval
 * key, the webhook key refused, and Weave's legacy signature. Bearer tokens: approval-oidc.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client, Connection, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createTemporalReleaseApprover } from '../../gateway/release-approver.js';
import { GATEWAY_GRPC_RETRY } from '../../gateway/temporal-calls.js';
import { APPROVAL_FAILED_MESSAGE, LEGACY_APPROVER } from '../../gateway/routes/approval.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import { approvalPath, legacyApproval, signedApproval } from '../support/approvals.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from '../workflows/harness.js';
import {
  delivery,
  directorySource,
  EXAMPLE_PIPELINES_DIR,
  manifestDirectory,
  metricValue,
  podinfoVariant,
  PODINFO as PODINFO_WEBHOOK,
  testApp,
  unreachableApprover,
  unreachableStarter,
  webhookSecret,
} from './helpers.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { APPROVAL_KEY, HMAC_KEY } from '../support/signing.js';
import { TEST_DECISION_KEY } from '../support/decision-key.js';

const UI = 'http://localhost:8233/namespaces/default/workflows';

let env: TestWorkflowEnvironment;
let harness: ReleaseHarness;
let pipelines: DirectoryPipelineSource;
let app: FastifyInstance;
let legacyApp: FastifyInstance;
/** podinfo-02 whose approval Secret has only a Pipeline-wide `approval-key`: it approves any environment. */
let anyEnvApp: FastifyInstance;
let anyEnvPipelines: DirectoryPipelineSource;
let anyEnvManifests: { remove: () => Promise<void> };
const ANY_ENV_KEY = 'approval-key-for-every-environment';

const now = (): number => Math.floor(Date.now() / 1000);
const approve = (path: string, body: object | string, options: { timestamp?: number; key?: string } = {}): InjectOptions =>
  signedApproval(path, body, {
    key: options.key ?? APPROVAL_KEY,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
  });

const approveAnyEnv = (path: string, body: object): InjectOptions => signedApproval(path, body, { key: ANY_ENV_KEY });

/** A release of podinfo-02 reported in test: it waits for approval into prod. */
async function waitingRelease(): Promise<{ handle: Awaited<ReturnType<ReleaseHarness['startRelease']>>['handle']; version: string }> {
  const started = await harness.startRelease('test', PODINFO, TEST_TARGETS);
  await harness.waitForPhase(started.handle, ReleasePhase.awaitingApproval);
  return started;
}

function assertRefused(response: { statusCode: number; body: string; json: () => unknown }, reason: RegExp): void {
  assert.equal(response.statusCode, 422, response.body);
  const body = response.json() as { message: string; reason: string };
  assert.equal(body.message, APPROVAL_FAILED_MESSAGE);
  assert.match(body.reason, reason);
}

before(async () => {
  env = await startDevServer();
  // The example's prod gate leaves Weave's legacy signature out of its channels; these tests let it in.
  harness = await ReleaseHarness.start(env, {
    exampleAnnotations: { 'promotion.baton.dev/approval-channels.prod': 'temporal, oidc, approval-key, legacy-signature' },
  });
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  const approvals = createTemporalReleaseApprover(env.client, { timeoutMs: 10_000, decisionKey: TEST_DECISION_KEY });
  app = await testApp({ pipelines, releases: unreachableStarter(), approvals });
  legacyApp = await testApp({ pipelines, releases: unreachableStarter(), approvals, config: { legacyApprovalSignature: true } });
  const manifests = await manifestDirectory({
    'pipeline.yaml': [podinfoVariant('podinfo-02', () => undefined)],
    'secrets.yaml': [
      webhookSecret('podinfo-02-webhook', { 'hmac-key': HMAC_KEY }),
      webhookSecret('podinfo-02-approval', { 'approval-key': ANY_ENV_KEY }),
    ],
  });
  anyEnvManifests = manifests;
  anyEnvPipelines = await directorySource(manifests.path);
  anyEnvApp = await testApp({ pipelines: anyEnvPipelines, releases: unreachableStarter(), approvals });
});

after(async () => {
  await app?.close();
  await legacyApp?.close();
  await anyEnvApp?.close();
  await anyEnvPipelines?.stop();
  await anyEnvManifests?.remove();
  await pipelines?.stop();
  await harness?.stop();
  await env?.teardown();
});

beforeEach(() => harness.reset());

describe('routing and authentication (nothing reaches Temporal)', () => {
  const path = approvalPath(PODINFO, 'prod', '6.7.1');

  test('405 with Allow: POST for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'] as const) {
      const response = await app.inject({ method, url: path, ...(method === 'PUT' ? { payload: { approver: 'a' } } : {}) });
      assert.equal(response.statusCode, 405, `${method}: ${response.body}`);
      assert.equal(response.headers.allow, 'POST');
    }
  });

  test('404 for a wrong number of segments, and for an unknown Pipeline', async () => {
    for (const url of ['/approval/flux-system/podinfo-02/prod', '/approval/flux-system/podinfo-02/prod/6.7.1/extra', '/approval/']) {
      const response = await app.inject(approve(url, { approver: 'alice' }));
      assert.equal(response.statusCode, 404, `${url}: ${response.body}`);
    }
    const unknown = await app.inject(
      approve(approvalPath({ namespace: 'flux-system', name: 'nope' }, 'prod', '1.0.0'), { approver: 'alice' }),
    );
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json<{ message: string }>().message, 'Pipeline flux-system/nope not found');
  });

  test('401 for a missing or wrong signature, a signature of another path, body or key', async () => {
    const noTimestamp = approve(path, { approver: 'alice' });
    delete (noTimestamp.headers as Record<string, string>)['x-baton-timestamp'];
    const cases: [string, InjectOptions, RegExp][] = [
      [
        'no signature',
        { ...approve(path, { approver: 'alice' }), headers: { 'content-type': 'application/json', 'x-baton-timestamp': String(now()) } },
        /missing credentials/,
      ],
      // The key every leaf cluster's Flux Provider holds never approves, however well it signs.
      ['the webhook hmac-key', approve(path, { approver: 'alice' }, { key: HMAC_KEY }), /signature verification failed/],
      ['no timestamp', noTimestamp, /missing X-Baton-Timestamp/],
      ['wrong key', approve(path, { approver: 'alice' }, { key: 'not-the-key' }), /signature verification failed/],
      [
        'another revision',
        { ...approve(approvalPath(PODINFO, 'prod', '6.7.2'), { approver: 'alice' }), url: path },
        /signature verification failed/,
      ],
      [
        'another environment',
        { ...approve(approvalPath(PODINFO, 'test', '6.7.1'), { approver: 'alice' }), url: path },
        /signature verification failed/,
      ],
    ];
    // Another approver than the one signed for: the body is covered too.
    const signed = approve(path, { approver: 'alice' });
    cases.push(['another approver', { ...signed, payload: JSON.stringify({ approver: 'mallory' }) }, /signature verification failed/]);
    cases.push([
      'a timestamp that is not unix seconds',
      { ...signed, headers: { ...signed.headers, 'x-baton-timestamp': 'yesterday' } },
      /unix time in seconds/,
    ]);
    for (const [name, request, message] of cases) {
      const response = await app.inject(request);
      assert.equal(response.statusCode, 401, `${name}: ${response.body}`);
      assert.match(response.json<{ message: string }>().message, message, name);
    }
  });

  test('401 for a timestamp outside the 5-minute window, either way', async () => {
    for (const timestamp of [now() - 6 * 60, now() + 6 * 60]) {
      const response = await app.inject(approve(path, { approver: 'alice' }, { timestamp }));
      assert.equal(response.statusCode, 401, response.body);
      assert.match(response.json<{ message: string }>().message, /more than 5 minutes away from the gateway's clock/);
    }
  });

  test('400 for a body that is not {approver, comment?}', async () => {
    for (const body of [
      'not json',
      {},
      { approver: '' },
      { approver: '   ' },
      { approver: 42 },
      { approver: 'alice', comment: 7 },
      { approver: 'alice', extra: true },
      [],
    ]) {
      const response = await app.inject(approve(path, body));
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
    }
  });

  test('Weave’s legacy signature (HMAC over an empty body) is refused unless the option is on', async () => {
    const response = await app.inject(legacyApproval(path, HMAC_KEY));
    assert.equal(response.statusCode, 401, response.body);
    assert.match(response.json<{ message: string }>().message, /missing X-Baton-Timestamp/);
    const wrongKey = await legacyApp.inject(legacyApproval(path, 'not-the-key'));
    assert.equal(wrongKey.statusCode, 401, wrongKey.body);
    // The flag lets the webhook key sign Weave's way only: a timestamped signature by it still fails.
    const timestamped = await legacyApp.inject(approve(path, { approver: 'alice' }, { key: HMAC_KEY }));
    assert.equal(timestamped.statusCode, 401, timestamped.body);
  });

  test('/approval and /promotion draw from the same per-client rate-limit bucket', async () => {
    const limited = await testApp({
      pipelines,
      releases: unreachableStarter(),
      approvals: unreachableApprover(),
      config: { rateLimit: { max: 2, windowMs: 60_000 } },
    });
    try {
      const unsignedEvent = { ...delivery(`${PODINFO_WEBHOOK}/dev`, fixtureBody(FIXTURES.upgradeSucceeded), { key: 'wrong' }) };
      assert.equal((await limited.inject(unsignedEvent)).statusCode, 401);
      assert.equal((await limited.inject(approve(path, { approver: 'a' }, { key: 'wrong' }))).statusCode, 401);
      const third = await limited.inject(approve(path, { approver: 'a' }, { key: 'wrong' }));
      assert.equal(third.statusCode, 429, third.body);
      assert.ok(third.headers['retry-after']);
    } finally {
      await limited.close();
    }
  });
});

describe('delivered to the release workflow', () => {
  test('200: the decision is returned and recorded in the workflow, with the approver; a replay is refused', async () => {
    const { handle, version } = await waitingRelease();
    const path = approvalPath(PODINFO, 'prod', version);
    const request = approve(path, { approver: 'alice@example.com', comment: 'lgtm' });
    const response = await app.inject(request);
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{
      workflowId: string;
      runId: string;
      url: string;
      decision: Record<string, string>;
      authentication: Record<string, unknown>;
    }>();
    assert.equal(body.workflowId, handle.workflowId);
    // The typed name is only asserted; the key that signed is recorded.
    assert.deepEqual(body.authentication, {
      method: 'approval-key',
      subject: 'alice@example.com',
      verified: false,
      key: 'approval-key:flux-system/podinfo-02-approval/approval-key-prod',
    });
    assert.deepEqual(
      { ...body.decision, at: undefined },
      { decision: 'approved', environment: 'prod', approver: 'alice@example.com', comment: 'lgtm', at: undefined },
    );
    assert.ok(!Number.isNaN(Date.parse(body.decision.at ?? '')));
    const runId = (await handle.describe()).runId;
    assert.equal(body.runId, runId);
    assert.equal(body.url, `${UI}/${encodeURIComponent(handle.workflowId)}/${runId}/history`);
    // Notification strategy: no pull request, so the Location is the workflow.
    assert.equal(response.headers.location, body.url);

    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval?.approver, 'alice@example.com');
    assert.equal(harness.notifier.received.length, 1);

    // The same signed request again: refused here, before Temporal.
    const replay = await app.inject(request);
    assert.equal(replay.statusCode, 401, replay.body);
    assert.equal(replay.json<{ message: string }>().message, 'replayed request');
    // On another replica (no shared cache) the workflow refuses the second decision.
    const otherReplica = await testApp({
      pipelines,
      releases: unreachableStarter(),
      approvals: createTemporalReleaseApprover(env.client, { timeoutMs: 10_000, decisionKey: TEST_DECISION_KEY }),
    });
    try {
      assertRefused(await otherReplica.inject(request), /not waiting for approval/);
    } finally {
      await otherReplica.close();
    }
    // A second, freshly signed decision: 422.
    assertRefused(await app.inject(approve(path, { approver: 'bob@example.com' })), /not waiting for approval/);
    assert.equal(
      (await handle.query(stateQuery)).promotions.find((p) => p.targetEnvironment === 'prod')?.approval?.approver,
      'alice@example.com',
    );
    await handle.terminate('test done');
  });

  test('POST /rejection/…: the reject Update; a signature of the approval path does not reject', async () => {
    const { handle, version } = await waitingRelease();
    const rejectionPath = approvalPath(PODINFO, 'prod', version).replace(/^\/approval\//, '/rejection/');
    // Signed for /approval/…, sent to /rejection/…: the path is signed, so it is refused.
    const signedForApproval = approve(approvalPath(PODINFO, 'prod', version), { approver: 'alice@example.com' });
    const moved = await app.inject({ ...signedForApproval, url: rejectionPath });
    assert.equal(moved.statusCode, 401, moved.body);
    // Weave's legacy signature covers no path: even where it approves, it never rejects.
    const legacy = await legacyApp.inject(legacyApproval(rejectionPath, HMAC_KEY));
    assert.equal(legacy.statusCode, 401, legacy.body);
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval);

    const response = await app.inject(approve(rejectionPath, { approver: 'alice@example.com', comment: 'not now' }));
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(
      { ...response.json<{ decision: Record<string, string> }>().decision, at: undefined },
      { decision: 'rejected', environment: 'prod', approver: 'alice@example.com', comment: 'not now', at: undefined },
    );
    assert.equal((await handle.result()).phase, ReleasePhase.rejected);
    assert.equal(harness.notifier.received.length, 0);
    // Decided: a later approval is refused by the workflow.
    assertRefused(await app.inject(approve(approvalPath(PODINFO, 'prod', version), { approver: 'bob@example.com' })), /.+/);
    assert.equal((await app.inject({ method: 'GET', url: rejectionPath })).statusCode, 405);
  });

  test('422 for a revision that has no release, and a refused request may be sent again', async () => {
    const path = approvalPath(PODINFO, 'prod', '0.0.404');
    const request = approve(path, { approver: 'alice' });
    assertRefused(await app.inject(request), /no release of 0\.0\.404 is running for flux-system\/podinfo-02/);
    // Nothing was decided, so the signature was not used up.
    assertRefused(await app.inject(request), /no release of 0\.0\.404/);
  });

  // Signed with a Pipeline-wide `approval-key`, so that other environments than prod get past authentication.
  test('422 for a wrong revision, a wrong or unknown environment, and a release not waiting', async () => {
    const { handle, version } = await waitingRelease();
    assertRefused(
      await anyEnvApp.inject(approveAnyEnv(approvalPath(PODINFO, 'prod', '6.6.6'), { approver: 'alice' })),
      /no release of 6\.6\.6/,
    );
    assertRefused(
      await anyEnvApp.inject(approveAnyEnv(approvalPath(PODINFO, 'test', version), { approver: 'alice' })),
      /test is not waiting for approval; prod is/,
    );
    assertRefused(
      await anyEnvApp.inject(approveAnyEnv(approvalPath(PODINFO, 'staging', version), { approver: 'alice' })),
      /staging is not waiting for approval; prod is \(Pipeline flux-system\/podinfo-02 has no environment staging\)/,
    );
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingApproval, 'nothing was decided');

    // A release promoted into test (no gate there) waits for Flux, not for an approval.
    const promoting = await harness.startRelease('dev', PODINFO, 'podinfo-02-dev');
    await harness.waitForPhase(promoting.handle, ReleasePhase.awaitingDeployment);
    assertRefused(
      await anyEnvApp.inject(approveAnyEnv(approvalPath(PODINFO, 'test', promoting.version), { approver: 'alice' })),
      /is not waiting for approval \(AwaitingDeployment\)/,
    );
    await promoting.handle.terminate('test done');

    // A release that ended (here: terminated) waits for nothing either.
    await handle.terminate('test done');
    assertRefused(
      await anyEnvApp.inject(approveAnyEnv(approvalPath(PODINFO, 'prod', version), { approver: 'alice' })),
      new RegExp(`no release of ${version.replaceAll('.', '\\.')} is running`),
    );
  });

  test('the legacy signature, when allowed, approves as weave-legacy-approval', async () => {
    const { handle, version } = await waitingRelease();
    const response = await legacyApp.inject(legacyApproval(approvalPath(PODINFO, 'prod', version), HMAC_KEY));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json<{ decision: { approver: string } }>().decision.approver, LEGACY_APPROVER);
    assert.deepEqual(response.json<{ authentication: unknown }>().authentication, {
      method: 'legacy-signature',
      subject: LEGACY_APPROVER,
      verified: false,
      key: 'hmac-key:flux-system/podinfo-02-webhook',
    });
    const state = await harness.promotedInto(handle, 'prod');
    assert.equal(state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval?.approver, LEGACY_APPROVER);
    await handle.terminate('test done');
  });

  test('approvals are counted by outcome', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok((metricValue(text, 'baton_gateway_approvals_total{outcome="approved"}') ?? 0) >= 1, text);
    assert.ok((metricValue(text, 'baton_gateway_approvals_total{outcome="refused"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'baton_gateway_approvals_total{outcome="unauthorized"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'baton_gateway_approvals_total{outcome="replayed"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'baton_gateway_approvals_total{outcome="invalid"}') ?? 0) >= 1);
  });
});

test('503 with Retry-After when Temporal is unreachable; the request may be sent again', async () => {
  const connection = Connection.lazy({
    address: `127.0.0.1:${await freePort()}`,
    interceptors: [makeGrpcRetryInterceptor(GATEWAY_GRPC_RETRY)],
  });
  const approvals = createTemporalReleaseApprover(new Client({ connection, namespace: 'default' }), { timeoutMs: 1_000 });
  const down = await testApp({ pipelines, releases: unreachableStarter(), approvals });
  try {
    const request = approve(approvalPath(PODINFO, 'prod', '6.7.1'), { approver: 'alice' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await down.inject(request);
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.headers['retry-after'], '30');
      assert.match(response.json<{ message: string }>().message, /Temporal is unavailable/);
    }
  } finally {
    await down.close();
    await approvals.drain(10_000);
    await connection.close();
  }
});
