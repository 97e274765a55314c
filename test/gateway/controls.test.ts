/**
 * Stop-the-line through the gateway: `POST /stop` and `/resume` with an OpenID token from a real
 * OpenID Provider, on the dev server with a release worker. The token's user is recorded as who
 * stopped; without a valid token nothing is stopped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { createTemporalPromotionControls, type PromotionControls } from '../../gateway/promotion-controls.js';
import { ReleasePhase } from '../../model/release.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import { APPROVAL_AUDIENCE, signingKeys, startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { PODINFO, ReleaseHarness } from '../workflows/harness.js';
import { directorySource, EXAMPLE_PIPELINES_DIR, testApp, unreachableStarter } from './helpers.js';

let env: TestWorkflowEnvironment;
let harness: ReleaseHarness;
let issuer: TestIssuer;
let pipelines: DirectoryPipelineSource;
let controls: PromotionControls;
let app: FastifyInstance;

before(async () => {
  env = await startDevServer();
  harness = await ReleaseHarness.start(env);
  issuer = await startTestIssuer(await signingKeys());
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  controls = createTemporalPromotionControls(env.client, { taskQueue: harness.taskQueue });
  app = await testApp({
    pipelines,
    releases: unreachableStarter(),
    controls,
    config: { oidc: { issuer: issuer.issuer, audience: APPROVAL_AUDIENCE, userClaim: 'email', groupsClaim: 'groups' } },
  });
});

after(async () => {
  await app?.close();
  await issuer?.stop();
  await pipelines?.stop();
  await harness?.stop();
  await env?.teardown();
});

const post = async (url: string, body: object, token?: string) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    payload: JSON.stringify(body),
  });

describe('POST /stop and /resume', () => {
  test('without a valid token: 401, even with a malformed body, and nothing is stopped', async () => {
    const none = await post('/stop', { reason: 'x' });
    assert.equal(none.statusCode, 401, none.body);
    assert.match(none.json<{ message: string }>().message, /Authorization: Bearer/);
    assert.equal((await post('/stop', { nonsense: true }, 'not-a-token')).statusCode, 401);
    assert.deepEqual(await controls.list(), []);
  });

  test("a token's user stops one environment of a Pipeline; its release is held; the resume lets it go", async () => {
    const token = await issuer.token('alice');
    const bad = await post('/stop', { scope: { pipeline: 'podinfo-02' }, reason: 'x' }, token);
    assert.equal(bad.statusCode, 400, 'a Pipeline is namespace/name');

    const stopped = await post(
      '/stop',
      { scope: { pipeline: 'flux-system/podinfo-02', environment: 'test' }, reason: 'incident 7' },
      token,
    );
    assert.equal(stopped.statusCode, 200, stopped.body);
    const stop = stopped.json<{ stopped: { id: string; by: string; reason: string } }>().stopped;
    assert.deepEqual([stop.by, stop.reason], ['alice@example.com', 'incident 7']);

    const { handle } = await harness.startRelease('dev', PODINFO, 'podinfo-02-dev');
    const held = await harness.waitForPhase(handle, ReleasePhase.blocked);
    assert.match(held.currentStep, /stopped by alice@example\.com .*incident 7/);

    const wrong = await post('/resume', { scope: {} }, token);
    assert.equal(wrong.statusCode, 422, 'the stop of another scope');
    assert.match(wrong.json<{ message: string }>().message, /nothing is stopped in that scope/);
    const resumed = await post(
      '/resume',
      { scope: { pipeline: 'flux-system/podinfo-02', environment: 'test' } },
      await issuer.token('bob'),
    );
    assert.equal(resumed.statusCode, 200, resumed.body);
    assert.deepEqual(
      resumed.json<{ lifted: { id: string }[] }>().lifted.map((c) => c.id),
      [stop.id],
    );
    await harness.promotedInto(handle, 'test');
    await handle.terminate('test done');
  });
});

describe('POST /mark-bad and /unmark-bad', () => {
  test("a token's user marks the version of a waiting release bad: it ends saying who and why; the unmark lifts it", async () => {
    assert.equal((await post('/mark-bad', { pipeline: 'flux-system/podinfo-02', version: '6.8.0', reason: 'x' })).statusCode, 401);
    const token = await issuer.token('carol');
    const { handle, version } = await harness.startRelease('dev', PODINFO, 'podinfo-02-dev');
    await harness.promotedInto(handle, 'test');

    const noReason = await post('/mark-bad', { pipeline: 'flux-system/podinfo-02', version }, token);
    assert.equal(noReason.statusCode, 400, noReason.body);
    const metadata = await post('/mark-bad', { pipeline: 'flux-system/podinfo-02', version: `${version}+b1`, reason: 'x' }, token);
    assert.equal(metadata.statusCode, 422, metadata.body);
    assert.match(metadata.json<{ message: string }>().message, /without its build metadata/);

    const marked = await post('/mark-bad', { pipeline: 'flux-system/podinfo-02', version, reason: 'CVE-2026-0001' }, token);
    assert.equal(marked.statusCode, 200, marked.body);
    const answer = marked.json<{ marked: { id: string; by: string; version: string }; endedRelease: string }>();
    assert.deepEqual([answer.marked.by, answer.marked.version, answer.endedRelease], ['carol@example.com', version, handle.workflowId]);
    const ended = await harness.waitForPhase(handle, ReleasePhase.markedBad);
    assert.match(ended.currentStep, /^Marked bad by carol@example\.com at .*: CVE-2026-0001/);

    const lifted = await post('/unmark-bad', { pipeline: 'flux-system/podinfo-02', version }, await issuer.token('bob'));
    assert.equal(lifted.statusCode, 200, lifted.body);
    assert.equal(lifted.json<{ lifted: { id: string } }>().lifted.id, answer.marked.id);
    const again = await post('/unmark-bad', { pipeline: 'flux-system/podinfo-02', version }, token);
    assert.equal(again.statusCode, 422, 'nothing left to unmark');
    assert.match(again.json<{ message: string }>().message, /is not marked bad/);
  });
});
