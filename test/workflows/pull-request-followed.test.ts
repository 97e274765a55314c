/**
 * Pull requests followed to the end, on the real time-skipping test server, a real git server (git
 * http-backend) and the HTTP fakes of GitHub, GitLab and Bitbucket Server: a merged PR leaves the
 * release waiting for Flux and saying who merged it; one closed without merging ends the release,
 * saying who closed it, and its promotion branch is deleted; with the Pipeline's
 * `pull-request-closed: wait` it waits for a reopen instead. The provider is asked at a growing
 * interval, and never again once the PR is merged or Flux reported the version.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PullRequestProviderOptions } from '../../activities/providers/provider.js';
import { stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { type PromotionRecord, ReleasePhase, type ReleasePolicy, type ReleaseState } from '../../model/release.js';
import { type BitbucketServerApiFake, startBitbucketServerApi } from '../fakes/bitbucket-server-api.js';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitLabApiFake, startGitLabApi } from '../fakes/gitlab-api.js';
import type { RecordedRequest } from '../fakes/http-fake.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';
import { startTimeSkippingServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';

const NS = 'team-follow';
const TOKEN = 'prv_F0LL0W_s3cr3t_7c2e9a41';
const PASSWORD = 'git_F0LL0W_s3cr3t_0b8d5f27';
const REPOS = { github: 'acme/gitops', gitlab: 'group/sub/gitops', 'bitbucket-server': 'scm/PROJ/gitops' } as const;
type ProviderType = keyof typeof REPOS;
/** The repositories as each fake names them. */
const FAKE_REPO = { github: 'acme/gitops', gitlab: 'group/sub/gitops', 'bitbucket-server': 'PROJ/gitops' } as const;

interface TestPipeline {
  type: ProviderType;
  annotations?: Record<string, string>;
  /** dev → staging (by PR) → prod (manual gate, notification) instead of dev → prod (by PR). */
  gateAfter?: boolean;
}

const PIPELINES: Record<string, TestPipeline> = {
  'gh-merged': { type: 'github' },
  'gl-merged': { type: 'gitlab' },
  'bb-merged': { type: 'bitbucket-server' },
  'gh-closed': { type: 'github' },
  'gl-closed': { type: 'gitlab' },
  'bb-closed': { type: 'bitbucket-server' },
  'gh-reopened': { type: 'github', annotations: { 'promotion.baton.dev/pull-request-closed': 'wait' } },
  'gh-backoff': { type: 'github' },
  'gh-superseded': { type: 'github' },
  'gh-reported': { type: 'github', gateAfter: true, annotations: { 'promotion.baton.dev/approval-timeout': '2d' } },
};

const ref = (name: string): PipelineRef => ({ namespace: NS, name });
/** The environment each Pipeline promotes into by pull request. */
const prEnvironment = (name: string): string => (PIPELINES[name]!.gateAfter ? 'staging' : 'prod');
const branchOf = (name: string): string => `promotion-${NS}-${name}-${prEnvironment(name)}`;
const markerFile = (name: string): string => `apps/${name}/release.yaml`;

function manifests(git: GitServer): string {
  const pipelines = Object.entries(PIPELINES).map(([name, p]) => {
    const pullRequest = `{pull-request: {type: ${p.type}, url: '${git.repositoryUrl(REPOS[p.type])}', baseBranch: main, secretRef: {name: creds}}}`;
    const environments = p.gateAfter
      ? `
    - name: dev
      targets: [{namespace: pr-dev}]
    - name: staging
      targets: [{namespace: pr-staging}]
      promotion: {strategy: ${pullRequest}}
    - name: prod
      targets: [{namespace: pr-prod}]
      promotion: {manual: true, strategy: {notification: {}}}`
      : `
    - name: dev
      targets: [{namespace: pr-dev}]
    - name: prod
      targets: [{namespace: pr-prod}]
      promotion: {strategy: ${pullRequest}}`;
    return `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: ${NS}, annotations: ${JSON.stringify(p.annotations ?? {})}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${name}}
  environments:${environments}
`;
  });
  const secret = `
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${NS}}
stringData: ${JSON.stringify({ username: git.credentials.username, password: PASSWORD, token: TOKEN })}
`;
  return [...pipelines, secret].join('---\n');
}

