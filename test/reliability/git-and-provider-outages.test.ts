/**
 * The git server and the provider API misbehaving, then recovering, under the release workflow (a
 * real dev server, the real git server, the GitHub fake): answers of 500, requests that hang past
 * the activity timeout, 429 with Retry-After and GitHub's secondary rate limit (403 with
 * retry-after). The git step is retried per policy and succeeds, or fails after its attempts with a
 * message naming the server and no branch left behind; a rate limit's wait is honoured, not the
 * policy's quick backoff, and the pull request is opened once.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PullRequestProviderOptions } from '../../activities/providers/provider.js';
import { defaultConfig } from '../../config/config.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase, type ReleasePolicy } from '../../model/release.js';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';
import { startDevServer } from '../infra/temporal.js';
import { ReleaseHarness } from '../workflows/harness.js';

const NS = 'outage';
const TOKEN = 'prv_T0KEN_outage_9f8e7d6c';
const PASSWORD = 'git_P4SSW0RD_outage_5b4a3c2d';
const NAMES = ['git-500', 'git-hangs', 'git-500-for-good', 'rate-limited', 'secondary-limit'] as const;
type Name = (typeof NAMES)[number];

const repo = (name: Name): string => `acme/${name}`;
const branchOf = (name: Name): string => `promotion-${NS}-${name}-prod`;
const markerFile = (name: Name): string => `apps/${name}/prod/release.yaml`;

function manifests(git: GitServer): string {
  return [
    ...NAMES.map(
      (name) => `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: ${NS}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${name}}
  environments:
    - name: dev
      targets: [{namespace: outage-dev}]
    - name: prod
      targets: [{namespace: outage-prod}]
  promotion:
    strategy:
      pull-request: {type: github, url: '${git.repositoryUrl(repo(name))}', baseBranch: main, secretRef: {name: creds}}
`,
    ),
    `
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${NS}}
stringData: ${JSON.stringify({ username: git.credentials.username, password: PASSWORD, token: TOKEN })}
`,
  ].join('---\n');
}

/** The harness's quick policy, with the given attempts and activity timeout. */
function policy(overrides: { maximumAttempts?: number; activityTimeout?: string } = {}): Partial<ReleasePolicy> {
  const defaults = defaultConfig().releasePolicy;
  return {
    activityTimeout: overrides.activityTimeout ?? '1m',
    activityRetry: {
      ...defaults.activityRetry,
      initialInterval: '200ms',
      maximumInterval: '1s',
      maximumAttempts: overrides.maximumAttempts ?? 5,
    },
  };
}

