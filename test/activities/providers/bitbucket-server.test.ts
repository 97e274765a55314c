/**
 * The Bitbucket Server provider against an HTTP-level fake of its REST 1.0 API: both URL shapes,
 * a context path, isLastPage/nextPageStart paging, DuplicatePullRequestException, optimistic
 * locking on update, typed failures.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createBitbucketServerProvider, parseBitbucketServerRepository } from '../../../activities/providers/bitbucket-server.js';
import type { PullRequestProvider } from '../../../activities/providers/provider.js';
import { FailureType } from '../../../model/failures.js';
import { type BitbucketServerApiFake, startBitbucketServerApi } from '../../fakes/bitbucket-server-api.js';
import { providerContract } from './contract.js';
import { assertFails, BASE, HEAD, pullRequest, TOKEN, WEAVE_METADATA } from './helpers.js';

const REPO = 'PLAT/podinfo-gitops';

void describe('Bitbucket Server repository URLs', () => {
  test('clone URL /scm/KEY/repo.git', () => {
    assert.deepEqual(parseBitbucketServerRepository('https://bitbucket.example.com/scm/PLAT/podinfo-gitops.git'), {
      apiUrl: 'https://bitbucket.example.com/rest/api/1.0',
      projectKey: 'PLAT',
      slug: 'podinfo-gitops',
    });
  });

  test('browser URL /projects/KEY/repos/repo, with a trailing page', () => {
    assert.deepEqual(parseBitbucketServerRepository('https://bitbucket.example.com/projects/PLAT/repos/podinfo-gitops/browse'), {
      apiUrl: 'https://bitbucket.example.com/rest/api/1.0',
      projectKey: 'PLAT',
      slug: 'podinfo-gitops',
    });
  });

  test('a context path is kept in the API root, for both shapes', () => {
    for (const url of [
      'https://example.com:7990/bitbucket/scm/PLAT/podinfo-gitops.git',
      'https://example.com:7990/bitbucket/projects/PLAT/repos/podinfo-gitops',
    ]) {
      assert.deepEqual(parseBitbucketServerRepository(url), {
        apiUrl: 'https://example.com:7990/bitbucket/rest/api/1.0',
        projectKey: 'PLAT',
        slug: 'podinfo-gitops',
      });
    }
  });

  test('personal repositories: /scm/~user/repo.git and /users/user/repos/repo', () => {
    assert.equal(parseBitbucketServerRepository('https://bb.example.com/scm/~jdoe/gitops.git').projectKey, '~jdoe');
    assert.equal(parseBitbucketServerRepository('https://bb.example.com/users/jdoe/repos/gitops/browse').projectKey, '~jdoe');
  });

  test('other shapes are a non-retryable InvalidRepositoryUrl', async () => {
    for (const url of [
      'https://bb.example.com/PLAT/podinfo-gitops',
      'https://bb.example.com/scm/PLAT',
      'ssh://git@bb.example.com:7999/plat/podinfo-gitops.git',
    ]) {
      await assertFails(
        Promise.resolve().then(() => parseBitbucketServerRepository(url)),
        {
          type: FailureType.invalidRepositoryUrl,
          nonRetryable: true,
          message: /bitbucket-server repository URL/,
        },
      );
    }
  });
});

void describe('Bitbucket Server provider against a fake Bitbucket Server API', () => {
  let bitbucket: BitbucketServerApiFake;
  let provider: PullRequestProvider;
  let cloneUrl: string;

  before(async () => {
    bitbucket = await startBitbucketServerApi({ token: TOKEN, repositories: [REPO], contextPath: '/bitbucket', maxPageSize: 2 });
    cloneUrl = `${bitbucket.webUrl}/scm/${REPO}.git`;
    // The API root is derived from the URL here (context path included): no baseUrl override.
    provider = createBitbucketServerProvider({ allowInsecureHttp: true });
  });
  after(() => bitbucket.close());
  afterEach(() => {
    bitbucket.pulls(REPO).length = 0;
    bitbucket.http.requests.length = 0;
  });

  test('opens the PR with Weave title and metadata block from refs/heads/<head> to refs/heads/<base>', async () => {
    const result = await provider.findOrCreate(pullRequest(cloneUrl));
    const [pull, ...others] = bitbucket.pulls(REPO);
    assert.equal(others.length, 0);
    assert.deepEqual(result, {
      number: pull!.id,
      url: `${bitbucket.webUrl}/projects/PLAT/repos/podinfo-gitops/pull-requests/${pull!.id}`,
      created: true,
      updated: false,
    });
    assert.equal(pull!.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.ok(pull!.description.includes(WEAVE_METADATA));
    assert.equal(pull!.fromRef, `refs/heads/${HEAD}`);
    assert.equal(pull!.toRef, `refs/heads/${BASE}`);

    const [list, create] = bitbucket.http.requests;
    assert.equal(list?.path, '/bitbucket/rest/api/1.0/projects/PLAT/repos/podinfo-gitops/pull-requests');
    assert.deepEqual(list?.query, {
      state: 'OPEN',
      direction: 'OUTGOING',
      at: `refs/heads/${HEAD}`,
      order: 'NEWEST',
      limit: '100',
      start: '0',
    });
    assert.equal(create?.method, 'POST');
    assert.deepEqual(create?.body, {
      title: pull!.title,
      description: pull!.description,
      state: 'OPEN',
      open: true,
      closed: false,
      locked: false,
      fromRef: { id: `refs/heads/${HEAD}`, repository: { slug: 'podinfo-gitops', project: { key: 'PLAT' } } },
      toRef: { id: `refs/heads/${BASE}`, repository: { slug: 'podinfo-gitops', project: { key: 'PLAT' } } },
    });
    assert.ok(bitbucket.http.requests.every((r) => r.auth === 'Bearer'));
  });

  test('the browser URL shape reaches the same repository', async () => {
    const result = await provider.findOrCreate(pullRequest(`${bitbucket.webUrl}/projects/PLAT/repos/podinfo-gitops/browse`));
    assert.equal(result.created, true);
    assert.equal(bitbucket.pulls(REPO).length, 1);
  });

  test('an open PR for the branch is updated (title, description, with its version) and reused', async () => {
    const existing = bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title: 'old', description: 'old', version: 3 });
    const result = await provider.findOrCreate(pullRequest(cloneUrl, '6.7.2'));
    assert.deepEqual(result, {
      number: existing.id,
      url: `${bitbucket.webUrl}/projects/PLAT/repos/podinfo-gitops/pull-requests/${existing.id}`,
      created: false,
      updated: true,
    });
    assert.equal(bitbucket.pulls(REPO).length, 1);
    assert.equal(existing.title, 'Promote flux-system/podinfo-02 in staging to 6.7.2');
    assert.ok(existing.description.includes(WEAVE_METADATA));
    assert.equal(existing.version, 4);
    const put = bitbucket.http.requests.find((r) => r.method === 'PUT');
    assert.deepEqual(put?.body, { version: 3, title: existing.title, description: existing.description });
  });

  test('409 DuplicatePullRequestException (the list did not show it yet) reuses the PR it names', async () => {
    const existing = bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title: 'old' });
    bitbucket.http.respondNext({ method: 'GET', status: 200, body: { size: 0, limit: 100, isLastPage: true, start: 0, values: [] } });
    const result = await provider.findOrCreate(pullRequest(cloneUrl));
    assert.equal(result.number, existing.id);
    assert.equal(result.created, false);
    assert.equal(bitbucket.pulls(REPO).length, 1);
    assert.deepEqual(
      bitbucket.http.requests.map((r) => r.method),
      ['GET', 'POST', 'PUT'],
    );
  });

  test('409 DuplicatePullRequestException without the existing PR: found again by listing', async () => {
    const older = await startBitbucketServerApi({ token: TOKEN, repositories: [REPO], omitExistingOnDuplicate: true });
    try {
      const existing = older.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title: 'old' });
      older.http.respondNext({ method: 'GET', status: 200, body: { size: 0, limit: 100, isLastPage: true, start: 0, values: [] } });
      const result = await createBitbucketServerProvider({ allowInsecureHttp: true }).findOrCreate(
        pullRequest(`${older.webUrl}/scm/${REPO}.git`),
      );
      assert.equal(result.number, existing.id);
      assert.deepEqual(
        older.http.requests.map((r) => r.method),
        ['GET', 'POST', 'GET', 'PUT'],
      );
    } finally {
      await older.close();
    }
  });

  test('finds the PR on page 2 (isLastPage/nextPageStart), skipping other targets and forks', async () => {
    bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title: 'old', description: 'old' });
    bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: 'release-1' });
    bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, fromRepository: 'PLAT/podinfo-gitops-fork' });
    const target = bitbucket.pulls(REPO)[0]!;
    const result = await provider.findOrCreate(pullRequest(cloneUrl));
    assert.equal(result.number, target.id);
    assert.equal(result.created, false);
    const starts = bitbucket.http.requests.filter((r) => r.method === 'GET').map((r) => r.query.start);
    assert.deepEqual(starts, ['0', '2']);
  });

  test('a PR edited by someone else in between (PullRequestOutOfDateException) is re-read and updated', async () => {
    const existing = bitbucket.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title: 'old' });
    bitbucket.http.respondNext({
      method: 'GET',
      path: /pull-requests$/,
      status: 200,
      body: {
        size: 1,
        limit: 100,
        isLastPage: true,
        start: 0,
        values: [
          {
            id: existing.id,
            version: 0,
            title: 'old',
            description: '',
            state: 'OPEN',
            fromRef: { id: `refs/heads/${HEAD}`, repository: { slug: 'podinfo-gitops', project: { key: 'PLAT' } } },
            toRef: { id: `refs/heads/${BASE}`, repository: { slug: 'podinfo-gitops', project: { key: 'PLAT' } } },
          },
        ],
      },
    });
    bitbucket.touch(REPO, existing.id);
    const result = await provider.findOrCreate(pullRequest(cloneUrl));
    assert.equal(result.updated, true);
    assert.equal(existing.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.deepEqual(
      bitbucket.http.requests.map((r) => r.method),
      ['GET', 'PUT', 'GET', 'PUT'],
    );
  });

  test('a bad token is a non-retryable ProviderTokenRejected without the token', async () => {
    await assertFails(
      provider.findOrCreate(pullRequest(cloneUrl, '6.7.1', 'BBDC-wrong-token')),
      {
        type: FailureType.providerTokenRejected,
        nonRetryable: true,
        message:
          /^token rejected by bitbucket-server for 127\.0\.0\.1:\d+\/bitbucket\/scm\/PLAT\/podinfo-gitops \(401: Authentication failed/,
      },
      'BBDC-wrong-token',
    );
  });

  test('an unknown repository is a non-retryable RepositoryNotFound', async () => {
    await assertFails(provider.findOrCreate(pullRequest(`${bitbucket.webUrl}/scm/PLAT/missing.git`)), {
      type: FailureType.repositoryNotFound,
      nonRetryable: true,
      message: /^repository not found: .*\/scm\/PLAT\/missing \(bitbucket-server answered 404: Repository PLAT\/missing does not exist\./,
    });
  });

  test('429 with Retry-After is retryable with that delay', async () => {
    bitbucket.http.respondNext({
      status: 429,
      headers: { 'retry-after': '5', 'x-ratelimit-limit': '60', 'x-ratelimit-interval-seconds': '1', 'x-ratelimit-fill-rate': '5' },
      body: { errors: [{ context: null, message: 'You have been rate limited.', exceptionName: null }] },
    });
    await assertFails(provider.findOrCreate(pullRequest(cloneUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /bitbucket-server rate-limited listing open pull requests .*retrying in 5s/,
      nextRetryDelay: 5_000,
    });
  });

  test('429 with an HTTP-date Retry-After is measured against the clock', async () => {
    const now = new Date('2026-11-22T02:00:00Z');
    const clocked = createBitbucketServerProvider({ allowInsecureHttp: true, now: () => now });
    bitbucket.http.respondNext({ status: 429, headers: { 'retry-after': 'Sun, 22 Nov 2026 02:00:30 GMT' }, body: { errors: [] } });
    await assertFails(clocked.findOrCreate(pullRequest(cloneUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /rate-limited/,
      nextRetryDelay: 30_000,
    });
  });

  test('500 is a retryable ProviderUnavailable', async () => {
    bitbucket.http.respondNext({ method: 'POST', status: 500, body: { errors: [{ message: 'An internal error occurred' }] } });
    await assertFails(provider.findOrCreate(pullRequest(cloneUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /bitbucket-server failed opening the pull request .*500: An internal error occurred/,
    });
  });

  test('other refusals (e.g. nothing to merge) are non-retryable PullRequestRejected', async () => {
    bitbucket.http.respondNext({
      method: 'POST',
      status: 409,
      body: {
        errors: [
          {
            message: `Repository "podinfo-gitops" of project PLAT is already up-to-date with ${HEAD}.`,
            exceptionName: 'com.atlassian.bitbucket.pull.EmptyPullRequestException',
          },
        ],
      },
    });
    await assertFails(provider.findOrCreate(pullRequest(cloneUrl)), {
      type: FailureType.pullRequestRejected,
      nonRetryable: true,
      message: /already up-to-date/,
    });
  });
});

providerContract(async () => {
  const fake = await startBitbucketServerApi({ token: TOKEN, repositories: [REPO] });
  return {
    name: 'bitbucket-server',
    http: fake.http,
    provider: createBitbucketServerProvider({ allowInsecureHttp: true }),
    repositoryUrl: `${fake.webUrl}/scm/${REPO}.git`,
    missingRepositoryUrl: `${fake.webUrl}/scm/PLAT/missing.git`,
    seedOpen: (title, description) => fake.seedPull(REPO, { fromBranch: HEAD, toBranch: BASE, title, description }).id,
    pulls: () => fake.pulls(REPO).map((p) => ({ number: p.id, title: p.title, body: p.description })),
    merge: (number, who) => void fake.merge(REPO, number, who),
    closeWithoutMerging: (number, who) => void fake.decline(REPO, number, who),
    reopen: (number, who) => void fake.reopen(REPO, number, who),
    reset() {
      fake.pulls(REPO).length = 0;
      fake.http.requests.length = 0;
    },
    validationError: {
      status: 400,
      body: {
        errors: [
          { message: 'The target branch does not exist.', exceptionName: 'com.atlassian.bitbucket.validation.ArgumentValidationException' },
        ],
      },
      message: /bitbucket-server refused opening the pull request .*400: The target branch does not exist\./,
    },
    close: () => fake.close(),
  };
});
