/**
 * The GitLab provider (gitbeaker with Baton's one-request requester) against an HTTP-level fake of
 * GitLab's merge request API: subgroups, X-Next-Page pagination, 409 duplicates, typed failures.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createGitLabProvider, parseGitLabRepository } from '../../../activities/providers/gitlab.js';
import type { PullRequestProvider } from '../../../activities/providers/provider.js';
import { FailureType } from '../../../model/failures.js';
import { type GitLabApiFake, startGitLabApi } from '../../fakes/gitlab-api.js';
import { providerContract } from './contract.js';
import { assertFails, BASE, HEAD, pullRequest, TOKEN, WEAVE_METADATA } from './helpers.js';

const PROJECT = 'platform/apps/podinfo-gitops';

void describe('GitLab repository URLs', () => {
  test('host from the URL, the whole path (subgroups) as the project', () => {
    assert.deepEqual(parseGitLabRepository('https://gitlab.com/platform/podinfo-gitops.git'), {
      apiUrl: 'https://gitlab.com/api/v4',
      projectPath: 'platform/podinfo-gitops',
    });
    assert.deepEqual(parseGitLabRepository('https://gitlab.example.com:8443/platform/apps/team-a/podinfo-gitops'), {
      apiUrl: 'https://gitlab.example.com:8443/api/v4',
      projectPath: 'platform/apps/team-a/podinfo-gitops',
    });
  });

  test("a web URL's /-/ tail is ignored", () => {
    assert.equal(
      parseGitLabRepository('https://gitlab.com/platform/apps/podinfo-gitops/-/tree/main').projectPath,
      'platform/apps/podinfo-gitops',
    );
  });

  test('a URL without group and project is a non-retryable InvalidRepositoryUrl', async () => {
    for (const url of ['https://gitlab.com/podinfo', 'ssh://git@gitlab.com/a/b.git']) {
      await assertFails(
        Promise.resolve().then(() => parseGitLabRepository(url)),
        {
          type: FailureType.invalidRepositoryUrl,
          nonRetryable: true,
          message: /gitlab repository URL/,
        },
      );
    }
  });
});

void describe('GitLab provider against a fake GitLab API', () => {
  let gitlab: GitLabApiFake;
  let provider: PullRequestProvider;
  let repositoryUrl: string;

  before(async () => {
    gitlab = await startGitLabApi({ token: TOKEN, projects: [PROJECT], maxPageSize: 2 });
    repositoryUrl = `https://gitlab.example.com/${PROJECT}.git`;
    provider = createGitLabProvider({ baseUrl: gitlab.baseUrl, allowInsecureHttp: true });
  });
  after(() => gitlab.close());
  afterEach(() => {
    gitlab.mergeRequests(PROJECT).length = 0;
    gitlab.http.requests.length = 0;
  });

  test('opens the merge request with Weave title and metadata block, URL-encoded project path, Bearer token', async () => {
    const result = await provider.findOrCreate(pullRequest(repositoryUrl));
    const [mr, ...others] = gitlab.mergeRequests(PROJECT);
    assert.equal(others.length, 0);
    assert.deepEqual(result, {
      number: mr!.iid,
      url: `${gitlab.webUrl}/${PROJECT}/-/merge_requests/${mr!.iid}`,
      created: true,
      updated: false,
    });
    assert.equal(mr!.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
    assert.ok(mr!.description?.includes(WEAVE_METADATA));
    assert.equal(mr!.source_branch, HEAD);
    assert.equal(mr!.target_branch, BASE);

    const [list, create] = gitlab.http.requests;
    assert.equal(list?.path, '/api/v4/projects/platform%2Fapps%2Fpodinfo-gitops/merge_requests');
    assert.deepEqual(list?.query, { state: 'opened', source_branch: HEAD, target_branch: BASE, per_page: '100', page: '1' });
    assert.equal(create?.method, 'POST');
    assert.deepEqual(create?.body, { source_branch: HEAD, target_branch: BASE, title: mr!.title, description: mr!.description });
    assert.ok(gitlab.http.requests.every((r) => r.auth === 'Bearer'));
  });

  test('an open merge request for the branch is updated (title and description) and reused', async () => {
    const existing = gitlab.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, title: 'old', description: 'old' });
    const result = await provider.findOrCreate(pullRequest(repositoryUrl, '6.7.2'));
    assert.deepEqual(result, {
      number: existing.iid,
      url: `${gitlab.webUrl}/${PROJECT}/-/merge_requests/${existing.iid}`,
      created: false,
      updated: true,
    });
    assert.equal(gitlab.mergeRequests(PROJECT).length, 1);
    assert.equal(existing.title, 'Promote flux-system/podinfo-02 in staging to 6.7.2');
    assert.ok(existing.description?.includes(WEAVE_METADATA));
    assert.deepEqual(
      gitlab.http.requests.map((r) => r.method),
      ['GET', 'PUT'],
    );
  });

  test('a 409 on create (the list did not show it yet) finds and updates that merge request', async () => {
    const existing = gitlab.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, title: 'old' });
    gitlab.http.respondNext({ method: 'GET', status: 200, body: [], headers: { 'x-next-page': '', 'x-page': '1' } });
    const result = await provider.findOrCreate(pullRequest(repositoryUrl));
    assert.equal(result.number, existing.iid);
    assert.equal(result.created, false);
    assert.equal(gitlab.mergeRequests(PROJECT).length, 1);
    assert.deepEqual(
      gitlab.http.requests.map((r) => r.method),
      ['GET', 'POST', 'GET', 'PUT'],
    );
  });

  test('a 409 for a merge request this promotion cannot reuse is a non-retryable PullRequestRejected', async () => {
    gitlab.http.respondNext({
      method: 'POST',
      status: 409,
      body: { message: ['Another open merge request already exists for this source branch: !9'] },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.pullRequestRejected,
      nonRetryable: true,
      message: /another one exists \(Another open merge request already exists for this source branch: !9\)/,
    });
  });

  test('follows X-Next-Page and filters source, target and fork itself', async () => {
    const loose = await startGitLabApi({ token: TOKEN, projects: [PROJECT], maxPageSize: 2, ignoreListFilters: true });
    try {
      const target = loose.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, title: 'old' });
      loose.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: 'release-1' });
      loose.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, source_project_id: 999 });
      loose.seedMergeRequest(PROJECT, { source_branch: 'feature', target_branch: BASE });
      loose.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, state: 'closed' });
      const result = await createGitLabProvider({ baseUrl: loose.baseUrl, allowInsecureHttp: true }).findOrCreate(
        pullRequest(repositoryUrl),
      );
      assert.equal(result.number, target.iid);
      assert.equal(result.created, false);
      const pages = loose.http.requests.filter((r) => r.method === 'GET').map((r) => r.query.page);
      assert.deepEqual(pages, ['1', '2'], 'the merge request is on page 2 (the closed one is not listed)');
      assert.equal(loose.mergeRequests(PROJECT).length, 5);
    } finally {
      await loose.close();
    }
  });

  test('a bad token is a non-retryable ProviderTokenRejected without the token', async () => {
    await assertFails(
      provider.findOrCreate(pullRequest(repositoryUrl, '6.7.1', 'glpat-wrong-token')),
      {
        type: FailureType.providerTokenRejected,
        nonRetryable: true,
        message: /^token rejected by gitlab for gitlab\.example\.com\/platform\/apps\/podinfo-gitops \(401: 401 Unauthorized\)/,
      },
      'glpat-wrong-token',
    );
  });

  test('404 is a non-retryable RepositoryNotFound', async () => {
    await assertFails(provider.findOrCreate(pullRequest('https://gitlab.example.com/platform/apps/missing')), {
      type: FailureType.repositoryNotFound,
      nonRetryable: true,
      message: /^repository not found: gitlab\.example\.com\/platform\/apps\/missing \(gitlab answered 404: 404 Project Not Found/,
    });
  });

  test('429 with Retry-After is retryable with that delay (no hidden client-side retries)', async () => {
    gitlab.http.respondNext({
      status: 429,
      body: 'Retry later\n',
      headers: { 'retry-after': '42', 'ratelimit-limit': '600', 'ratelimit-remaining': '0', 'ratelimit-reset': '1893456000' },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerRateLimited,
      nonRetryable: false,
      message: /gitlab rate-limited listing open merge requests .*Retry later.*retrying in 42s/,
      nextRetryDelay: 42_000,
    });
    assert.equal(gitlab.http.requests.length, 1);
  });

  test('502 is a retryable ProviderUnavailable, tried once', async () => {
    gitlab.http.respondNext({
      method: 'POST',
      status: 502,
      body: '<html>502 Bad Gateway</html>',
      headers: { 'content-type': 'text/html' },
    });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /gitlab failed opening the merge request .*502/,
    });
    assert.deepEqual(
      gitlab.http.requests.map((r) => r.method),
      ['GET', 'POST'],
    );
  });

  test('503 with Retry-After is retryable with that delay', async () => {
    gitlab.http.respondNext({ status: 503, body: { message: 'maintenance' }, headers: { 'retry-after': '120' } });
    await assertFails(provider.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /503: maintenance/,
      nextRetryDelay: 120_000,
    });
  });

  test('an API root that is not /api/v4 is refused', async () => {
    const wrong = createGitLabProvider({ baseUrl: `${gitlab.webUrl}/api/v3`, allowInsecureHttp: true });
    await assertFails(wrong.findOrCreate(pullRequest(repositoryUrl)), {
      type: FailureType.invalidRepositoryUrl,
      nonRetryable: true,
      message: /does not end in \/api\/v4/,
    });
  });
});

providerContract(async () => {
  const fake = await startGitLabApi({ token: TOKEN, projects: [PROJECT] });
  return {
    name: 'gitlab',
    http: fake.http,
    provider: createGitLabProvider({ baseUrl: fake.baseUrl, allowInsecureHttp: true }),
    repositoryUrl: `https://gitlab.example.com/${PROJECT}`,
    missingRepositoryUrl: 'https://gitlab.example.com/platform/apps/missing',
    seedOpen: (title, description) => fake.seedMergeRequest(PROJECT, { source_branch: HEAD, target_branch: BASE, title, description }).iid,
    pulls: () => fake.mergeRequests(PROJECT).map((mr) => ({ number: mr.iid, title: mr.title, body: mr.description ?? '' })),
    merge: (number, who) => void fake.merge(PROJECT, number, who),
    closeWithoutMerging: (number, who) => void fake.closeMergeRequest(PROJECT, number, who),
    reopen: (number) => void fake.reopen(PROJECT, number),
    reset() {
      fake.mergeRequests(PROJECT).length = 0;
      fake.http.requests.length = 0;
    },
    validationError: {
      status: 422,
      body: { message: ['Validation failed: Target branch does not exist'] },
      message: /gitlab refused opening the merge request .*422: Validation failed: Target branch does not exist/,
    },
    close: () => fake.close(),
  };
});