describe('git server and provider API outages, then recovery', () => {
  let env: TestWorkflowEnvironment;
  let harness: ReleaseHarness;
  let git: GitServer;
  let github: GitHubApiFake;

  before(async () => {
    git = await startGitServer({ credentials: { username: 'baton', password: PASSWORD } });
    for (const name of NAMES) {
      const dir = await mkdtemp(join(tmpdir(), 'baton-outage-seed-'));
      const file = join(dir, markerFile(name));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `image:\n  spec:\n    tag: 1.0.0 # {"$promotion": "${NS}:${name}:prod"}\n`);
      await git.createRepository(repo(name), dir);
      await rm(dir, { recursive: true, force: true });
    }
    github = await startGitHubApi({ token: TOKEN, repositories: NAMES.map(repo) });
    env = await startDevServer();
    harness = await ReleaseHarness.start(env, {
      manifests: manifests(git),
      taskQueue: `reliability-outage-${process.pid}`,
      pullRequests: {
        allowInsecureHttp: true,
        providerOptions: (): PullRequestProviderOptions => ({ baseUrl: github.baseUrl }),
        temporalUiUrl: 'http://temporal-ui.test',
        namespace: 'default',
      },
    });
  });

  after(async () => {
    git?.setRequestHook(undefined);
    await harness?.stop();
    await env?.teardown();
    await github?.close();
    await git?.close();
  });

  const release = (name: Name, overrides: Partial<ReleasePolicy>) =>
    harness.signalRelease('dev', { namespace: NS, name }, '2.0.0', 'outage-dev', overrides);

  async function assertOnePromotion(name: Name): Promise<void> {
    const pulls = github.pulls(repo(name)).filter((p) => p.head === branchOf(name));
    assert.equal(pulls.length, 1, 'one pull request');
    const commits = await git.git(repo(name), ['rev-list', '--count', `main..${branchOf(name)}`]);
    assert.equal(Number(commits.trim()), 1, 'one commit on the promotion branch');
  }

  /** Counts the requests for `name`'s repository the hook answered badly. */
  function failRequests(name: Name, match: (request: { method: string; path: string }) => boolean, times: number, how: 'fail' | 'hang') {
    let spoiled = 0;
    git.setRequestHook(async (request) => {
      if (!request.path.startsWith(`/${repo(name)}.git/`) || !match(request) || spoiled >= times) return;
      spoiled += 1;
      // A hook that throws makes the bridge answer 500; one that waits holds the answer back.
      if (how === 'fail') throw new Error('git server failing');
      await sleep(8_000);
    });
    return () => spoiled;
  }

  test('git answering 500, then recovering: the git step is retried and succeeds; one commit, one PR', async (t) => {
    const spoiled = failRequests('git-500', () => true, 2, 'fail');
    const state = await harness.promotedInto(await release('git-500', policy()), 'prod');
    git.setRequestHook(undefined);
    assert.equal(spoiled(), 2);
    assert.equal(state.phase, ReleasePhase.awaitingDeployment);
    await assertOnePromotion('git-500');
    t.diagnostic(`500s answered: ${spoiled()}`);
  });

  test('git hanging past the activity timeout, then recovering: the attempt times out, the next succeeds; one commit, one PR', async (t) => {
    const spoiled = failRequests('git-hangs', (r) => r.method === 'GET', 1, 'hang');
    const started = Date.now();
    const state = await harness.promotedInto(await release('git-hangs', policy({ activityTimeout: '3s' })), 'prod');
    git.setRequestHook(undefined);
    assert.equal(spoiled(), 1);
    assert.equal(state.phase, ReleasePhase.awaitingDeployment);
    await assertOnePromotion('git-hangs');
    t.diagnostic(`one hung request; promoted ${Date.now() - started} ms after the event`);
  });

  test('the push answered 500 through every attempt: the release fails naming the git server, and no branch is left', async (t) => {
    const spoiled = failRequests('git-500-for-good', (r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack'), 100, 'fail');
    const handle = await release('git-500-for-good', policy({ maximumAttempts: 3 }));
    await handle.result().then(
      () => assert.fail('the release should fail'),
      () => undefined,
    );
    git.setRequestHook(undefined);
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.match(state.lastError ?? '', /^promoting 2\.0\.0 into prod failed: git operation on /);
    assert.ok((state.lastError ?? '').includes(git.repositoryUrl(repo('git-500-for-good'))), state.lastError);
    assert.match(state.lastError ?? '', /500/);
    assert.equal(spoiled(), 3, 'one refused push per attempt');
    assert.equal(await git.branchCommit(repo('git-500-for-good'), branchOf('git-500-for-good')), undefined, 'no branch');
    assert.equal(github.pulls(repo('git-500-for-good')).length, 0);
    t.diagnostic(`failed after ${spoiled()} attempts: ${state.lastError}`);
  });

  /** When each create call of `name` reached the fake, watched from the test. */
  function watchCreates(name: Name): { times: number[]; stop: () => void } {
    const times: number[] = [];
    const path = `/api/v3/repos/${repo(name)}/pulls`;
    const timer = setInterval(() => {
      const seen = github.http.requests.filter((r) => r.method === 'POST' && r.path === path).length;
      while (times.length < seen) times.push(Date.now());
    }, 10);
    return { times, stop: () => clearInterval(timer) };
  }

  for (const [name, answer, waitSeconds] of [
    ['rate-limited', { status: 429, headers: { 'retry-after': '3' }, body: { message: 'API rate limit exceeded' } }, 3],
    [
      'secondary-limit',
      {
        status: 403,
        headers: { 'retry-after': '2' },
        body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
      },
      2,
    ],
  ] as const) {
    test(`${name}: ${answer.status} with retry-after ${waitSeconds}s on the create is waited out, then the PR is opened once`, async (t) => {
      github.http.respondNext({ method: 'POST', path: `/repos/${repo(name)}/pulls`, ...answer, headers: { ...answer.headers } });
      const creates = watchCreates(name);
      try {
        const state = await harness.promotedInto(await release(name, policy()), 'prod');
        assert.equal(state.phase, ReleasePhase.awaitingDeployment);
      } finally {
        creates.stop();
      }
      assert.equal(creates.times.length, 2, 'the limited create and the one after the wait');
      const waited = creates.times[1]! - creates.times[0]!;
      // The policy alone would retry after 200 ms; the provider's wait is what separates the two.
      assert.ok(waited >= waitSeconds * 1000 - 100, `waited ${waited} ms, the provider asked for ${waitSeconds} s`);
      await assertOnePromotion(name);
      t.diagnostic(`retried the create ${waited} ms after the ${answer.status}`);
    });
  }
});
