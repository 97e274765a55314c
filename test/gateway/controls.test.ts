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
import { createTemporalRollbackStarter } from '../../gateway/rollback-starter.js';
import { defaultConfig } from '../../config/config.js';
import { approveUpdate, stateQuery } from '../../model/messages.js';
import { releaseWorkflowId } from '../../model/release.js';
import type { release } from '../../workflows/release.js';
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
    rollbacks: createTemporalRollbackStarter(env.client, { taskQueue: harness.taskQueue, policy: defaultConfig().releasePolicy, controls }),
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

  test('a body with a misspelt key or a value of another type is refused, never read as a wider stop', async () => {
    const token = await issuer.token('alice');
    // Dropping the unknown key would leave an empty scope: every Pipeline stopped.
    const typo = await post('/stop', { scope: { pipelin: 'flux-system/podinfo-02' }, reason: 'x' }, token);
    assert.equal(typo.statusCode, 400, typo.body);
    assert.match(typo.json<{ message: string }>().message, /must NOT have additional properties/);
    const extra = await post('/stop', { reason: 'x', everything: true }, token);
    assert.equal(extra.statusCode, 400, extra.body);
    const number = await post('/stop', { reason: 42 }, token);
    assert.equal(number.statusCode, 400, number.body);
    const mark = await post('/mark-bad', { pipeline: 'flux-system/podinfo-02', version: 6, reason: 'x' }, token);
    assert.equal(mark.statusCode, 400, mark.body);
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

describe('POST /promote', () => {
  const rollback = { pipeline: 'flux-system/podinfo-02', environment: 'prod', version: '6.5.3', reason: '6.7.1 breaks checkout' };

  test("a token's user rolls prod back: the release of the older version runs prod's gate, recorded with who and why", async () => {
    assert.equal((await post('/promote', rollback)).statusCode, 401, 'no token');
    const token = await issuer.token('bob');
    // Who asks comes from the token alone: a `by` in the body is dropped.
    const accepted = await post('/promote', { ...rollback, by: 'mallory@example.com' }, token);
    assert.equal(accepted.statusCode, 202, accepted.body);
    const answer = accepted.json<{ workflowId: string; runId: string; rollback: { environment: string; at: string } }>();
    assert.equal(answer.workflowId, releaseWorkflowId(PODINFO, '6.5.3'));
    assert.equal(answer.rollback.environment, 'prod');

    const handle = env.client.workflow.getHandle<typeof release>(answer.workflowId);
    const waiting = await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);
    assert.equal(waiting.rollback?.by, 'bob@example.com', "the token's user, not anything in the body");
    assert.equal(waiting.rollback.reason, '6.7.1 breaks checkout');
    const again = await post('/promote', rollback, token);
    assert.equal(again.statusCode, 422, 'its release runs already');
    assert.match(
      again.json<{ message: string }>().message,
      /^the rollback refused: the release of flux-system\/podinfo-02 6\.5\.3 is still running/,
    );

    await handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice', environment: 'prod' }] });
    await harness.promotedInto(handle, 'prod');
    await harness.report(handle, 'prod', 'podinfo-02-prod');
    assert.equal((await harness.waitForPhase(handle, ReleasePhase.completed)).phase, ReleasePhase.completed);
    assert.equal((await handle.query(stateQuery)).promotions.length, 1);
  });

  test('what the Pipeline cannot take is refused before anything starts: 404, 422, 400', async () => {
    const token = await issuer.token('bob');
    const unknownPipeline = await post('/promote', { ...rollback, pipeline: 'flux-system/nope' }, token);
    assert.equal(unknownPipeline.statusCode, 404, unknownPipeline.body);
    const unknownEnvironment = await post('/promote', { ...rollback, environment: 'staging' }, token);
    assert.equal(unknownEnvironment.statusCode, 422, unknownEnvironment.body);
    assert.match(unknownEnvironment.json<{ message: string }>().message, /has no environment staging \(it has dev, test, prod\)/);
    const first = await post('/promote', { ...rollback, environment: 'dev' }, token);
    assert.equal(first.statusCode, 422, first.body);
    assert.match(first.json<{ message: string }>().message, /dev is the Pipeline's first environment/);
    assert.equal((await post('/promote', { ...rollback, reason: '' }, token)).statusCode, 400, 'a reason is required');
    const metadata = await post('/promote', { ...rollback, version: '6.5.3+b7' }, token);
    assert.equal(metadata.statusCode, 422, metadata.body);
    for (const version of ['6.5.4', '6.5.3+b7']) {
      await assert.rejects(env.client.workflow.getHandle(releaseWorkflowId(PODINFO, version)).describe(), /not found/i);
    }
  });
});
