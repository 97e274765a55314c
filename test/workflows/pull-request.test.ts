/**
 * The pull-request strategy through the release workflow, on a real Temporal dev server, a real git
 * server (git http-backend) and the HTTP fakes of GitHub, GitLab and Bitbucket Server: the branch
 * and its patched marker as git sees them, exactly one PR however the event is repeated or the
 * workers crash, clear non-retryable failures, and no credential in any workflow history.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PullRequestProviderOptions } from '../../activities/providers/provider.js';
import { stateQuery } from '../../model/messages.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ReleasePhase, type ReleaseState } from '../../model/release.js';
import { type BitbucketServerApiFake, startBitbucketServerApi } from '../fakes/bitbucket-server-api.js';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitLabApiFake, startGitLabApi } from '../fakes/gitlab-api.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { defaultConfig } from '../../config/config.js';
import { createTemporalPromotionControls } from '../../gateway/promotion-controls.js';
import { createTemporalRollbackStarter } from '../../gateway/rollback-starter.js';
import { type ReleaseHandle, ReleaseHarness } from './harness.js';

const NS = 'team-pr';
/** Long and distinctive, so a leak anywhere is found by a plain substring search. */
const TOKEN = 'prv_T0KEN_s3cr3t_41b7e9c2';
const PASSWORD = 'git_P4SSW0RD_s3cr3t_8d0a6f13';
const WRONG_PASSWORD = 'git_WR0NG_s3cr3t_5e2c7b90';
const WRONG_TOKEN = 'prv_WR0NG_T0KEN_c3a9d1e4';
const UI_URL = 'http://temporal-ui.test';

const REPOS = { github: 'acme/gitops', gitlab: 'group/sub/gitops', 'bitbucket-server': 'scm/PROJ/gitops' } as const;
type ProviderType = keyof typeof REPOS;

/** Pipeline name → provider, Secret, and whether the repository has its marker (at which version). */
const PIPELINES: Record<string, { type: ProviderType; secret: string; marker?: string }> = {
  gh: { type: 'github', secret: 'creds', marker: '1.0.0' },
  gl: { type: 'gitlab', secret: 'creds', marker: '1.0.0' },
  bb: { type: 'bitbucket-server', secret: 'creds', marker: '1.0.0' },
  'gh-existing': { type: 'github', secret: 'creds', marker: '1.0.0' },
  'gh-newer': { type: 'github', secret: 'creds', marker: '1.0.0' },
  'gh-flaky': { type: 'github', secret: 'creds', marker: '1.0.0' },
  'gh-crash': { type: 'github', secret: 'creds', marker: '1.0.0' },
  'gh-ten': { type: 'github', secret: 'creds', marker: '1.0.0' },
  'gh-already': { type: 'github', secret: 'creds', marker: '2.0.0' },
  'gh-rollback': { type: 'github', secret: 'creds', marker: '2.0.0' },
  'bad-git': { type: 'github', secret: 'bad-git', marker: '1.0.0' },
  'bad-token': { type: 'github', secret: 'bad-token', marker: '1.0.0' },
  'no-token': { type: 'github', secret: 'no-token', marker: '1.0.0' },
  'no-marker': { type: 'github', secret: 'creds' },
};

const ref = (name: string): PipelineRef => ({ namespace: NS, name });
const branchOf = (name: string): string => `promotion-${NS}-${name}-prod`;
const markerFile = (name: string): string => `apps/${name}/prod/release.yaml`;
const markerLine = (name: string, version: string): string => `    tag: ${version} # {"$promotion": "${NS}:${name}:prod"}`;

function manifests(git: GitServer): string {
  const pipelines = Object.entries(PIPELINES).map(
    ([name, p]) => `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: ${NS}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${name}}
  environments:
    - name: dev
      targets: [{namespace: pr-dev}]
    - name: prod
      targets: [{namespace: pr-prod}]
  promotion:
    strategy:
      pull-request: {type: ${p.type}, url: '${git.repositoryUrl(REPOS[p.type])}', baseBranch: main, secretRef: {name: ${p.secret}}}
`,
  );
  const secret = (name: string, data: Record<string, string>) => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${NS}}
