/**
 * The GitHub provider against an HTTP-level fake of GitHub's REST API (GitHub Enterprise style,
 * `/api/v3`): one PR per promotion branch, typed failures, `Retry-After` as the next retry delay.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createGitHubProvider, parseGitHubRepository } from '../../../activities/providers/github.js';
import type { PullRequestProvider } from '../../../activities/providers/provider.js';
import { FailureType } from '../../../model/failures.js';
import { type GitHubApiFake, startGitHubApi } from '../../fakes/github-api.js';
import { providerContract } from './contract.js';
import { assertFails, BASE, HEAD, pullRequest, TOKEN, WEAVE_METADATA } from './helpers.js';

const REPO = 'weaveworks/podinfo-gitops';

void describe('GitHub repository URLs', () => {
  test('github.com uses api.github.com', () => {
    assert.deepEqual(parseGitHubRepository('https://github.com/weaveworks/podinfo-gitops'), {
      apiUrl: 'https://api.github.com',
      owner: 'weaveworks',
      repo: 'podinfo-gitops',
    });
    assert.deepEqual(parseGitHubRepository('https://github.com/weaveworks/podinfo-gitops.git/'), {
      apiUrl: 'https://api.github.com',
      owner: 'weaveworks',
      repo: 'podinfo-gitops',
    });
  });

  test('GitHub Enterprise Server uses https://<host>/api/v3, port kept; GHE.com uses api.<host>', () => {
    assert.deepEqual(parseGitHubRepository('https://github.example.com/platform/gitops.git'), {
      apiUrl: 'https://github.example.com/api/v3',
      owner: 'platform',
      repo: 'gitops',
    });
    assert.equal(parseGitHubRepository('https://ghe.internal:8443/platform/gitops').apiUrl, 'https://ghe.internal:8443/api/v3');
    assert.equal(parseGitHubRepository('https://octo.ghe.com/platform/gitops').apiUrl, 'https://api.octo.ghe.com');
  });

  test('credentials in the URL are not kept; other shapes are non-retryable InvalidRepositoryUrl', async () => {
    assert.equal(parseGitHubRepository('https://x:secret@github.com/o/r').owner, 'o');
    for (const url of ['git@github.com:o/r.git', 'https://github.com/o', 'https://github.com/o/r/tree/main', 'not a url']) {
      await assertFails(
        Promise.resolve().then(() => parseGitHubRepository(url)),
        {
          type: FailureType.invalidRepositoryUrl,
          nonRetryable: true,
          message: /github repository URL/,
        },
      );
    }
  });
});

void describe('GitHub provider against a fake GitHub API', () => {
  let github: GitHubApiFake;
  let provider: PullRequestProvider;
  let repositoryUrl: string;
  let fixed: Date;

  before(async () => {
    github = await startGitHubApi({ token: TOKEN, repositories: [REPO], maxPageSize: 2 });
    repositoryUrl = `https://github.example.com/${REPO}.git`;
    fixed = new Date('2026-11-22T02:00:00Z');
    provider = createGitHubProvider({ baseUrl: github.baseUrl, allowInsecureHttp: true, userAgent: 'baton-test', now: () => fixed });
  });
  after(() => github.close());
  afterEach(() => {
    github.pulls(REPO).length = 0;
    github.http.requests.length = 0;
  });

  test('opens the PR with Weave title and metadata block, after looking for an open one', async () => {
    const result = await provider.findOrCreate(pullRequest(repositoryUrl));
    const pulls = github.pulls(REPO);
    assert.equal(pulls.length, 1);
    const [pull] = pulls;
    assert.deepEqual(result, { number: pull!.number, url: `${github.webUrl}/${REPO}/pull/${pull!.number}`, created: true, updated: false });
    assert.equal(pull!.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.ok(pull!.body?.includes(WEAVE_METADATA));
    assert.equal(pull!.head, HEAD);
    assert.equal(pull!.base, BASE);

    const [list, create] = github.http.requests;
    assert.equal(list?.method, 'GET');
    assert.deepEqual(list?.query, { state: 'open', head: `weaveworks:${HEAD}`, base: BASE, per_page: '100' });
    assert.equal(create?.method, 'POST');
    assert.equal(create?.path, `/api/v3/repos/${REPO}/pulls`);
    assert.deepEqual(create?.body, { title: pull!.title, body: pull!.body, head: HEAD, base: BASE });
    assert.ok(github.http.requests.every((r) => r.auth === 'token'));
  });

  test('an open PR for the branch is updated (title and body) and reused, not duplicated', async () => {
    const existing = github.seedPull(REPO, {
      head: HEAD,
      base: BASE,
      title: 'Promote flux-system/podinfo-02 in staging to 6.7.0',
      body: 'old',
    });
    const result = await provider.findOrCreate(pullRequest(repositoryUrl, '6.7.1'));
    assert.deepEqual(result, {
      number: existing.number,
      url: `${github.webUrl}/${REPO}/pull/${existing.number}`,
      created: false,
      updated: true,
    });
    assert.equal(github.pulls(REPO).length, 1);
    assert.equal(existing.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.ok(existing.body?.includes(WEAVE_METADATA));
    assert.deepEqual(
      github.http.requests.map((r) => r.method),
      ['GET', 'PATCH'],
    );

    // The same promotion again (a retried activity): nothing left to change.
    github.http.requests.length = 0;
    const again = await provider.findOrCreate(pullRequest(repositoryUrl, '6.7.1'));
    assert.deepEqual(again, { ...result, updated: false });
    assert.deepEqual(
      github.http.requests.map((r) => r.method),
      ['GET'],
    );
  });

  test('a 422 "already exists" on create (the list did not show it yet) finds and updates that PR', async () => {
    const existing = github.seedPull(REPO, { head: HEAD, base: BASE, title: 'old', body: 'old' });
    github.http.respondNext({ method: 'GET', path: '/pulls', status: 200, body: [] });
    const result = await provider.findOrCreate(pullRequest(repositoryUrl));
    assert.equal(result.number, existing.number);
    assert.equal(result.created, false);
    assert.equal(github.pulls(REPO).length, 1);
    assert.equal(existing.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.deepEqual(
      github.http.requests.map((r) => r.method),
      ['GET', 'POST', 'GET', 'PATCH'],
    );
  });

  test('follows Link pagination and filters head, base and fork itself', async () => {
    const loose = await startGitHubApi({ token: TOKEN, repositories: [REPO], maxPageSize: 2, ignoreListFilters: true });
    try {
      const target = loose.seedPull(REPO, { head: HEAD, base: BASE, title: 'old', body: 'old' });
      loose.seedPull(REPO, { head: HEAD, base: 'release-1', title: 'other base' });
      loose.seedPull(REPO, { head: HEAD, base: BASE, headRepository: 'someone/podinfo-gitops', title: 'fork' });
      loose.seedPull(REPO, { head: 'feature', base: BASE, title: 'other head' });
      loose.seedPull(REPO, { head: 'feature-2', base: BASE, title: 'newest' });
      const looseProvider = createGitHubProvider({ baseUrl: loose.baseUrl, allowInsecureHttp: true });
      const result = await looseProvider.findOrCreate(pullRequest(repositoryUrl));
      assert.equal(result.number, target.number);
      assert.equal(result.created, false);
      const lists = loose.http.requests.filter((r) => r.method === 'GET');
      assert.equal(lists.length, 3, 'the PR is on the third page of two');
      assert.equal(lists[2]?.query.page, '3');
      assert.equal(loose.pulls(REPO).length, 5);
    } finally {
      await loose.close();
    }
  });

  test('a bad token is a non-retryable ProviderTokenRejected that names the repository, not the token', async () => {
    const failure = await assertFails(
      provider.findOrCreate(pullRequest(repositoryUrl, '6.7.1', 'wrong-token-value')),
      {
        type: FailureType.providerTokenRejected,
        nonRetryable: true,
        message: /^token rejected by github for github\.example\.com\/weaveworks\/podinfo-gitops \(401: Bad credentials\)/,
      },
      'wrong-token-value',
    );
    assert.deepEqual(failure.details, [{ provider: 'github', repository: 'github.example.com/weaveworks/podinfo-gitops', status: 401 }]);
  });

  test('403 without rate-limit signs (missing permission) is a non-retryable ProviderTokenRejected', async () => {
    github.http.respondNext({
      status: 403,
      body: {
        message: 'Resource not accessible by personal access token',
        documentation_url: 'https://docs.github.com/rest',
        status: '403',
      },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerTokenRejected,
      nonRetryable: true,
      message: /token rejected by github .*Resource not accessible/,
    });
  });

  test('404 is a non-retryable RepositoryNotFound', async () => {
    await assertFails(provider.findOrCreate(pullRequest('https://github.example.com/weaveworks/missing')), {
      type: FailureType.repositoryNotFound,
      nonRetryable: true,
      message: /^repository not found: github\.example\.com\/weaveworks\/missing/,
    });
  });

  test('429 with Retry-After is retryable with that delay', async () => {
    github.http.respondNext({ status: 429, headers: { 'retry-after': '17' }, body: { message: 'Too many requests' } });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /github rate-limited listing open pull requests .*retrying in 17s/,
      nextRetryDelay: 17_000,
    });
  });

  test('a secondary rate limit (403 + retry-after) on create is retryable with that delay', async () => {
    github.http.respondNext({
      method: 'POST',
      status: 403,
      headers: { 'retry-after': '60' },
      body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /secondary rate limit/,
      nextRetryDelay: 60_000,
    });
  });

  test('an exhausted primary limit (403, x-ratelimit-remaining 0) waits until x-ratelimit-reset', async () => {
    const reset = Math.floor(fixed.getTime() / 1000) + 90;
    github.http.respondNext({
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded for user ID 1.' },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /rate-limited/,
      nextRetryDelay: 90_000,
    });
  });

  test('a secondary limit without headers waits one minute, as GitHub documents', async () => {
    github.http.respondNext({ status: 403, body: { message: 'You have exceeded a secondary rate limit.' } });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /rate-limited/,
      nextRetryDelay: 60_000,
    });
  });

  test('5xx is a retryable ProviderUnavailable', async () => {
    github.http.respondNext({ method: 'PATCH', status: 502, body: 'Bad Gateway' });
    github.seedPull(REPO, { head: HEAD, base: BASE, title: 'old' });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /github failed updating pull request #\d+ .*502/,
      nextRetryDelay: null,
    });
  });

  test('an unreachable API is a retryable ProviderUnavailable', async () => {
    const gone = await startGitHubApi({ token: TOKEN, repositories: [REPO] });
    await gone.close();
    const unreachable = createGitHubProvider({ baseUrl: gone.baseUrl, allowInsecureHttp: true });
    await assertFails(unreachable.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /could not reach github while listing open pull requests/,
    });
  });

  test('an API that does not answer within the timeout is a retryable ProviderUnavailable', async () => {
    github.http.respondNext({ status: 200, body: [], delayMs: 2_000 });
    const impatient = createGitHubProvider({ baseUrl: github.baseUrl, allowInsecureHttp: true, timeoutMs: 100 });
    await assertFails(impatient.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /could not reach github while listing open pull requests .*timeout/i,
    });
  });

  test('other 422s (e.g. no commits between the branches) are non-retryable PullRequestRejected', async () => {
    github.http.respondNext({
      method: 'POST',
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${BASE} and ${HEAD}` }],
      },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.pullRequestRejected,
      nonRetryable: true,
      message: /github refused opening the pull request .*No commits between/,
    });
  });

  test('refuses to send the token to a plain-http API unless allowed', async () => {
    const strict = createGitHubProvider({ baseUrl: github.baseUrl });
    await assertFails(strict.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.invalidRepositoryUrl,
      nonRetryable: true,
      message: /plain-http API/,
    });
    assert.equal(github.http.requests.length, 0);
  });
});

providerContract(async () => {
  const fake = await startGitHubApi({ token: TOKEN, repositories: [REPO] });
  return {
    name: 'github',
    http: fake.http,
    provider: createGitHubProvider({ baseUrl: fake.baseUrl, allowInsecureHttp: true }),
    repositoryUrl: `https://github.example.com/${REPO}`,
    missingRepositoryUrl: 'https://github.example.com/weaveworks/missing',
    seedOpen: (title, body) => fake.seedPull(REPO, { head: HEAD, base: BASE, title, body }).number,
    pulls: () => fake.pulls(REPO).map((p) => ({ number: p.number, title: p.title, body: p.body ?? '' })),
    merge: (number, who) => void fake.mergePull(REPO, number, who),
    closeWithoutMerging: (number, who) => void fake.closePull(REPO, number, who),
    reopen: (number) => void fake.reopenPull(REPO, number),
    reset() {
      fake.pulls(REPO).length = 0;
      fake.http.requests.length = 0;
    },
    validationError: {
      status: 422,
      body: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'base', code: 'invalid' }] },
      message: /github refused opening the pull request .*422: Validation Failed: base invalid/,
    },
    close: () => fake.close(),
  };
});
