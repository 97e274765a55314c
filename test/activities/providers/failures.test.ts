/** The answer → failure table and its pieces, without a server. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type HttpAnswer,
  httpFailure,
  MAX_RETRY_DELAY_MS,
  repositoryLabel,
  retryDelayMs,
  scrub,
} from '../../../activities/providers/failures.js';
import { FailureType } from '../../../model/failures.js';
import { assertNoToken, TOKEN } from './helpers.js';

const ctx = { provider: 'github', repository: 'github.com/o/r', token: TOKEN };

function answer(status: number, headers: Record<string, string> = {}, detail = ''): HttpAnswer {
  return { status, header: (name) => headers[name.toLowerCase()], detail };
}

void describe('provider failures', () => {
  test('Retry-After in seconds or as an HTTP date; quota resets; bounded', () => {
    const now = new Date('2026-11-22T02:00:00Z');
    assert.equal(retryDelayMs(answer(429, { 'retry-after': '7' }), now), 7_000);
    assert.equal(retryDelayMs(answer(429, { 'retry-after': '0' }), now), 1_000, 'never zero: at least a second');
    assert.equal(retryDelayMs(answer(503, { 'retry-after': 'Sun, 22 Nov 2026 02:01:00 GMT' }), now), 60_000);
    const reset = String(now.getTime() / 1000 + 42);
    assert.equal(retryDelayMs(answer(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), now), 42_000);
    assert.equal(retryDelayMs(answer(429, { 'ratelimit-remaining': '0', 'ratelimit-reset': reset }), now), 42_000);
    assert.equal(retryDelayMs(answer(403, { 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': reset }), now), undefined);
    assert.equal(retryDelayMs(answer(429, { 'retry-after': '86400' }), now), MAX_RETRY_DELAY_MS);
    assert.equal(retryDelayMs(answer(429, { 'retry-after': 'soon' }), now), undefined);
  });

  test('429 without any hint is retryable with the activity backoff', () => {
    const failure = httpFailure(answer(429), ctx, 'listing');
    assert.equal(failure.type, FailureType.providerRateLimited);
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, undefined);
  });

  test('401 is non-retryable even with a Retry-After; 400 is a rejected request', () => {
    assert.equal(httpFailure(answer(401, { 'retry-after': '5' }), ctx, 'listing').type, FailureType.providerTokenRejected);
    const rejected = httpFailure(answer(400, {}, 'title is missing'), ctx, 'opening the pull request');
    assert.equal(rejected.type, FailureType.pullRequestRejected);
    assert.equal(rejected.nonRetryable, true);
  });

  test('the token is scrubbed from provider messages; URL credentials too', () => {
    const failure = httpFailure(
      answer(422, {}, `invalid head ${TOKEN}:branch from https://x-access-token:${TOKEN}@github.com/o/r`),
      ctx,
      'opening',
    );
    assertNoToken(failure);
    assert.match(failure.message, /\[REDACTED\]/);
    assert.equal(scrub('https://user:pass@host/x and https://host/y', ''), 'https://[REDACTED]@host/x and https://host/y');
  });

  test('repository labels drop credentials, .git and trailing slashes', () => {
    assert.equal(repositoryLabel(`https://oauth2:${TOKEN}@gitlab.com/a/b/c.git/`), 'gitlab.com/a/b/c');
    assert.equal(repositoryLabel('not a url'), 'not a url');
  });

  test('long provider messages are cut short', () => {
    const failure = httpFailure(answer(500, {}, 'x'.repeat(5000)), ctx, 'listing');
    assert.ok(failure.message.length < 600);
  });
});
