/** The explicit name → factory map, and the Secret's caFile trusted for a provider over TLS. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPullRequestProvider, PULL_REQUEST_PROVIDERS } from '../../../activities/providers/index.js';
import { FailureType } from '../../../model/failures.js';
import { GitProviderType } from '../../../model/pipeline.js';
import { type BitbucketServerApiFake, startBitbucketServerApi } from '../../fakes/bitbucket-server-api.js';
import { type GitHubApiFake, startGitHubApi } from '../../fakes/github-api.js';
import { assertFails, pullRequest, TOKEN } from './helpers.js';

void describe('pull-request providers by name', () => {
  test('exactly the Pipeline types github, gitlab and bitbucket-server', () => {
    assert.deepEqual(Object.keys(PULL_REQUEST_PROVIDERS).sort(), Object.values(GitProviderType).sort());
    for (const type of Object.values(GitProviderType)) assert.equal(createPullRequestProvider(type).name, type);
  });

  test('an unknown type is a non-retryable InvalidPipeline', async () => {
    await assertFails(
      Promise.resolve().then(() => createPullRequestProvider('gitea')),
      {
        type: FailureType.invalidPipeline,
        nonRetryable: true,
        message: /unknown pull-request provider type 'gitea': use one of github, gitlab, bitbucket-server/,
      },
    );
  });
});

void describe("a provider API over TLS with the Secret's caFile", () => {
  let dir: string;
  let cert: string;
  let bitbucket: BitbucketServerApiFake;
  let github: GitHubApiFake;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-ca-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert };
    bitbucket = await startBitbucketServerApi({ token: TOKEN, repositories: ['PLAT/gitops'], tls });
    github = await startGitHubApi({ token: TOKEN, repositories: ['o/gitops'], tls });
  });
  after(async () => {
    await bitbucket.close();
    await github.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('trusted through the caFile, added to the system roots: Bitbucket Server and GitHub open the PR', async () => {
    const viaBitbucket = await createPullRequestProvider('bitbucket-server').findOrCreate({
      ...pullRequest(`${bitbucket.webUrl}/scm/PLAT/gitops.git`),
      ca: cert,
    });
    assert.equal(viaBitbucket.created, true);
    const viaGitHub = await createPullRequestProvider('github', { baseUrl: github.baseUrl }).findOrCreate({
      ...pullRequest('https://ghe.example.com/o/gitops'),
      ca: cert,
    });
    assert.equal(viaGitHub.created, true);
  });

  test('without it, the self-signed certificate is refused (retryable: the Secret may be fixed)', async () => {
    await assertFails(createPullRequestProvider('bitbucket-server').findOrCreate(pullRequest(`${bitbucket.webUrl}/scm/PLAT/gitops.git`)), {
      type: FailureType.providerUnavailable,
      nonRetryable: false,
      message: /could not reach bitbucket-server .*self.signed certificate/i,
    });
  });
});