async function seedDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-follow-seed-'));
  for (const name of Object.keys(PIPELINES)) {
    const file = join(dir, markerFile(name));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `image:\n  tag: 1.0.0 # {"$promotion": "${NS}:${name}:${prEnvironment(name)}"}\n`);
  }
  return dir;
}

describe('pull requests followed to the end (time skipping, real git server, provider fakes)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  let git: GitServer;
  let github: GitHubApiFake;
  let gitlab: GitLabApiFake;
  let bitbucket: BitbucketServerApiFake;
  let seed: string;

  before(async () => {
    git = await startGitServer({ credentials: { username: 'baton', password: PASSWORD } });
    seed = await seedDirectory();
    for (const repo of Object.values(REPOS)) await git.createRepository(repo, seed);
    [github, gitlab, bitbucket] = await Promise.all([
      startGitHubApi({ token: TOKEN, repositories: [FAKE_REPO.github] }),
      startGitLabApi({ token: TOKEN, projects: [FAKE_REPO.gitlab] }),
      startBitbucketServerApi({ token: TOKEN, repositories: [FAKE_REPO['bitbucket-server']] }),
    ]);
    const baseUrls: Record<string, string> = { github: github.baseUrl, gitlab: gitlab.baseUrl, 'bitbucket-server': bitbucket.baseUrl };
    env = await startTimeSkippingServer();
    harness = await ReleaseHarness.start(env, {
      manifests: manifests(git),
      taskQueue: `pull-request-followed-test-${process.pid}`,
      pullRequests: {
        allowInsecureHttp: true,
        providerOptions: (type): PullRequestProviderOptions => ({ baseUrl: baseUrls[type] }),
        temporalUiUrl: 'http://temporal-ui.test',
        namespace: 'default',
      },
    });
  });

  after(async () => {
    await harness?.stop();
    await env?.teardown();
    await Promise.all([github?.close(), gitlab?.close(), bitbucket?.close(), git?.close()]);
    if (seed) await rm(seed, { recursive: true, force: true });
  });

  const release = (name: string, version: string, policy: Partial<ReleasePolicy> = {}): Promise<ReleaseHandle> =>
    harness.signalRelease('dev', ref(name), version, 'pr-dev', policy);

  const promotionOf = (state: ReleaseState, environment: string): PromotionRecord => {
    const record = state.promotions.find((p) => p.targetEnvironment === environment && p.completedAt !== undefined);
    assert.ok(record?.pullRequest, `a promotion into ${environment} by pull request`);
    return record;
  };

  /** Someone merges, closes or reopens the PR on the provider's side. */
  const act = (name: string, action: 'merge' | 'close' | 'reopen', number: number, who: string): void => {
    const type = PIPELINES[name]!.type;
    const repo = FAKE_REPO[type];
    if (type === 'github') {
      if (action === 'merge') github.mergePull(repo, number, who);
      else if (action === 'close') github.closePull(repo, number, who);
      else github.reopenPull(repo, number);
    } else if (type === 'gitlab') {
      if (action === 'merge') gitlab.merge(repo, number, who);
      else if (action === 'close') gitlab.closeMergeRequest(repo, number, who);
      else gitlab.reopen(repo, number);
    } else if (action === 'merge') bitbucket.merge(repo, number, who);
    else if (action === 'close') bitbucket.decline(repo, number, who);
    else bitbucket.reopen(repo, number, who);
  };

  /** The provider API's requests that read pull request `number` (GET of it, its issue, its activities). */
  const statusReads = (type: ProviderType, number: number): RecordedRequest[] => {
    const fake = { github, gitlab, 'bitbucket-server': bitbucket }[type];
    const path = new RegExp(`/(pulls|issues|merge_requests|pull-requests)/${number}(/activities)?$`);
    return fake.http.requests.filter((r) => r.method === 'GET' && path.test(r.path));
  };

  for (const name of ['gh-merged', 'gl-merged', 'bb-merged']) {
    const { type } = PIPELINES[name]!;
    test(`${type}: a merged PR says who merged it and when, and the release waits for Flux without asking again`, async () => {
      const handle = await release(name, '2.0.0', { idleTimeout: '3h' });
      const promoted = promotionOf(await harness.promotedInto(handle, 'prod'), 'prod');
      const { number } = promoted.pullRequest!;
      assert.equal(promoted.pullRequest!.state, 'open');
      act(name, 'merge', number, 'alice');

      // Awaiting the result skips time: the first check finds the merge, then only Flux is awaited, until the idle timeout.
      const ended = await handle.result();
      const record = promotionOf(ended, 'prod');
      assert.equal(record.pullRequest!.state, 'merged');
      assert.equal(record.pullRequest!.mergedBy, 'alice');
      assert.match(record.pullRequest!.mergedAt ?? '', /^\d{4}-\d{2}-\d{2}T/);
      assert.equal(ended.phase, ReleasePhase.expired);
      assert.ok(
        ended.currentStep.endsWith(
          `PR #${number} merged by alice at ${record.pullRequest!.mergedAt}, waiting for Flux to report 2.0.0 in prod`,
        ),
        ended.currentStep,
      );
      assert.equal(ended.followedPullRequest, undefined);
      const merged = harness.notifier.announced.filter((n) => n.workflowId === handle.workflowId && n.reason === 'PullRequestMerged');
      assert.equal(merged.length, 1);
      // One check found the merge (GitHub and Bitbucket read who merged it in the same check); none in the three hours after.
      const reads = statusReads(type, number);
      assert.ok(reads.length >= 1 && reads.length <= 2, `${reads.length} reads of the PR`);
      assert.ok(await git.branchCommit(REPOS[type], branchOf(name)), 'a merged PR’s branch is left to the provider');
    });
  }

  for (const name of ['gh-closed', 'gl-closed', 'bb-closed']) {
    const { type } = PIPELINES[name]!;
    test(`${type}: a PR closed without merging ends the release, saying who closed it, and deletes the promotion branch`, async () => {
      const handle = await release(name, '2.0.0');
      const { number } = promotionOf(await harness.promotedInto(handle, 'prod'), 'prod').pullRequest!;
      assert.ok(await git.branchCommit(REPOS[type], branchOf(name)), 'the promotion branch was pushed');
      act(name, 'close', number, 'bob');

      const ended = await handle.result();
      const pr = promotionOf(ended, 'prod').pullRequest!;
      assert.equal(ended.phase, ReleasePhase.pullRequestClosed);
      assert.equal(pr.state, 'closed');
      assert.equal(pr.closedBy, 'bob');
      assert.match(pr.closedAt ?? '', /^\d{4}-\d{2}-\d{2}T/);
      assert.equal(
        ended.currentStep,
        `PR #${number} closed without merging by bob at ${pr.closedAt}: 2.0.0 will not be promoted into prod; ` +
          `promotion branch ${branchOf(name)} deleted`,
      );
      assert.equal(await git.branchCommit(REPOS[type], branchOf(name)), undefined, 'the promotion branch is gone');
      const closed = harness.notifier.announced.filter((n) => n.workflowId === handle.workflowId && n.reason === 'PullRequestClosed');
      assert.equal(closed.length, 1);
      assert.equal(closed[0]!.summary, ended.currentStep);
    });
  }

  test('with pull-request-closed: wait, a closed PR keeps the release waiting; reopened and merged, Flux completes it', async () => {
    const name = 'gh-reopened';
    const handle = await release(name, '2.0.0');
    const { number } = promotionOf(await harness.promotedInto(handle, 'prod'), 'prod').pullRequest!;
    act(name, 'close', number, 'carol');
    await env.sleep('5m');
    const waiting = await eventually('the closed PR to be seen', async () => {
      const state = await handle.query(stateQuery);
      return promotionOf(state, 'prod').pullRequest!.state === 'closed' && state;
    });
    assert.equal(waiting.phase, ReleasePhase.awaitingDeployment);
    assert.match(
      waiting.currentStep,
      new RegExp(
        `^PR #${number} closed without merging by carol at \\S+; waiting for it to be reopened \\(promotion\\.baton\\.dev/pull-request-closed: wait`,
      ),
    );
    assert.ok(await git.branchCommit(REPOS.github, branchOf(name)), 'the branch is kept for the reopen');

    act(name, 'reopen', number, 'carol');
    await env.sleep('5m');
    const reopened = await eventually('the reopened PR to be seen', async () => {
      const state = await handle.query(stateQuery);
      return promotionOf(state, 'prod').pullRequest!.state === 'open' && state;
    });
    assert.equal(promotionOf(reopened, 'prod').pullRequest!.closedBy, undefined);
    assert.match(reopened.currentStep, new RegExp(`^PR #${number} reopened: waiting for it to be merged`));

    act(name, 'merge', number, 'dave');
    await env.sleep('5m');
    const merged = await eventually('the merge to be seen', async () => {
      const state = await handle.query(stateQuery);
      return promotionOf(state, 'prod').pullRequest!.state === 'merged' && state;
    });
    assert.match(merged.currentStep, new RegExp(`^PR #${number} merged by dave at \\S+, waiting for Flux to report 2\\.0\\.0 in prod$`));

    await harness.report(handle, 'prod', 'pr-prod');
    const done = await handle.result();
    assert.equal(done.phase, ReleasePhase.completed);
    assert.equal(promotionOf(done, 'prod').pullRequest!.mergedBy, 'dave');

    // A PR closed, reopened and merged, then Flux: test/replay keeps this history.
    if (process.env.BATON_RECORD_PR_HISTORY) {
      await writeFile(process.env.BATON_RECORD_PR_HISTORY, historyToJSON(await handle.fetchHistory()));
    }
  });

  test('an open PR is asked about at a growing interval, and the history continues as new while it waits', async () => {
    const name = 'gh-backoff';
    const handle = await release(name, '2.0.0', { idleTimeout: '6h', maxHistoryEvents: 120 });
    const { number } = promotionOf(await harness.promotedInto(handle, 'prod'), 'prod').pullRequest!;
    const ended = await handle.result();
    assert.equal(ended.phase, ReleasePhase.expired);
    assert.match(ended.currentStep, /^Expired: nothing happened for 6h after: Promoted 2\.0\.0 into prod/);
    // After 1, 2, 4 and 8 minutes, then every 15: about 27 checks in 6 hours, not 360 (one a minute).
    const reads = statusReads('github', number).length;
    assert.ok(reads >= 20 && reads <= 30, `${reads} checks in 6 hours`);
    const firstRun = (handle as ReleaseHandle & { signaledRunId: string }).signaledRunId;
    assert.notEqual((await handle.describe()).runId, firstRun, 'the release continued as new while it followed the PR');
  });

  test('a higher version updates the same PR and ends the lower release, which asks about it no more', async () => {
    const name = 'gh-superseded';
    const lower = await release(name, '2.0.0');
    const { number } = promotionOf(await harness.promotedInto(lower, 'prod'), 'prod').pullRequest!;
    const higher = await release(name, '2.1.0', { idleTimeout: '2h' });
    const updated = promotionOf(await harness.promotedInto(higher, 'prod'), 'prod');
    assert.equal(updated.pullRequest!.number, number);
    assert.match(updated.outcome ?? '', /^updated PR #/);

    const superseded = await lower.result();
    assert.equal(superseded.phase, ReleasePhase.superseded);
    assert.match(superseded.currentStep, /^Superseded by 2\.1\.0 .*: 2\.1\.0 is a higher version than 2\.0\.0$/);
    // Only the higher release follows the PR now; it expires after two hours of checks, the lower one made none.
    const ended = await higher.result();
    assert.equal(ended.phase, ReleasePhase.expired);
    const lowerChecks = (await lower.fetchHistory()).events?.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pullRequestStatus',
    );
    assert.equal(lowerChecks?.length, 0);
    assert.ok(statusReads('github', number).length > 0, 'the higher release checked the PR');
  });

  test('once Flux reports the version, the PR is asked about no more, however long the release waits next', async () => {
    const name = 'gh-reported';
    const handle = await release(name, '2.0.0');
    const { number } = promotionOf(await harness.promotedInto(handle, 'staging'), 'staging').pullRequest!;
    // Merged and deployed before Baton looked: Flux's report is news enough.
    act(name, 'merge', number, 'erin');
    await harness.report(handle, 'staging', 'pr-staging');
    await harness.waitForPhase(handle, ReleasePhase.awaitingApproval);

    // The gate waits two days (skipped) and expires: no check in all that time.
    const ended = await handle.result();
    assert.equal(ended.phase, ReleasePhase.approvalExpired);
    assert.equal(ended.followedPullRequest, undefined);
    assert.equal(statusReads('github', number).length, 0);
    const history = await handle.fetchHistory();
    const checks = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pullRequestStatus');
    assert.equal(checks.length, 0);
  });
});
