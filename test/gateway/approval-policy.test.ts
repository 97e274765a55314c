/**
 * Approval policy end to end: a real OpenID Provider, the real gateway routes, a real Temporal dev
 * server and a release worker. Prod of `team-a/quorum` needs two distinct people of the
 * prod-approvers group (or bob by name), through OIDC only; prod of `team-a/by-group` takes one member
 * of prod-approvers. Decisions sent straight to Temporal, typed or forged, do not count there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { stringify } from 'yaml';
import { proveDecision } from '../../activities/decision-proof.js';
import { createTemporalReleaseApprover } from '../../gateway/release-approver.js';
import { approveSignal, deployedSignal, stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { type Decision, type DecisionRecord, ReleasePhase } from '../../model/release.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { serverBinary } from '../infra/binaries.js';
import { startDevServer } from '../infra/temporal.js';
import { approvalPath } from '../support/approvals.js';
import { TEST_DECISION_KEY } from '../support/decision-key.js';
import { deployedFromFixture, FIXTURES } from '../support/events.js';
import { eventually } from '../support/eventually.js';
import { APPROVAL_AUDIENCE, signingKeys, startTestIssuer, type TestIssuer, USERS } from '../support/oidc-issuer.js';
import { ReleaseHarness } from '../workflows/harness.js';
import { directorySource, manifestDirectory, testApp, unreachableStarter } from './helpers.js';

const run = promisify(execFile);

const QUORUM: PipelineRef = { namespace: 'team-a', name: 'quorum' };
const BY_GROUP: PipelineRef = { namespace: 'team-a', name: 'by-group' };

function gatedPipeline(ref: PipelineRef, annotations: Record<string, string>): object {
  return {
    apiVersion: 'pipelines.weave.works/v1alpha1',
    kind: 'Pipeline',
    metadata: { ...ref, annotations },
    spec: {
      appRef: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'api' },
      environments: [
        { name: 'dev', targets: [{ namespace: 'api-dev' }] },
        { name: 'prod', targets: [{ namespace: 'api-prod' }] },
      ],
      promotion: { manual: true, strategy: { notification: {} } },
    },
  };
}

const PIPELINES = [
  gatedPipeline(QUORUM, {
    'promotion.baton.dev/approvers.prod': 'group:prod-approvers, bob@example.com',
    'promotion.baton.dev/required-approvals.prod': '2',
    'promotion.baton.dev/approval-channels.prod': 'oidc',
  }),
  gatedPipeline(BY_GROUP, { 'promotion.baton.dev/approvers.prod': 'group:prod-approvers' }),
];

let env: TestWorkflowEnvironment;
let harness: ReleaseHarness;
let issuer: TestIssuer;
let manifests: Awaited<ReturnType<typeof manifestDirectory>>;
let pipelines: DirectoryPipelineSource;
let app: FastifyInstance;

before(async () => {
  env = await startDevServer();
  harness = await ReleaseHarness.start(env, { manifests: PIPELINES.map((p) => stringify(p)).join('---\n'), taskQueue: 'approval-policy' });
  manifests = await manifestDirectory({ 'pipelines.yaml': PIPELINES });
  pipelines = await directorySource(manifests.path);
  issuer = await startTestIssuer(await signingKeys());
  app = await testApp({
    pipelines,
    releases: unreachableStarter(),
    approvals: createTemporalReleaseApprover(env.client, { timeoutMs: 10_000, decisionKey: TEST_DECISION_KEY }),
    config: { oidc: { issuer: issuer.issuer, audience: APPROVAL_AUDIENCE, userClaim: 'email', groupsClaim: 'groups' } },
  });
});

after(async () => {
  await app?.close();
  await issuer?.stop();
  await pipelines?.stop();
  await manifests?.remove();
  await harness?.stop();
  await env?.teardown();
});

async function approveAs(user: keyof typeof USERS, pipeline: PipelineRef, version: string): Promise<ReturnType<FastifyInstance['inject']>> {
  const request: InjectOptions = {
    method: 'POST',
    url: approvalPath(pipeline, 'prod', version),
    headers: { authorization: `Bearer ${await issuer.token(user)}` },
  };
  return app.inject(request);
}

async function waitingAtProd(pipeline: PipelineRef) {
  const started = await harness.startRelease('dev', pipeline, 'api-dev');
  await harness.waitForPhase(started.handle, ReleasePhase.awaitingApproval);
  return started;
}

describe('a 2-of-3 quorum through OIDC only', () => {
  test('two distinct allowed people approve; the same person twice counts once; Temporal signals do not count', async () => {
    const { handle, version } = await waitingAtProd(QUORUM);

    const first = await approveAs('alice', QUORUM, version);
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json<{ decision: DecisionRecord }>().decision.quorum, { received: 1, required: 2 });
    let state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.awaitingApproval, 'one approval of two decides nothing');
    assert.deepEqual(
      state.pendingGate?.approvals?.map((a) => [a.approver, a.authentication?.method, a.authentication?.verified]),
      [[USERS.alice.email, 'oidc', true]],
    );
    assert.match(state.currentStep, /\(1 of 2 approvals\)/);

    const again = await approveAs('alice', QUORUM, version);
    assert.equal(again.statusCode, 422, again.body);
    assert.match(again.json<{ reason: string }>().reason, /alice@example\.com already approved; 1 of 2 approvals/);

    // Straight to Temporal: a typed name with `temporal workflow signal`; a claim of OIDC proved
    // with another key; alice's real decision lifted from the history with carol's name put in.
    await run(serverBinary('temporal'), [
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'approve',
      '--input',
      JSON.stringify({ approver: USERS.carol.email, environment: 'prod', version }),
      '--address',
      env.address,
      '--namespace',
      'default',
    ]);
    const claimed = {
      approver: USERS.carol.email,
      environment: 'prod',
      version,
      authentication: { method: 'oidc' as const, subject: USERS.carol.email, verified: true, groups: ['prod-approvers'] },
    };
    const otherKey = 'a-key-that-is-not-the-gateway-decision-key';
    await handle.signal(approveSignal, {
      ...claimed,
      proof: proveDecision(otherKey, { workflowId: handle.workflowId, verdict: 'approved', decision: claimed }),
    });
    const history = await handle.fetchHistory();
    const payload = history.events?.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
      ?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
    assert.ok(payload !== undefined && payload !== null, "alice's approve Update is in the history");
    const lifted = JSON.parse(Buffer.from(payload).toString('utf8')) as Decision & typeof claimed;
    assert.ok(lifted.proof !== undefined, 'the gateway proved her decision');
    await handle.signal(approveSignal, {
      ...lifted,
      approver: USERS.carol.email,
      authentication: { ...lifted.authentication, subject: USERS.carol.email },
    });
    state = await eventually('the three signals to be ignored', async () => {
      const current = await handle.query(stateQuery);
      return (current.ignoredDecisions?.length ?? 0) >= 3 && current;
    });
    const whys = state.ignoredDecisions!.map((d) => d.why);
    assert.match(whys[0]!, /decisions through temporal may not decide promotions into prod \(allowed: oidc\)/);
    assert.match(whys[1]!, /the gateway’s proof on this decision does not hold: the signature does not match/);
    assert.match(whys[2]!, /the gateway’s proof on this decision does not hold: the signature does not match/);
    assert.equal(state.phase, ReleasePhase.awaitingApproval);
    assert.equal(state.pendingGate?.approvals?.length, 1);

    const second = await approveAs('bob', QUORUM, version);
    assert.equal(second.statusCode, 200, second.body);
    assert.deepEqual(second.json<{ decision: DecisionRecord }>().decision.quorum, { received: 2, required: 2 });
    state = await harness.promotedInto(handle, 'prod');
    const promotion = state.promotions.find((p) => p.targetEnvironment === 'prod');
    assert.deepEqual(
      promotion?.approvals?.map((a) => a.approver),
      [USERS.alice.email, USERS.bob.email],
    );
    assert.match(state.currentStep, /approved by alice@example\.com and bob@example\.com/);
    assert.equal(harness.notifier.received.filter((r) => r.workflowId === handle.workflowId).length, 1, 'promoted once');

    await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'prod', 'api-prod'));
    assert.equal((await handle.result()).phase, ReleasePhase.completed);
    const journey = await handle.fetchHistory();
    const text = historyToJSON(journey);
    assert.ok(!text.includes(TEST_DECISION_KEY), 'the decision key is not in the history');
    assert.ok(!text.includes(Buffer.from(TEST_DECISION_KEY).toString('base64')), 'not even encoded');
    // A release decided under an approval policy, for test/replay.
    if (process.env.BATON_RECORD_POLICY_HISTORY) await writeFile(process.env.BATON_RECORD_POLICY_HISTORY, text);
  });

  test('one allowed rejection ends the release, whatever approvals came before', async () => {
    const { handle, version } = await waitingAtProd(QUORUM);
    assert.equal((await approveAs('alice', QUORUM, version)).statusCode, 200);
    const rejection = await app.inject({
      method: 'POST',
      url: approvalPath(QUORUM, 'prod', version).replace('/approval/', '/rejection/'),
      headers: { authorization: `Bearer ${await issuer.token('carol')}` },
    });
    assert.equal(rejection.statusCode, 200, rejection.body);
    const state = await harness.waitForPhase(handle, ReleasePhase.rejected);
    assert.match(state.currentStep, /^Rejected by carol@example\.com/);
  });
});

describe('a group-based gate', () => {
  test('a member of the group decides; someone outside it is refused with the policy', async () => {
    const { handle, version } = await waitingAtProd(BY_GROUP);
    const outsider = await approveAs('bob', BY_GROUP, version);
    assert.equal(outsider.statusCode, 422, outsider.body);
    assert.match(
      outsider.json<{ reason: string }>().reason,
      /bob@example\.com may not decide promotions into prod \(approvers: group:prod-approvers\)/,
    );
    const member = await approveAs('carol', BY_GROUP, version);
    assert.equal(member.statusCode, 200, member.body);
    const state = await harness.promotedInto(handle, 'prod');
    const approval = state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval;
    assert.deepEqual(approval?.authentication?.groups, ['prod-approvers']);
    assert.equal(approval?.authentication?.issuer, issuer.issuer);
  });

  test('a name typed into a Temporal signal cannot pass for a group member', async () => {
    const { handle, version } = await waitingAtProd(BY_GROUP);
    await handle.signal(approveSignal, { approver: USERS.carol.email, environment: 'prod', version });
    const state = await eventually('the signal to be ignored', async () => {
      const current = await handle.query(stateQuery);
      return (current.ignoredDecisions?.length ?? 0) >= 1 && current;
    });
    assert.match(
      state.ignoredDecisions![0]!.why,
      /carol@example\.com may not decide promotions into prod \(approvers: group:prod-approvers\)/,
    );
    assert.equal(state.phase, ReleasePhase.awaitingApproval);
    await handle.terminate('test done');
  });
});
