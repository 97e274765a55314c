/**
 * The stack as `npm start` runs it — the worker, the gateway over the example Pipelines — driven
 * the way Flux and a release manager drive it: signed fixture events over HTTP, `temporal workflow
 * list` to find the release, `temporal workflow signal` to approve it, a pull request on a git
 * server and a newer version superseding an older one. Once on the Temporal dev server, once on a
 * production server on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RunningGateway } from '../../gateway/server.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../../model/search-attributes.js';
import type { release } from '../../workflows/release.js';
import { serverBinary } from '../infra/binaries.js';
import { TEMPORAL_SERVERS } from '../infra/temporal-servers.js';
import { type BatonStack, startBatonStack } from '../support/baton-stack.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES } from '../support/events.js';
import { type FluxEventReceiver, startFluxEventReceiver } from '../support/flux-event-receiver.js';
import { GITOPS_REPOSITORY, type GitOpsRepository, startGitOpsRepository } from '../support/gitops-repository.js';
import { sendFluxEvent, type SentEvent } from '../support/send-flux-event.js';

const run = promisify(execFile);
/** A Pipeline of the GitOps repository: dev → prod by pull request. */
const BY_PULL_REQUEST = 'podinfo-pr';

for (const server of TEMPORAL_SERVERS)
  describe(`end to end on the ${server.name}: Flux event → gateway → release workflow → promotion`, () => {
    let temporal: TestWorkflowEnvironment;
    let receiver: FluxEventReceiver;
    let gitops: GitOpsRepository;
    let stack: BatonStack;
    let gateway: RunningGateway;

    before(async () => {
      temporal = await server.start();
      receiver = await startFluxEventReceiver();
      gitops = await startGitOpsRepository([BY_PULL_REQUEST]);
      stack = await startBatonStack(temporal, { BATON_EVENTS_ADDRESS: receiver.url }, { manifests: gitops.manifests });
      gateway = stack.gateway;
    });

    after(async () => {
      await stack?.stop();
      await gitops?.close();
      await receiver?.close();
      await temporal?.teardown();
    });

    /** The notification strategy's Promote events of `version` (the release's own notices go to the same address). */
    const promotes = (version: string) =>
      receiver.events.filter((e) => e.reason === 'Promote' && e.metadata['pipelines.weave.works/version'] === version);

    function sendEvent(environment: string, fixture: string, namespace?: string): Promise<SentEvent> {
      return sendFluxEvent(gateway.url, environment, fixture, namespace === undefined ? {} : { namespace });
    }

    async function temporalCli(...args: string[]): Promise<string> {
      const { stdout } = await run(serverBinary('temporal'), [...args, '--address', temporal.address, '--namespace', 'default']);
      return stdout;
    }

    test('a version goes dev → test → (approval) → prod, each promotion exactly once', async () => {
      const first = await sendEvent('dev', FIXTURES.upgradeSucceeded);
      assert.equal(first.status, 202);
      assert.equal(first.body.workflowId, 'release/flux-system/podinfo-02/6.7.1');
      assert.equal(first.location, first.body.url);

      const listed = await eventually('the release to be listed by its search attribute', async () => {
        const out = await temporalCli('workflow', 'list', '--query', "PromotionPipeline='flux-system/podinfo-02'", '--output', 'json');
        return out.includes(first.body.workflowId) ? out : undefined;
      });
      assert.match(listed, /release\/flux-system\/podinfo-02\/6\.7\.1/);

      const toTest = await eventually('the promotion into test', () =>
        promotes('6.7.1').find((e) => e.metadata['pipelines.weave.works/environment'] === 'test'),
      );
      assert.equal(toTest.reason, 'Promote');
      assert.equal(toTest.message, 'Promote pipeline flux-system/podinfo-02 to test with version 6.7.1');
      assert.deepEqual(
        { kind: toTest.involvedObject.kind, namespace: toTest.involvedObject.namespace, name: toTest.involvedObject.name },
        { kind: 'Pipeline', namespace: 'flux-system', name: 'podinfo-02' },
      );
      assert.equal(toTest.metadata['pipelines.weave.works/version'], '6.7.1');

      // Flux delivers the same event again: same workflow, nothing new emitted.
      const again = await sendEvent('dev', FIXTURES.upgradeSucceeded);
      assert.equal(again.status, 202);
      assert.deepEqual([again.body.workflowId, again.body.runId], [first.body.workflowId, first.body.runId]);
      const handle = temporal.client.workflow.getHandle<typeof release>(first.body.workflowId);
      await eventually('the repeat to be recorded', async () => (await handle.query(stateQuery)).reached[0]?.repeats === 1);
      assert.equal(promotes('6.7.1').length, 1);

      // Reported by one of test's two targets: test is not reached until the other reports too.
      assert.equal((await sendEvent('test', FIXTURES.upgradeSucceeded, 'podinfo-02-perf')).status, 202);
      const half = await eventually('the first target of test to be listed', async () => {
        const state = await handle.query(stateQuery);
        return state.targets?.some((t) => t.namespace === 'podinfo-02-qa' && t.status === 'waiting') === true && state;
      });
      assert.equal(half.phase, ReleasePhase.awaitingDeployment);
      assert.match(half.currentStep, /Targets of test: waiting for podinfo-02-qa \(flux-system\/dev\) to report 6\.7\.1/);
      // Reported in every target of test: prod has a manual gate.
      assert.equal((await sendEvent('test', FIXTURES.upgradeSucceeded, 'podinfo-02-qa')).status, 202);
      await eventually('the approval gate', async () => (await handle.query(stateQuery)).phase === ReleasePhase.awaitingApproval);
      const waiting = await handle.describe();
      assert.deepEqual(waiting.typedSearchAttributes.get(PromotionState), 'AwaitingApproval');
      assert.equal(promotes('6.7.1').length, 1, 'nothing is promoted into prod before approval');

      await temporalCli(
        'workflow',
        'signal',
        '--workflow-id',
        first.body.workflowId,
        '--name',
        'approve',
        '--input',
        '{"approver":"release-manager@example.com","comment":"ship it"}',
      );
      const toProd = await eventually('the promotion into prod', () =>
        promotes('6.7.1').find((e) => e.metadata['pipelines.weave.works/environment'] === 'prod'),
      );
      assert.equal(toProd.message, 'Promote pipeline flux-system/podinfo-02 to prod with version 6.7.1');

      assert.equal((await sendEvent('prod', FIXTURES.upgradeSucceeded, 'podinfo-02-prod')).status, 202);
      const final = await handle.result();
      assert.equal(final.phase, ReleasePhase.completed);
      assert.equal(final.promotions[1]?.approval?.approver, 'release-manager@example.com');
      // The example verifies test against the gateway's /healthz before prod's gate opens.
      assert.deepEqual(
        final.verifications?.map((v) => [
          v.environment,
          v.verdict,
          v.checks.map((c) => [c.name, c.status, c.samples.map((s) => s.observed)]),
        ]),
        [['test', 'passed', [['gateway healthz', 'passed', Array(3).fill('status 200, $.status = "ok"')]]]],
      );

      const description = await handle.describe();
      assert.equal(description.typedSearchAttributes.get(PromotionPipeline), 'flux-system/podinfo-02');
      assert.equal(description.typedSearchAttributes.get(PromotionVersion), '6.7.1');
      assert.equal(description.typedSearchAttributes.get(PromotionState), 'Completed');
      assert.match((await description.staticSummary()) ?? '', /podinfo 6\.7\.1: dev → test → prod/);

      // A late duplicate after the journey ended is harmless: same workflow, nothing promoted.
      const late = await sendEvent('dev', FIXTURES.upgradeSucceeded);
      assert.equal(late.status, 202);
      assert.equal(late.body.workflowId, first.body.workflowId);
      assert.equal(promotes('6.7.1').length, 2);

      // The release told people as it went, at the same address.
      const notices = receiver.events.filter((e) => e.reason !== 'Promote' && e.metadata['pipelines.weave.works/version'] === '6.7.1');
      assert.deepEqual(
        notices.map((e) => [e.reason, e.metadata['pipelines.weave.works/environment']]),
        [
          ['Promoted', 'test'],
          ['AwaitingApproval', 'prod'],
          ['Approved', 'prod'],
          ['Promoted', 'prod'],
        ],
      );
      assert.match(notices[1]?.message ?? '', /\nApprove: npx baton approve flux-system\/podinfo-02 prod 6\.7\.1\n/);

      if (process.env.BATON_RECORD_HISTORY) {
        const history = await temporalCli('workflow', 'show', '--workflow-id', first.body.workflowId, '--output', 'json');
        await writeFile(process.env.BATON_RECORD_HISTORY, history);
      }
    });

    test('an OCI chart version is promoted without its build metadata', async () => {
      const accepted = await sendEvent('dev', FIXTURES.installSucceededOci);
      assert.equal(accepted.status, 202);
      assert.equal(accepted.body.workflowId, 'release/flux-system/podinfo-02/6.6.1');
      const event = await eventually('the promotion of 6.6.1', () => promotes('6.6.1')[0]);
      assert.equal(event.message, 'Promote pipeline flux-system/podinfo-02 to test with version 6.6.1');
    });

    test('a version is promoted into prod by pull request; a newer one updates the PR and supersedes it', async () => {
      const pipeline = { namespace: 'flux-system', name: BY_PULL_REQUEST };
      const branch = gitops.branchOf(BY_PULL_REQUEST);
      const older = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded, { pipeline, version: '2.0.1' });
      assert.equal(older.status, 202);
      const opened = await eventually('the pull request for 2.0.1', () =>
        gitops.github.pulls(GITOPS_REPOSITORY).find((pull) => pull.title.endsWith(' to 2.0.1')),
      );
      assert.deepEqual([opened.head, opened.base, opened.state], [branch, 'main', 'open']);
      assert.equal(opened.title, `Promote flux-system/${BY_PULL_REQUEST} in prod to 2.0.1`);
      assert.equal(await gitops.markedVersion(BY_PULL_REQUEST, branch), '2.0.1');

      const newer = await sendFluxEvent(gateway.url, 'dev', FIXTURES.upgradeSucceeded, { pipeline, version: '2.0.2' });
      assert.equal(newer.status, 202);
      const olderResult = await temporal.client.workflow.getHandle<typeof release>(older.body.workflowId).result();
      assert.equal(olderResult.phase, ReleasePhase.superseded);
      assert.deepEqual(olderResult.supersededBy, { version: '2.0.2', workflowId: newer.body.workflowId, because: 'version' });
      const updated = await eventually('the pull request to name 2.0.2', () =>
        gitops.github.pulls(GITOPS_REPOSITORY).find((pull) => pull.title.endsWith(' to 2.0.2')),
      );
      assert.equal(updated.number, opened.number, 'the same pull request, updated');
      assert.equal(gitops.github.pulls(GITOPS_REPOSITORY).length, 1);
      assert.equal(await gitops.markedVersion(BY_PULL_REQUEST, branch), '2.0.2');

      // Flux reports the merged version in prod: the newer release is done.
      const deployed = await sendFluxEvent(gateway.url, 'prod', FIXTURES.upgradeSucceeded, {
        pipeline,
        version: '2.0.2',
        namespace: 'podinfo-02-prod',
      });
      assert.equal(deployed.status, 202);
      const newerResult = await temporal.client.workflow.getHandle<typeof release>(newer.body.workflowId).result();
      assert.equal(newerResult.phase, ReleasePhase.completed);
      assert.equal(newerResult.promotions[0]?.pullRequest?.number, opened.number);
    });

    test('a failed upgrade is acknowledged and promotes nothing', async () => {
      const before = receiver.events.length;
      const ignored = await sendEvent('dev', FIXTURES.upgradeFailed);
      assert.equal(ignored.status, 200);
      assert.equal(ignored.body.ignored, true);
      await assert.rejects(temporal.client.workflow.getHandle('release/flux-system/podinfo-02/6.7.2').describe(), /not found/i);
      assert.equal(receiver.events.length, before);
    });
  });
