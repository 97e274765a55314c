/**
 * The git step against a real git server (`git http-backend` behind the test bridge):
 * what lands in the repository is read back with the git CLI.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import {
  type GitStepProgress,
  promoteInRepository,
  type PromoteInRepositoryInput,
  promotionBranchName,
  promotionCommitMessage,
} from '../../../activities/git/repository.js';
import { markerReference } from '../../../activities/git/markers.js';
import { hostAllowlist } from '../../../activities/http/host-allowlist.js';
import { FailureType } from '../../../model/failures.js';
import { type GitServer, startGitServer } from '../../infra/git-server.js';
import { applicationFailure } from '../../support/failure.js';

const PIPELINE = { namespace: 'flux-system', name: 'podinfo' };
const ENVIRONMENT = 'prod';
const BRANCH = promotionBranchName(PIPELINE, ENVIRONMENT);
const WORKFLOW_ID = 'release/flux-system/podinfo/6.7.1';

const PROD_RELEASE = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo-prod
spec:
  interval: 10m   # odd spacing and comments stay as they are
  chart:
    spec:
      chart: podinfo
      version: "6.5.0" # {"$promotion": "flux-system:podinfo:prod"}
      sourceRef: {kind: HelmRepository, name: podinfo}
`;
const STAGING_RELEASE = PROD_RELEASE.replaceAll('prod', 'staging');

const SEED: Record<string, string> = {
  'apps/podinfo/prod/release.yaml': PROD_RELEASE,
  'apps/podinfo/staging/release.yml': STAGING_RELEASE,
  'apps/other/release.yaml': 'kind: HelmRelease\nspec: {chart: {spec: {version: 1.0.0}}}\n',
  'README.md': 'Markers look like `# {"$promotion": "flux-system:podinfo:prod"}` (not YAML, never touched)\n',
  'clusters/prod/kustomization.yaml': 'resources:\n  - ../../apps/podinfo/prod\n',
};

let server: GitServer;
let seedDir: string;
let repoSeq = 0;

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A fresh repository per test, so tests do not see each other's branches. */
async function freshRepository(): Promise<{ name: string; url: string }> {
  const name = `gitops-${++repoSeq}`;
  return { name, url: await server.createRepository(name, seedDir) };
}

function input(url: string, version: string, overrides: Partial<PromoteInRepositoryInput> = {}): PromoteInRepositoryInput {
  return {
    url,
    baseBranch: 'main',
    branch: BRANCH,
    credentials: server.credentials,
    allowInsecureHttp: true,
    reference: markerReference(PIPELINE, ENVIRONMENT),
    version,
    message: promotionCommitMessage({ pipeline: PIPELINE, environment: ENVIRONMENT, version, workflowId: WORKFLOW_ID }),
    ...overrides,
  };
}

async function pushed(promise: Promise<unknown>): Promise<{ commit: string; changedFiles: string[]; baseCommit: string }> {
  const result = (await promise) as { status: string; commit: string; changedFiles: string[]; baseCommit: string };
  assert.equal(result.status, 'pushed');
  return result;
}

function receivePackPosts(from = 0): number {
  return server.requests.slice(from).filter((r) => r.method === 'POST' && r.path.endsWith('/git-receive-pack')).length;
}

before(async () => {
  server = await startGitServer();
  seedDir = await mkdtemp(join(tmpdir(), 'baton-seed-'));
  await writeTree(seedDir, SEED);
});

after(async () => {
  await server.close();
  await rm(seedDir, { recursive: true, force: true });
});

