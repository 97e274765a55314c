/**
 * Crash, restart — and lose nothing: the pull-request strategy with its worker a real process
 * (`worker/main.ts`), SIGKILLed at each boundary the promotion crosses, then started again.
 *
 * The boundaries are watched from the outside: the worker reaches the real git server (git
 * http-backend) and the GitHub fake through one https proxy (the Secret's caFile trusts it, the
 * GitHub API root is the repository's origin + /api/v3, as for an Enterprise Server), and the proxy
 * kills the worker when the request of interest arrives or its answer is back, before the worker
 * gets it. Baton has no fault-injection hook. After the restart there is exactly one commit on the
 * promotion branch, one pull request, and the release goes on to wait for Flux in prod.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { type GitHubApiFake, startGitHubApi } from '../fakes/github-api.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';
import { startDevServer } from '../infra/temporal.js';
import { type CrashableWorker, startCrashableWorker } from './support/crashable-worker.js';
import { type InterceptingProxy, type ProxiedAnswer, type ProxiedRequest, startInterceptingProxy } from './support/intercepting-proxy.js';
import { deployed, promotedInto, type ReleaseHandle } from './support/releases.js';

const NS = 'crash';
const PASSWORD = 'git_P4SSW0RD_crash_0c1d2e3f';
const TOKEN = 'prv_T0KEN_crash_4a5b6c7d';
/** One repository per scenario, so the proxy tells their requests apart by path. */
const SCENARIOS = ['after-push', 'during-create', 'after-create'] as const;
type Scenario = (typeof SCENARIOS)[number];

const repo = (scenario: Scenario): string => `acme/${scenario}`;
const branchOf = (scenario: Scenario): string => `promotion-${NS}-${scenario}-prod`;
const markerFile = (scenario: Scenario): string => `apps/${scenario}/prod/release.yaml`;
const markerLine = (scenario: Scenario, version: string): string => `    tag: ${version} # {"$promotion": "${NS}:${scenario}:prod"}`;

function manifests(proxy: InterceptingProxy, username: string): string {
  const pipelines = SCENARIOS.map(
    (scenario) => `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${scenario}, namespace: ${NS}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${scenario}}
  environments:
    - name: dev
      targets: [{namespace: crash-dev}]
    - name: prod
      targets: [{namespace: crash-prod}]
  promotion:
    strategy:
      pull-request: {type: github, url: '${proxy.url}/${repo(scenario)}.git', baseBranch: main, secretRef: {name: creds}}
`,
  );
  const secret = `
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${NS}}
stringData: ${JSON.stringify({ username, password: PASSWORD, token: TOKEN, caFile: proxy.certificate })}
`;
  return [...pipelines, secret].join('---\n');
}

async function seed(scenario: Scenario): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-crash-seed-'));
  const file = join(dir, markerFile(scenario));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `image:\n  spec:\n${markerLine(scenario, '1.0.0')}\n`);
  return dir;
}

const isPush = (scenario: Scenario) => (r: ProxiedRequest) => r.method === 'POST' && r.path === `/${repo(scenario)}.git/git-receive-pack`;
const isCreate = (scenario: Scenario) => (r: ProxiedRequest) => r.method === 'POST' && r.path === `/api/v3/repos/${repo(scenario)}/pulls`;

