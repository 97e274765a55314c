/** What the provider tests share: one promotion's title and body, the token, and failure checks. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { PullRequestRequest } from '../../../activities/providers/provider.js';
import { type PullRequestContent, pullRequestBody, pullRequestTitle } from '../../../activities/providers/pull-request-body.js';
import type { FailureType } from '../../../model/failures.js';

/** Long and distinctive, so a leak anywhere is found by a plain substring search. */
export const TOKEN = 'bt_s3cr3t_T0KEN_e8c1f4a2';
export const HEAD = 'promotion-flux-system-podinfo-02-staging';
export const BASE = 'main';

export function content(version = '6.7.1'): PullRequestContent {
  return {
    pipeline: { namespace: 'flux-system', name: 'podinfo-02' },
    sourceEnvironment: 'dev',
    targetEnvironment: 'staging',
    version,
    workflowId: `release/flux-system/podinfo-02/${version}`,
    workflowUrl: `http://localhost:8233/namespaces/default/workflows/release%2Fflux-system%2Fpodinfo-02%2F${version}`,
    event: {
      revision: version,
      reason: 'UpgradeSucceeded',
      message: `Helm upgrade succeeded for release podinfo-dev/podinfo.v3 with chart podinfo@${version}`,
      timestamp: '2026-11-22T01:47:12Z',
      reportingController: 'helm-controller',
      involvedObject: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: 'podinfo-dev', name: 'podinfo' },
    },
  };
}

export function pullRequest(repositoryUrl: string, version = '6.7.1', token = TOKEN): PullRequestRequest {
  const c = content(version);
  return { repositoryUrl, baseBranch: BASE, headBranch: HEAD, title: pullRequestTitle(c), body: pullRequestBody(c), token };
}

export const WEAVE_METADATA = `<details>
<summary>metadata</summary>
!!! DO NOT EDIT !!!

flux-system/podinfo-02/staging
</details>`;

export interface ExpectedFailure {
  type: FailureType;
  nonRetryable: boolean;
  message: RegExp;
  /** Milliseconds; `null` asserts that none is set. */
  nextRetryDelay?: number | null;
}

/** Awaits a rejection and checks it is the expected ApplicationFailure, with no token anywhere in it. */
export async function assertFails(promise: Promise<unknown>, expected: ExpectedFailure, token = TOKEN): Promise<ApplicationFailure> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.type, expected.type, caught.message);
  assert.equal(caught.nonRetryable, expected.nonRetryable, caught.message);
  assert.match(caught.message, expected.message);
  if (expected.nextRetryDelay === null) assert.equal(caught.nextRetryDelay, undefined);
  else if (expected.nextRetryDelay !== undefined) assert.equal(caught.nextRetryDelay, expected.nextRetryDelay);
  assertNoToken(caught, token);
  return caught;
}

/** The token appears nowhere: message, stack, details, cause chain. */
export function assertNoToken(value: unknown, token = TOKEN): void {
  const seen: string[] = [];
  for (let current: unknown = value; current !== undefined && current !== null && seen.length < 10;) {
    if (current instanceof Error) {
      seen.push(current.message, current.stack ?? '');
      if (current instanceof ApplicationFailure) seen.push(JSON.stringify(current.details ?? []));
      current = current.cause;
    } else {
      seen.push(JSON.stringify(current));
      break;
    }
  }
  for (const text of seen) assert.ok(!text.includes(token), `the token leaked into: ${text}`);
}