describe('promoteInRepository against a real git server', () => {
  test('changes exactly the marked scalar of one file, commits with trailers and pushes the branch', async () => {
    const { name, url } = await freshRepository();
    const workRoot = await mkdtemp(join(tmpdir(), 'baton-work-'));
    const requestsBefore = server.requests.length;
    const progress: GitStepProgress[] = [];

    const result = await pushed(promoteInRepository(input(url, '6.7.1', { workRoot, heartbeat: (p) => progress.push(p) })));

    const base = await server.readBranch(name, 'main');
    const promoted = await server.readBranch(name, BRANCH);
    assert.deepEqual([...promoted.keys()].sort(), [...base.keys()].sort());
    const changed = [...promoted].filter(([path, content]) => !content.equals(base.get(path)!)).map(([path]) => path);
    assert.deepEqual(changed, ['apps/podinfo/prod/release.yaml']);
    assert.equal(promoted.get('apps/podinfo/prod/release.yaml')!.toString(), PROD_RELEASE.replace('"6.5.0"', '"6.7.1"'));
    assert.deepEqual(result.changedFiles, ['apps/podinfo/prod/release.yaml']);

    assert.equal(await server.branchCommit(name, BRANCH), result.commit);
    assert.equal(result.baseCommit, await server.branchCommit(name, 'main'));
    assert.equal((await server.git(name, ['rev-parse', `${BRANCH}^`])).trim(), result.baseCommit);
    assert.equal(
      await server.git(name, ['log', '-1', '--format=%B', BRANCH]),
      [
        'Promote flux-system/podinfo in prod to 6.7.1',
        '',
        'Promotion-Pipeline: flux-system/podinfo',
        'Promotion-Environment: prod',
        'Promotion-Version: 6.7.1',
        `Promotion-Workflow: ${WORKFLOW_ID}`,
        '',
        '',
      ].join('\n'),
    );
    assert.equal((await server.git(name, ['log', '-1', '--format=%(trailers:key=Promotion-Version,valueonly)', BRANCH])).trim(), '6.7.1');
    assert.equal((await server.git(name, ['log', '-1', '--format=%an', BRANCH])).trim(), 'Promotion Server');
    // The server accepts what was pushed as a well-formed repository.
    await server.git(name, ['fsck', '--strict', '--no-dangling']);

    const requests = server.requests.slice(requestsBefore);
    assert.ok(
      requests.every((r) => r.status === 200),
      'credentials go up front: no 401 round trip',
    );
    assert.equal(receivePackPosts(requestsBefore), 1);
    assert.ok(progress.length > 0, 'heartbeats were reported');
    assert.deepEqual(await readdir(workRoot), [], 'the work directory is removed');
    await rm(workRoot, { recursive: true });
  });

  test('every marker already at the version: success with nothing pushed', async () => {
    const { name, url } = await freshRepository();
    const requestsBefore = server.requests.length;
    const result = await promoteInRepository(input(url, '6.5.0'));
    assert.deepEqual(result, { status: 'already-at-version', baseCommit: await server.branchCommit(name, 'main'), markers: 1 });
    assert.equal(await server.branchCommit(name, BRANCH), undefined);
    assert.equal(receivePackPosts(requestsBefore), 0);
  });

  test('no marker for the reference: a non-retryable failure naming reference, repository and branch', async () => {
    const { url } = await freshRepository();
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { reference: 'flux-system:podinfo:qa' })));
    assert.equal(error.type, FailureType.noPromotionMarker);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /no \$promotion marker for flux-system:podinfo:qa/);
    assert.ok(error.message.includes(url), error.message);
    assert.match(error.message, /on branch main/);
  });

  test('a marked file that is not valid YAML: a non-retryable failure naming the file', async () => {
    const { name, url } = await freshRepository();
    await server.commitToBranch(name, 'main', { 'apps/broken.yaml': 'a: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\nb: [\n' });
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1')));
    assert.equal(error.type, FailureType.invalidPromotionMarker);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /^apps\/broken\.yaml: not valid YAML/);
  });

  test('bad credentials: non-retryable, and the password appears nowhere in the failure', async () => {
    const { url } = await freshRepository();
    const password = 'wrong-password-3f9a';
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { credentials: { username: 'baton', password } })));
    assert.equal(error.type, FailureType.gitCredentialsRejected);
    assert.equal(error.nonRetryable, true);
    assert.equal(error.message.startsWith(`credentials rejected for ${url}`), true, error.message);
    const everything = JSON.stringify({ message: error.message, stack: error.stack, cause: String(error.cause) });
    assert.ok(!everything.includes(password));
    assert.ok(!everything.includes(Buffer.from(`baton:${password}`).toString('base64')));
  });

  test('unknown repository: non-retryable "repository not found"', async () => {
    const error = await applicationFailure(promoteInRepository(input(server.repositoryUrl('does-not-exist'), '6.7.1')));
    assert.equal(error.type, FailureType.repositoryNotFound);
    assert.match(error.message, /^repository not found: /);
  });

  test('unknown base branch: non-retryable, naming the branch', async () => {
    const { url } = await freshRepository();
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { baseBranch: 'trunk' })));
    assert.equal(error.type, FailureType.baseBranchNotFound);
    assert.match(error.message, /branch trunk not found/);
  });

  test('the base branch moved on: the promotion branch is rebuilt on the new base', async () => {
    const { name, url } = await freshRepository();
    const first = await pushed(promoteInRepository(input(url, '6.7.1')));
    const newBase = await server.commitToBranch(name, 'main', { 'apps/other/new.yaml': 'added: after the first promotion\n' });
    assert.notEqual(newBase, first.baseCommit);

    const second = await pushed(promoteInRepository(input(url, '6.7.2')));
    assert.equal(second.baseCommit, newBase);
    assert.equal((await server.git(name, ['rev-parse', `${BRANCH}^`])).trim(), newBase);
    assert.equal((await server.git(name, ['rev-list', '--count', `main..${BRANCH}`])).trim(), '1');
    const files = await server.readBranch(name, BRANCH);
    assert.equal(files.get('apps/other/new.yaml')?.toString(), 'added: after the first promotion\n');
    assert.match(files.get('apps/podinfo/prod/release.yaml')!.toString(), /version: "6\.7\.2"/);
  });

  test('a newer version while the branch exists: rebuilt from base, not stacked on the old commit', async () => {
    const { name, url } = await freshRepository();
    const first = await pushed(promoteInRepository(input(url, '6.7.1')));
    const second = await pushed(promoteInRepository(input(url, '6.8.0')));
    assert.notEqual(second.commit, first.commit);
    assert.equal(await server.branchCommit(name, BRANCH), second.commit);
    assert.equal((await server.git(name, ['rev-parse', `${BRANCH}^`])).trim(), first.baseCommit);
    assert.equal((await server.git(name, ['rev-list', '--count', `main..${BRANCH}`])).trim(), '1');
    assert.equal((await server.git(name, ['diff', '--name-only', 'main', BRANCH])).trim(), 'apps/podinfo/prod/release.yaml');
  });

  test('concurrent pushes: the one whose lease went stale refetches and redoes, one commit on the branch', async () => {
    const { name, url } = await freshRepository();
    const requestsBefore = server.requests.length;
    let competitor: Promise<unknown> | undefined;
    // Hold A's first push until B has promoted completely: A's lease ("no branch yet") is then stale.
    server.setRequestHook(async ({ method, path }) => {
      if (method !== 'POST' || !path.endsWith('/git-receive-pack') || competitor !== undefined) return;
      competitor = promoteInRepository(input(url, '6.7.2'));
      await competitor;
    });
    const attempts: number[] = [];
    try {
      const a = await pushed(promoteInRepository(input(url, '6.7.1', { heartbeat: (p) => attempts.push(p.attempt) })));
      const b = await pushed(competitor!);
      assert.notEqual(a.commit, b.commit);
      assert.equal(await server.branchCommit(name, BRANCH), a.commit, 'A redid its push over B');
      assert.equal(Math.max(...attempts), 2);
    } finally {
      server.setRequestHook(undefined);
    }
    assert.equal(receivePackPosts(requestsBefore), 3, 'A (refused), B, A again');
    assert.equal((await server.git(name, ['rev-list', '--count', `main..${BRANCH}`])).trim(), '1');
    assert.match((await server.readBranch(name, BRANCH)).get('apps/podinfo/prod/release.yaml')!.toString(), /"6\.7\.1"/);
  });

  test('lease lost while the base also moved: the redo refetches the base and rebuilds on it', async () => {
    const { name, url } = await freshRepository();
    let newBase: string | undefined;
    server.setRequestHook(async ({ method, path }) => {
      if (method !== 'POST' || !path.endsWith('/git-receive-pack') || newBase !== undefined) return;
      newBase = await server.commitToBranch(name, 'main', { 'apps/other/late.yaml': 'late: true\n' });
      await server.git(name, ['update-ref', `refs/heads/${BRANCH}`, newBase]);
    });
    try {
      const result = await pushed(promoteInRepository(input(url, '6.7.1')));
      assert.equal(result.baseCommit, newBase);
      assert.equal((await server.git(name, ['rev-parse', `${BRANCH}^`])).trim(), newBase);
      assert.equal((await server.readBranch(name, BRANCH)).get('apps/other/late.yaml')?.toString(), 'late: true\n');
    } finally {
      server.setRequestHook(undefined);
    }
  });

  test('a push refused for another reason than the lease: non-retryable with the server reason', async () => {
    const { name, url } = await freshRepository();
    const hooks = join((await server.git(name, ['rev-parse', '--absolute-git-dir'])).trim(), 'hooks');
    await writeFile(join(hooks, 'pre-receive'), '#!/bin/sh\necho "branch protected" >&2\nexit 1\n', { mode: 0o755 });
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1')));
    assert.equal(error.type, FailureType.gitPushRejected);
    assert.match(error.message, /pre-receive hook declined/);
  });

  test('plain http:// is refused unless explicitly allowed, before any request', async () => {
    const { url } = await freshRepository();
    const requestsBefore = server.requests.length;
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { allowInsecureHttp: false })));
    assert.equal(error.type, FailureType.insecureRepositoryUrl);
    assert.equal(error.nonRetryable, true);
    assert.equal(server.requests.length, requestsBefore);
  });

  test('a host BATON_GIT_HOSTS does not allow is refused for good, before any request', async () => {
    const { url } = await freshRepository();
    const requestsBefore = server.requests.length;
    const allowedHosts = hostAllowlist(['git.example.com', '*.corp.example.com']);
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { allowedHosts })));
    assert.equal(error.type, FailureType.invalidRepositoryUrl);
    assert.equal(error.nonRetryable, true);
    assert.match(
      error.message,
      /names the host 127\.0\.0\.1, which BATON_GIT_HOSTS does not allow \(git\.example\.com, \*\.corp\.example\.com\)/,
    );
    assert.equal(server.requests.length, requestsBefore);

    await pushed(promoteInRepository(input(url, '6.7.1', { allowedHosts: hostAllowlist(['127.0.0.1']) })));
  });

  test('an object over the limit in the fetched pack fails for good, naming the repository', async () => {
    const { name, url } = await freshRepository();
    // Random bytes do not compress: the pack really carries the 2 MiB.
    await server.commitToBranch(name, 'main', { 'charts/vendored.tgz': randomBytes(2 * 1024 * 1024).toString('base64') });
    const error = await applicationFailure(promoteInRepository(input(url, '6.7.1', { limits: { maxObjectBytes: 1024 * 1024 } })));
    assert.equal(error.type, FailureType.gitServerAnswerRefused);
    assert.equal(error.nonRetryable, true);
    assert.match(
      error.message,
      new RegExp(
        `^refusing the answer of the git server ${url}: the object at byte \\d+ declares 2\\.7 MiB, over the 1 MiB limit of one git object$`,
      ),
    );
    assert.equal(await server.branchCommit(name, BRANCH), undefined, 'nothing pushed');
  });

  test('cancellation stops the work and still removes the work directory', async () => {
    const { url } = await freshRepository();
    const workRoot = await mkdtemp(join(tmpdir(), 'baton-work-'));
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const run = promoteInRepository(
      input(url, '6.7.1', { workRoot, signal: controller.signal, heartbeat: (p) => p.phase === 'fetch' && controller.abort(reason) }),
    );
    await assert.rejects(run, (error) => error === reason);
    assert.deepEqual(await readdir(workRoot), []);
    await rm(workRoot, { recursive: true });
  });
});

