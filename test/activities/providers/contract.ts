/** The cases every provider must pass, run by each provider's test file against that provider's fake. */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { PullRequestProvider } from '../../../activities/providers/provider.js';
import { FailureType } from '../../../model/failures.js';
import type { FakeResponse, HttpFake } from '../../fakes/http-fake.js';
import { assertFails, pullRequest, TOKEN, WEAVE_METADATA } from './helpers.js';

export interface ContractSubject {
  /** `github`, `gitlab`, `bitbucket-server`. */
  name: string;
  http: HttpFake;
  /** A provider configured for the fake (API root, plain http on loopback). */
  provider: PullRequestProvider;
  repositoryUrl: string;
  /** A repository the fake does not have. */
  missingRepositoryUrl: string;
  /** An open pull request from HEAD into BASE, as if a previous promotion had opened it. */
  seedOpen(title: string, body: string): number;
  /** Someone merges, closes without merging, or reopens the pull request (on the provider's side). */
  merge(number: number, who: string): void;
  closeWithoutMerging(number: number, who: string): void;
  reopen(number: number, who: string): void;
  /** Every pull request of the repository. */
  pulls(): { number: number; title: string; body: string }[];
  /** Forget pull requests and recorded requests. */
  reset(): void;
  /** The provider's answer to an invalid pull request (its own status and body shape). */
  validationError: FakeResponse & { message: RegExp };
  close(): Promise<void>;
}

export function providerContract(start: () => Promise<ContractSubject>): void {
  void describe('the provider contract', () => {
    let s: ContractSubject;
    before(async () => {
      s = await start();
    });
    after(() => s.close());
    afterEach(() => s.reset());

    test('creates the pull request when none is open', async () => {
      const result = await s.provider.findOrCreate(pullRequest(s.repositoryUrl));
      const [pull, ...others] = s.pulls();
      assert.equal(others.length, 0);
      assert.equal(result.created, true);
      assert.equal(result.number, pull?.number);
      assert.equal(pull?.title, 'Promote flux-system/podinfo-02 in staging to 6.7.1');
      assert.ok(pull?.body.endsWith(WEAVE_METADATA));
    });

    test('finds the open pull request and leaves it alone when it is current', async () => {
      const current = pullRequest(s.repositoryUrl);
      const number = s.seedOpen(current.title, current.body);
      const result = await s.provider.findOrCreate(current);
      assert.deepEqual({ ...result, url: '' }, { number, url: '', created: false, updated: false });
      assert.deepEqual(
        s.http.requests.map((r) => r.method),
        ['GET'],
      );
    });

    test('updates the open pull request with the new title and body', async () => {
      const number = s.seedOpen('old', 'old');
      const result = await s.provider.findOrCreate(pullRequest(s.repositoryUrl, '6.7.2'));
      assert.equal(result.number, number);
      assert.equal(result.updated, true);
      assert.equal(s.pulls().length, 1);
      assert.equal(s.pulls()[0]?.title, 'Promote flux-system/podinfo-02 in staging to 6.7.2');
    });

    test('a rejected token is a non-retryable ProviderTokenRejected, without the token', async () => {
      await assertFails(
        s.provider.findOrCreate(pullRequest(s.repositoryUrl, '6.7.1', 'contract-wrong-token')),
        { type: FailureType.providerTokenRejected, nonRetryable: true, message: new RegExp(`^token rejected by ${s.name} .*401`) },
        'contract-wrong-token',
      );
    });

    test('an unknown repository is a non-retryable RepositoryNotFound', async () => {
      await assertFails(s.provider.findOrCreate(pullRequest(s.missingRepositoryUrl)), {
        type: FailureType.repositoryNotFound,
        nonRetryable: true,
        message: /^repository not found: /,
      });
    });

    test('429 with Retry-After is a retryable ProviderRateLimited with that delay, tried once', async () => {
      s.http.respondNext({ status: 429, headers: { 'retry-after': '23' }, body: 'slow down' });
      await assertFails(s.provider.findOrCreate(pullRequest(s.repositoryUrl)), {
        type: FailureType.providerRateLimited,
        nonRetryable: false,
        message: new RegExp(`${s.name} rate-limited .*retrying in 23s`),
        nextRetryDelay: 23_000,
      });
      assert.equal(s.http.requests.length, 1);
    });

    test('a server error is a retryable ProviderUnavailable', async () => {
      s.http.respondNext({ method: 'POST', status: 503, body: 'upstream down' });
      await assertFails(s.provider.findOrCreate(pullRequest(s.repositoryUrl)), {
        type: FailureType.providerUnavailable,
        nonRetryable: false,
        message: new RegExp(`${s.name} failed opening the .*\\(503: upstream down\\); retrying`),
      });
    });

    test('a validation error is a non-retryable PullRequestRejected quoting the provider', async () => {
      s.http.respondNext({ method: 'POST', ...s.validationError });
      await assertFails(s.provider.findOrCreate(pullRequest(s.repositoryUrl)), {
        type: FailureType.pullRequestRejected,
        nonRetryable: true,
        message: s.validationError.message,
      });
      assert.equal(s.pulls().length, 0);
    });

    const status = (number: number) => s.provider.status({ repositoryUrl: s.repositoryUrl, number, token: TOKEN });
    const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

    test('the status of an open pull request is open', async () => {
      const number = s.seedOpen('t', 'b');
      assert.deepEqual(await status(number), { state: 'open' });
    });

    test('a merged pull request says who merged it and when', async () => {
      const number = s.seedOpen('t', 'b');
      s.merge(number, 'alice');
      const merged = await status(number);
      assert.equal(merged.state, 'merged');
      assert.equal(merged.mergedBy, 'alice');
      assert.match(merged.mergedAt ?? '', isoTime);
      assert.equal(merged.closedBy, undefined);
    });

    test('a pull request closed without merging says who closed it and when; reopened, it is open again', async () => {
      const number = s.seedOpen('t', 'b');
      s.closeWithoutMerging(number, 'bob');
      const closed = await status(number);
      assert.equal(closed.state, 'closed');
      assert.equal(closed.closedBy, 'bob');
      assert.match(closed.closedAt ?? '', isoTime);
      s.reopen(number, 'bob');
      assert.deepEqual(await status(number), { state: 'open' });
    });

    test('asking about a pull request while rate-limited is a retryable ProviderRateLimited with the delay', async () => {
      const number = s.seedOpen('t', 'b');
      s.http.respondNext({ status: 429, headers: { 'retry-after': '42' }, body: 'slow down' });
      await assertFails(status(number), {
        type: FailureType.providerRateLimited,
        nonRetryable: false,
        message: new RegExp(`${s.name} rate-limited reading (pull|merge) request [#!]\\d+ .*retrying in 42s`),
        nextRetryDelay: 42_000,
      });
    });

    test('the same repository and credentials reuse one client: its connection stays open', async () => {
      s.http.connections = 0;
      await s.provider.findOrCreate(pullRequest(s.repositoryUrl));
      await s.provider.findOrCreate(pullRequest(s.repositoryUrl, '6.7.2'));
      assert.equal(s.pulls().length, 1);
      assert.ok(s.http.connections <= 1, `${s.http.connections} connections for two calls`);
    });
  });
}
