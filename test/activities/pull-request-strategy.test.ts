/**
 * The pull-request activities outside a workflow (Temporal's MockActivityEnvironment), against the
 * real git server and the GitHub fake: the git step then the provider step, as the workflow runs
 * them, heartbeats, a re-run after success (same PR), the PR's status and its branch deleted under a
 * lease, and the Secret checks made before any call.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { hostAllowlist } from '../../activities/http/host-allowlist.js';
import { createPullRequestActivities, type PromotionBranchResult } from '../../activities/pull-request-strategy.js';
import type { PromotionRequest, PromotionResult } from '../../activities/promotion-request.js';
import type { BranchDeletionRequest, BranchDeletionResult, PullRequestStatus, PullRequestStatusRequest } from '../../model/promotion.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';

const TOKEN = 'prv_T0KEN_activity_3f9e1b7c';
const PASSWORD = 'git_P4SSW0RD_activity_6a2d8e04';
const REPO = 'acme/gitops';
const BRANCH = 'promotion-team-act-app-prod';

describe('pull-request activities (real git server, GitHub fake)', () => {
  let git: GitServer;
  let github: GitHubApiFake;
  let dir: string;
  let pipelines: DirectoryPipelineSource;
  let activities: ReturnType<typeof createPullRequestActivities>;

  /** Both steps as the workflow schedules them, each attempt in a mock context. */
  const promote = async (req: PromotionRequest, env = new MockActivityEnvironment()): Promise<PromotionResult> => {
    const branch: PromotionBranchResult = await env.run((r: PromotionRequest) => activities.pushPromotionBranch(r), req);
    if (branch.status === 'already-at-version') return { outcome: branch.outcome };
    return new MockActivityEnvironment().run((r: PromotionRequest): Promise<PromotionResult> => activities.openPullRequest(r), req);
  };

  const request = (name: string, version: string): PromotionRequest => ({
    pipeline: { namespace: 'team-act', name },
    sourceEnvironment: 'dev',
    targetEnvironment: 'prod',
    version,
    workflowId: `release/team-act/${name}/${version}`,
    approval: { decision: 'approved', environment: 'prod', approver: 'alice@example.com', comment: 'ship it', at: '2026-11-22T03:00:00Z' },
  });

  before(async () => {
    git = await startGitServer({ credentials: { username: 'baton', password: PASSWORD } });
    const seed = await mkdtemp(join(tmpdir(), 'baton-act-seed-'));
    const file = join(seed, 'apps/app/prod.yaml');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, 'image:\n  tag: "1.0.0" # {"$promotion": "team-act:app:prod"}\n');
    const url = await git.createRepository(REPO, seed);
    await rm(seed, { recursive: true, force: true });
    github = await startGitHubApi({ token: TOKEN, repositories: [REPO] });
    dir = await mkdtemp(join(tmpdir(), 'baton-act-pipelines-'));
    const pipeline = (name: string, secret: string) => `apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: team-act}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${name}}
  environments:
    - {name: dev, targets: [{namespace: dev}]}
    - {name: prod, targets: [{namespace: prod}]}
  promotion:
    strategy:
      pull-request: {type: github, url: '${url}', baseBranch: main, secretRef: {name: ${secret}}}
`;
    await writeFile(
      join(dir, 'pipelines.yaml'),
      [
        pipeline('app', 'creds'),
        pipeline('no-secret', 'missing'),
        pipeline('no-password', 'partial'),
        `apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team-act}\nstringData: {username: baton, password: ${PASSWORD}, token: ${TOKEN}}\n`,
        `apiVersion: v1\nkind: Secret\nmetadata: {name: partial, namespace: team-act}\nstringData: {username: baton, token: ${TOKEN}}\n`,
      ].join('---\n'),
    );
    pipelines = new DirectoryPipelineSource(dir, pino({ level: 'silent' }));
    await pipelines.start();
    activities = createPullRequestActivities({
      pipelines,
      allowInsecureHttp: true,
      providerOptions: () => ({ baseUrl: github.baseUrl }),
      temporalUiUrl: 'https://cloud.temporal.io/',
      namespace: 'baton.a1b2c',
    });
  });

  after(async () => {
    await pipelines?.stop();
    await github?.close();
    await git?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('pushes the branch, opens the PR, heartbeats; a re-run finds the same PR', async () => {
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const first = await promote(request('app', '2.0.0'), env);
    assert.ok(first.pullRequest);
    assert.equal(first.outcome, `opened PR #${first.pullRequest.number} ${first.pullRequest.url}`);
    assert.ok(heartbeats.length > 0, 'the git step heartbeats');
    assert.ok(!JSON.stringify(heartbeats).includes(PASSWORD));
    const [pull] = github.pulls(REPO);
    assert.equal(pull?.head, BRANCH);
    assert.ok(pull.body?.includes('https://cloud.temporal.io/namespaces/baton.a1b2c/workflows/release%2Fteam-act%2Fapp%2F2.0.0'));
    assert.ok(pull.body?.includes('alice@example.com'), 'the approval');
    assert.match((await git.readBranch(REPO, BRANCH)).get('apps/app/prod.yaml')?.toString() ?? '', /tag: "2\.0\.0" #/);

    const again = await promote(request('app', '2.0.0'));
    assert.deepEqual(again.pullRequest, first.pullRequest);
    assert.match(again.outcome, /^updated PR #/);
    assert.equal(github.pulls(REPO).length, 1);
  });

  test('the PR’s status, then its branch deleted only while it holds the commit pushed: kept once moved, absent once gone', async () => {
    const branch: PromotionBranchResult = await new MockActivityEnvironment().run(
      (r: PromotionRequest) => activities.pushPromotionBranch(r),
      request('app', '3.0.0'),
    );
    assert.ok(branch.status === 'pushed', branch.status);
    const opened: PromotionResult = await new MockActivityEnvironment().run(
      (r: PromotionRequest): Promise<PromotionResult> => activities.openPullRequest(r),
      request('app', '3.0.0'),
    );
    const number = opened.pullRequest!.number;
    const statusOf = (): Promise<PullRequestStatus> =>
      new MockActivityEnvironment().run((r: PullRequestStatusRequest): Promise<PullRequestStatus> => activities.pullRequestStatus(r), {
        pipeline: { namespace: 'team-act', name: 'app' },
        targetEnvironment: 'prod',
        number,
      });
    assert.deepEqual(await statusOf(), { state: 'open' });
    github.closePull(REPO, number, 'bob');
    assert.equal((await statusOf()).closedBy, 'bob');

    const deletion = (commit: string): Promise<BranchDeletionResult> =>
      new MockActivityEnvironment().run((r: BranchDeletionRequest): Promise<BranchDeletionResult> => activities.deletePromotionBranch(r), {
        pipeline: { namespace: 'team-act', name: 'app' },
        targetEnvironment: 'prod',
        branch: BRANCH,
        commit,
      });
    assert.deepEqual(await deletion('f'.repeat(40)), { status: 'moved', branch: BRANCH });
    assert.equal(await git.branchCommit(REPO, BRANCH), branch.commit, 'a branch holding another commit is kept');
    assert.deepEqual(await deletion(branch.commit), { status: 'deleted', branch: BRANCH });
    assert.equal(await git.branchCommit(REPO, BRANCH), undefined);
    assert.deepEqual(await deletion(branch.commit), { status: 'absent', branch: BRANCH });
  });

  test('a missing Secret or key fails without retrying, naming the Secret and the key, before any network call', async () => {
    const gitRequests = git.requests.length;
    const apiRequests = github.http.requests.length;
    await assert.rejects(promote(request('no-secret', '2.0.0')), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /Secret team-act\/missing \(secretRef of Pipeline team-act\/no-secret\) does not exist/);
      return true;
    });
    await assert.rejects(promote(request('no-password', '2.0.0')), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /Secret team-act\/partial .*has no 'password' key/);
      assert.ok(!error.message.includes(TOKEN));
      return true;
    });
    assert.equal(git.requests.length, gitRequests);
    assert.equal(github.http.requests.length, apiRequests);
  });
  test('BATON_GIT_HOSTS reaches both steps: a host it does not allow is refused before any network call', async () => {
    const guarded = createPullRequestActivities({
      pipelines,
      allowInsecureHttp: true,
      allowedHosts: hostAllowlist(['git.example.com']),
      providerOptions: () => ({ baseUrl: github.baseUrl }),
      temporalUiUrl: 'https://cloud.temporal.io/',
      namespace: 'baton.a1b2c',
    });
    const gitRequests = git.requests.length;
    const apiRequests = github.http.requests.length;
    const refusedHost = (error: unknown): boolean => {
      assert.ok(error instanceof ApplicationFailure, String(error));
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /names the host 127\.0\.0\.1, which BATON_GIT_HOSTS does not allow \(git\.example\.com\)/);
      return true;
    };
    const req = request('app', '3.0.0');
    await assert.rejects(
      new MockActivityEnvironment().run((r: PromotionRequest) => guarded.pushPromotionBranch(r), req),
      refusedHost,
    );
    await assert.rejects(
      new MockActivityEnvironment().run((r: PromotionRequest) => guarded.openPullRequest(r), req),
      refusedHost,
    );
    assert.equal(git.requests.length, gitRequests);
    assert.equal(github.http.requests.length, apiRequests);
  });
});