stringData: ${JSON.stringify(data)}
`;
  const { username } = git.credentials;
  return [
    ...pipelines,
    secret('creds', { username, password: PASSWORD, token: TOKEN }),
    secret('bad-git', { username, password: WRONG_PASSWORD, token: TOKEN }),
    secret('bad-token', { username, password: PASSWORD, token: WRONG_TOKEN }),
    secret('no-token', { username, password: PASSWORD }),
  ].join('---\n');
}

async function seedDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-pr-seed-'));
  await writeFile(join(dir, 'README.md'), '# GitOps\n');
  for (const [name, p] of Object.entries(PIPELINES)) {
    if (p.marker === undefined) continue;
    const file = join(dir, markerFile(name));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `# ${name} in prod\nimage:\n  repository: ghcr.io/acme/${name}\n  spec:\n${markerLine(name, p.marker)}\n`);
  }
  return dir;
}

/** Every string and byte array in a value (payloads are bytes), as one text to search. */
function everyText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const item of value) everyText(item, out);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) everyText(item, out);
  return out;
}

describe('pull-request strategy (release workflow, real git server, provider fakes)', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  let git: GitServer;
  let github: GitHubApiFake;
  let gitlab: GitLabApiFake;
  let bitbucket: BitbucketServerApiFake;
  let seed: string;
  const handles: ReleaseHandle[] = [];

  before(async () => {
    git = await startGitServer({ credentials: { username: 'baton', password: PASSWORD } });
    seed = await seedDirectory();
    for (const repo of Object.values(REPOS)) await git.createRepository(repo, seed);
    [github, gitlab, bitbucket] = await Promise.all([
      startGitHubApi({ token: TOKEN, repositories: ['acme/gitops'] }),
      startGitLabApi({ token: TOKEN, projects: ['group/sub/gitops'] }),
      startBitbucketServerApi({ token: TOKEN, repositories: ['PROJ/gitops'] }),
    ]);
    const baseUrls: Record<string, string> = { github: github.baseUrl, gitlab: gitlab.baseUrl, 'bitbucket-server': bitbucket.baseUrl };
    env = await startDevServer();
    harness = await ReleaseHarness.start(env, {
      manifests: manifests(git),
      taskQueue: `pull-request-test-${process.pid}`,
      pullRequests: {
        allowInsecureHttp: true,
        providerOptions: (type): PullRequestProviderOptions => ({ baseUrl: baseUrls[type] }),
        temporalUiUrl: UI_URL,
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

  const release = async (name: string, version: string): Promise<ReleaseHandle> => {
    const handle = await harness.signalRelease('dev', ref(name), version, 'pr-dev');
    handles.push(handle);
    return handle;
  };

  const promotion = (state: ReleaseState) => {
    const record = state.promotions.find((p) => p.targetEnvironment === 'prod' && p.completedAt !== undefined);
    assert.ok(record, 'a completed promotion into prod');
    return record;
  };

  /** The open PRs for a pipeline's promotion branch, as the provider's fake holds them. */
  const pullsFor = (name: string): { number: number; title: string; body: string }[] => {
    const branch = branchOf(name);
    switch (PIPELINES[name]!.type) {
      case 'github':
        return github
          .pulls('acme/gitops')
          .filter((p) => p.head === branch && p.state === 'open')
          .map((p) => ({ number: p.number, title: p.title, body: p.body ?? '' }));
      case 'gitlab':
        return gitlab
          .mergeRequests('group/sub/gitops')
          .filter((m) => m.source_branch === branch)
          .map((m) => ({ number: m.iid, title: m.title, body: m.description ?? '' }));
      case 'bitbucket-server':
        return bitbucket
          .pulls('PROJ/gitops')
          .filter((p) => p.fromRef === `refs/heads/${branch}`)
          .map((p) => ({ number: p.id, title: p.title, body: p.description }));
    }
  };

  const commitsOnBranch = async (name: string): Promise<number> =>
    Number((await git.git(REPOS[PIPELINES[name]!.type], ['rev-list', '--count', `main..${branchOf(name)}`])).trim());

  const fileOnBranch = async (name: string): Promise<string> => {
    const files = await git.readBranch(REPOS[PIPELINES[name]!.type], branchOf(name));
    return files.get(markerFile(name))?.toString('utf8') ?? '';
  };

  const failureOf = async (handle: ReleaseHandle): Promise<ApplicationFailure> => {
    const error = await handle.result().then(
      () => assert.fail('the release should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure, String(error.cause));
    return error.cause;
  };

  for (const name of ['gh', 'gl', 'bb']) {
    test(`${PIPELINES[name]!.type}: one commit on the promotion branch with the marker patched, one PR`, async () => {
      const handle = await release(name, '2.0.0');
      const record = promotion(await harness.promotedInto(handle, 'prod'));
      const pulls = pullsFor(name);
      assert.equal(pulls.length, 1);
      const [pull] = pulls;
      assert.match(record.outcome ?? '', new RegExp(`^opened PR #${pull!.number} \\S+`));
      assert.equal(record.pullRequest?.number, pull!.number);
      assert.ok(record.pullRequest !== undefined && record.outcome?.endsWith(record.pullRequest.url));
      assert.equal(pull!.title, `Promote ${NS}/${name} in prod to 2.0.0`);
      assert.ok(pull!.body.includes(`${UI_URL}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`), pull!.body);
      assert.ok(pull!.body.includes(`${NS}/${name}/prod\n</details>`), 'the Weave metadata block');
      assert.ok(pull!.body.includes('`dev`'), 'the source environment');
      assert.equal(await commitsOnBranch(name), 1);
      const file = await fileOnBranch(name);
      assert.ok(file.includes(`${markerLine(name, '2.0.0')}\n`), file);
      assert.ok(!file.includes('1.0.0'));
      const state = await handle.query(stateQuery);
      assert.equal(state.phase, ReleasePhase.awaitingDeployment);
    });
  }

  test('a rollback opens the PR that puts the older version back in the marker, saying who asked and why', async () => {
    const rollbacks = createTemporalRollbackStarter(env.client, {
      taskQueue: harness.taskQueue,
      policy: defaultConfig().releasePolicy,
      controls: createTemporalPromotionControls(env.client, { taskQueue: harness.taskQueue }),
    });
    const { workflowId } = await rollbacks.start({
      pipeline: ref('gh-rollback'),
      environment: 'prod',
      version: '1.9.0',
      reason: '2.0.0 drops requests',
      by: 'oncall@example.com',
    });
    const handle: ReleaseHandle = env.client.workflow.getHandle(workflowId);
    handles.push(handle);
    const record = promotion(await harness.promotedInto(handle, 'prod'));
    assert.match(record.outcome ?? '', /^opened PR #/);
    const pulls = pullsFor('gh-rollback');
    assert.equal(pulls.length, 1);
    assert.equal(pulls[0]!.title, `Promote ${NS}/gh-rollback in prod to 1.9.0`, "Weave's title, which automation matches");
    assert.match(pulls[0]!.body, /- \*\*Rollback:\*\* asked for by `oncall@example\.com` at /);
    assert.match(pulls[0]!.body, /asked for this rollback because:\n\n> \\?2\.0\.0 drops requests/);
    assert.equal(await commitsOnBranch('gh-rollback'), 1);
    const file = await fileOnBranch('gh-rollback');
    assert.ok(file.includes(`${markerLine('gh-rollback', '1.9.0')}\n`), file);
    assert.ok(!file.includes('2.0.0'), 'the newer version is gone from the marker');
  });

  test('an open PR for the branch is updated and reused, not duplicated', async () => {
    const seeded = github.seedPull('acme/gitops', { head: branchOf('gh-existing'), base: 'main', title: 'stale', body: 'stale' });
    const record = promotion(await harness.promotedInto(await release('gh-existing', '2.0.0'), 'prod'));
    assert.match(record.outcome ?? '', new RegExp(`^updated PR #${seeded.number} `));
    const pulls = pullsFor('gh-existing');
    assert.equal(pulls.length, 1);
    assert.equal(pulls[0]!.title, `Promote ${NS}/gh-existing in prod to 2.0.0`);
    assert.notEqual(pulls[0]!.body, 'stale');
  });

  test('a newer version while the PR is open rebuilds the branch on the latest base and updates the same PR', async () => {
    const first = promotion(await harness.promotedInto(await release('gh-newer', '2.0.0'), 'prod'));
    const baseNow = await git.commitToBranch('acme/gitops', 'main', { 'docs/unrelated.md': 'the base moved on\n' });
    const second = promotion(await harness.promotedInto(await release('gh-newer', '2.1.0'), 'prod'));
    assert.equal(second.pullRequest?.number, first.pullRequest?.number);
    assert.match(second.outcome ?? '', /^updated PR #/);
    const pulls = pullsFor('gh-newer');
    assert.equal(pulls.length, 1);
    assert.equal(pulls[0]!.title, `Promote ${NS}/gh-newer in prod to 2.1.0`);
    assert.equal((await git.git('acme/gitops', ['rev-parse', `${branchOf('gh-newer')}^`])).trim(), baseNow);
    assert.equal(await commitsOnBranch('gh-newer'), 1);
    assert.ok((await fileOnBranch('gh-newer')).includes(markerLine('gh-newer', '2.1.0')));
  });

  test('a provider failing the create once (5xx) is retried into exactly one PR', async () => {
    github.http.respondNext({ method: 'POST', path: /\/pulls$/, status: 502, body: { message: 'Bad Gateway' } });
    const before = github.http.requests.filter((r) => r.method === 'POST').length;
    const record = promotion(await harness.promotedInto(await release('gh-flaky', '2.0.0'), 'prod'));
    assert.match(record.outcome ?? '', /^opened PR #/);
    assert.equal(github.http.requests.filter((r) => r.method === 'POST').length - before, 2, 'the failed create and its retry');
    assert.equal(pullsFor('gh-flaky').length, 1);
  });

  test('workers lost between the push and the PR: the restarted workers open exactly one PR', async () => {
    await harness.stopProviderWorker();
    try {
      const handle = await release('gh-crash', '2.0.0');
      await eventually(
        'the promotion branch pushed',
        async () => (await git.branchCommit('acme/gitops', branchOf('gh-crash'))) !== undefined,
      );
      await harness.restartWorker();
      await sleep(500);
      assert.equal(pullsFor('gh-crash').length, 0, 'no PR while no provider worker runs');
      assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.promoting);
      await harness.startProviderWorker();
      const record = promotion(await harness.promotedInto(handle, 'prod'));
      assert.match(record.outcome ?? '', /^opened PR #/);
    } finally {
      await harness.startProviderWorker();
    }
    assert.equal(pullsFor('gh-crash').length, 1);
    assert.equal(await commitsOnBranch('gh-crash'), 1);
  });

  test('the same event delivered ten times at once makes one commit and one PR', async () => {
    const postsBefore = github.http.requests.filter((r) => r.method === 'POST').length;
    const ten = await Promise.all(Array.from({ length: 10 }, () => harness.signalRelease('dev', ref('gh-ten'), '2.0.0', 'pr-dev')));
    handles.push(ten[0]!);
    assert.equal(new Set(ten.map((h) => h.workflowId)).size, 1);
    const state = await harness.promotedInto(ten[0]!, 'prod');
    assert.equal(state.promotions.length, 1);
    assert.equal(pullsFor('gh-ten').length, 1);
    assert.equal(github.http.requests.filter((r) => r.method === 'POST').length - postsBefore, 1);
    assert.equal(await commitsOnBranch('gh-ten'), 1);
    const pushes = git.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack'));
    assert.ok(pushes.length > 0);
  });

  test('a base branch already at the version: no branch, no PR', async () => {
    const record = promotion(await harness.promotedInto(await release('gh-already', '2.0.0'), 'prod'));
    assert.equal(record.outcome, 'already at 2.0.0 on main');
    assert.equal(record.pullRequest, undefined);
    assert.equal(await git.branchCommit('acme/gitops', branchOf('gh-already')), undefined);
    assert.equal(pullsFor('gh-already').length, 0);
  });

  test('git credentials rejected: a non-retryable failure saying so, visible in the workflow', async () => {
    const handle = await release('bad-git', '2.0.0');
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'GitCredentialsRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /promoting 2\.0\.0 into prod failed: .*(rejected|credentials)/i);
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.equal(state.lastError, failure.message);
  });

  test('provider token rejected: a non-retryable failure naming the provider', async () => {
    const failure = await failureOf(await release('bad-token', '2.0.0'));
    assert.equal(failure.type, 'ProviderTokenRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /token rejected by github/);
  });

  test('a Secret without the token key: a non-retryable failure naming the Secret and the key', async () => {
    const failure = await failureOf(await release('no-token', '2.0.0'));
    assert.equal(failure.type, 'InvalidPipeline');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`Secret ${NS}/no-token .*has no 'token' key`));
  });

  test('no marker for the reference: a non-retryable failure naming the reference', async () => {
    const failure = await failureOf(await release('no-marker', '2.0.0'));
    assert.equal(failure.type, 'NoPromotionMarker');
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes(`${NS}:no-marker:prod`), failure.message);
  });

  test('no token or password in any workflow history', async () => {
    assert.ok(handles.length >= 10);
    for (const handle of handles) {
      const text = everyText(await handle.fetchHistory()).join('\n');
      assert.ok(text.includes(NS), `the history of ${handle.workflowId} was decoded`);
      for (const secret of [TOKEN, PASSWORD, WRONG_PASSWORD, WRONG_TOKEN]) {
        assert.ok(!text.includes(secret), `a credential in the history of ${handle.workflowId}`);
      }
    }
  });
});