describe('the test git server', () => {
  test('accepts gzip request bodies, as the git CLI sends large negotiations', async () => {
    const { name, url } = await freshRepository();
    const want = await server.branchCommit(name, 'main');
    const pkt = (line: string): string => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;
    const body = gzipSync(Buffer.from(`${pkt(`want ${want} ofs-delta\n`)}0000${pkt('done\n')}`));
    const { username, password } = server.credentials;
    const response = await fetch(`${url}/git-upload-pack`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
      },
      body,
    });
    assert.equal(response.status, 200);
    const answer = Buffer.from(await response.arrayBuffer());
    assert.ok(answer.includes('PACK'), 'a packfile comes back');
  });
});

describe('promoteInRepository over HTTPS', () => {
  let tlsServer: GitServer;
  let url: string;

  before(async () => {
    tlsServer = await startGitServer({ tls: true });
    url = await tlsServer.createRepository('gitops', seedDir);
  });

  after(async () => {
    await tlsServer.close();
  });

  const tlsInput = (overrides: Partial<PromoteInRepositoryInput> = {}): PromoteInRepositoryInput => ({
    ...input(url, '6.7.1'),
    credentials: tlsServer.credentials,
    allowInsecureHttp: false,
    ...overrides,
  });

  test('trusts the Secret caFile for a server with a private CA', async () => {
    const caFile = await readFile(tlsServer.caFile!, 'utf8');
    await pushed(promoteInRepository(tlsInput({ caFile })));
    assert.ok(await tlsServer.branchCommit('gitops', BRANCH));
  });

  test('without the caFile the certificate is not trusted (retryable transport error)', async () => {
    const error = await promoteInRepository(tlsInput()).then(
      () => assert.fail('expected a TLS failure'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error && !(error instanceof ApplicationFailure));
    assert.match(error.message, /certificate/);
  });
});