describe('the worker process SIGKILLed at each boundary of a pull-request promotion', () => {
  let env: TestWorkflowEnvironment;
  let git: GitServer;
  let github: GitHubApiFake;
  let proxy: InterceptingProxy;
  let worker: CrashableWorker;
  let pipelinesDir: string;
  const taskQueue = `reliability-crash-pr-${process.pid}`;

  before(async () => {
    git = await startGitServer({ credentials: { username: 'baton', password: PASSWORD } });
    for (const scenario of SCENARIOS) {
      const dir = await seed(scenario);
      await git.createRepository(repo(scenario), dir);
      await rm(dir, { recursive: true, force: true });
    }
    github = await startGitHubApi({ token: TOKEN, repositories: SCENARIOS.map(repo) });
    proxy = await startInterceptingProxy({
      tls: true,
      upstream: (path) => (path.startsWith('/api/v3/') ? github.http.url : git.baseUrl),
    });
    pipelinesDir = await mkdtemp(join(tmpdir(), 'baton-crash-pipelines-'));
    await writeFile(join(pipelinesDir, 'pipelines.yaml'), manifests(proxy, git.credentials.username));
    env = await startDevServer();
    worker = await startCrashableWorker({
      client: env.client,
      temporalAddress: env.address,
      taskQueue,
      env: { BATON_PIPELINES_DIR: pipelinesDir, BATON_PROVIDER_RATE_LIMIT: '50' },
    });
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    await proxy?.close();
    await github?.close();
    await git?.close();
    if (pipelinesDir) await rm(pipelinesDir, { recursive: true, force: true });
  });

  /**
   * Runs the release of 2.0.0 with `hooks` set on the proxy; `killed` resolves once the hook killed
   * the worker. Restarts it, waits for the promotion, and checks what git and GitHub hold.
   */
  async function crashAndRecover(
    scenario: Scenario,
    arm: (kill: () => Promise<void>) => {
      beforeForward?: (r: ProxiedRequest) => Promise<void>;
      beforeAnswer?: (a: ProxiedAnswer) => Promise<void>;
    },
  ): Promise<{ handle: ReleaseHandle; pushes: number; creates: number }> {
    let killed!: () => void;
    const wasKilled = new Promise<void>((resolve) => (killed = resolve));
    let fired = false;
    const kill = async (): Promise<void> => {
      if (fired) return;
      fired = true;
      await worker.kill();
      killed();
    };
    const hooks = arm(kill);
    proxy.setHooks({
      beforeForward: async (request) => {
        await hooks.beforeForward?.(request);
        return { forward: true };
      },
      ...(hooks.beforeAnswer === undefined ? {} : { beforeAnswer: hooks.beforeAnswer }),
    });
    const handle = await deployed(env.client, {
      taskQueue,
      pipeline: { namespace: NS, name: scenario },
      version: '2.0.0',
      environment: 'dev',
      namespace: 'crash-dev',
    });
    await wasKilled;
    proxy.setHooks({});
    await worker.restart();

    const state = await promotedInto(handle, 'prod');
    const pulls = github.pulls(repo(scenario)).filter((p) => p.head === branchOf(scenario));
    assert.equal(pulls.length, 1, 'exactly one pull request');
    assert.equal(pulls[0]!.state, 'open');
    assert.equal(pulls[0]!.title, `Promote ${NS}/${scenario} in prod to 2.0.0`);
    const promotion = state.promotions.find((p) => p.targetEnvironment === 'prod');
    assert.equal(promotion?.pullRequest?.number, pulls[0]!.number, 'the release recorded that pull request');
    assert.equal(state.promotions.filter((p) => p.targetEnvironment === 'prod').length, 1, 'one promotion recorded');
    const commits = await git.git(repo(scenario), ['rev-list', '--count', `main..${branchOf(scenario)}`]);
    assert.equal(Number(commits.trim()), 1, 'exactly one commit on the promotion branch');
    const file = (await git.readBranch(repo(scenario), branchOf(scenario))).get(markerFile(scenario))?.toString('utf8') ?? '';
    assert.ok(file.includes(`${markerLine(scenario, '2.0.0')}\n`), file);
    // The release went on: it waits for Flux to report 2.0.0 in prod.
    assert.equal((await handle.query(stateQuery)).phase, ReleasePhase.awaitingDeployment);
    return {
      handle,
      pushes: proxy.log.filter(isPush(scenario)).length,
      creates: proxy.log.filter(isCreate(scenario)).length,
    };
  }

  test('killed after the branch push reached git, before its answer: the push is redone onto the same branch, one PR', async (t) => {
    const { pushes, creates } = await crashAndRecover('after-push', (kill) => ({
      beforeAnswer: async (answer) => {
        if (isPush('after-push')(answer) && answer.status === 200) await kill();
      },
    }));
    assert.ok(pushes >= 2, `the lost push and the one after the restart (${pushes})`);
    assert.equal(creates, 1, 'the pull request was asked for once, after the restart');
    t.diagnostic(`after-push: ${pushes} pushes, ${creates} create calls`);
  });

  test('killed while the create call is on its way: GitHub opens the PR for a dead worker; the restarted one finds and reuses it', async (t) => {
    const { creates } = await crashAndRecover('during-create', (kill) => ({
      beforeForward: async (request) => {
        if (isCreate('during-create')(request)) await kill();
      },
    }));
    const created = github.pulls(repo('during-create'));
    assert.equal(created.length, 1);
    assert.equal(creates, 1, 'the restarted worker found the open PR and did not create another');
    t.diagnostic(`during-create: ${creates} create calls`);
  });

  test('killed after GitHub answered the create, before the workflow recorded it: one PR, recorded after the restart', async (t) => {
    const { creates } = await crashAndRecover('after-create', (kill) => ({
      beforeAnswer: async (answer) => {
        if (isCreate('after-create')(answer) && answer.status === 201) await kill();
      },
    }));
    assert.equal(creates, 1);
    t.diagnostic(`after-create: ${creates} create calls`);
  });
});
