/**
 * The find-or-create protocol every provider follows, so "one PR per promotion branch" is decided in
 * one place:
 *
 * 1. look for the open PR from `headBranch` into `baseBranch` (paginated, filtered by both branches
 *    and the open state); if there is one, make its title and body current and reuse it;
 * 2. otherwise open one;
 * 3. if the provider answers "it already exists" (someone opened it between 1 and 2: a retried
 *    attempt whose response was lost, a concurrent promotion), find it again and reuse it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { type FailureContext, scrub } from './failures.js';
import type { OpenPullRequest, PullRequestRequest, PullRequestResult } from './provider.js';

export type CreateOutcome =
  | { created: OpenPullRequest }
  /** The provider refused a duplicate; `existing` when its answer names the PR (Bitbucket Server). */
  | { duplicate: string; existing?: OpenPullRequest };

export interface PullRequestOperations {
  findOpen(): Promise<OpenPullRequest | undefined>;
  create(): Promise<CreateOutcome>;
  update(pullRequest: OpenPullRequest): Promise<OpenPullRequest>;
}

export async function findOrCreate(
  request: PullRequestRequest,
  operations: PullRequestOperations,
  ctx: FailureContext,
): Promise<PullRequestResult> {
  const refresh = async (existing: OpenPullRequest): Promise<PullRequestResult> => {
    if (existing.title === request.title && existing.body === request.body) {
      return { number: existing.number, url: existing.url, created: false, updated: false };
    }
    const updated = await operations.update(existing);
    return { number: updated.number, url: updated.url || existing.url, created: false, updated: true };
  };

  const open = await operations.findOpen();
  if (open) return refresh(open);

  const outcome = await operations.create();
  if ('created' in outcome) {
    return { number: outcome.created.number, url: outcome.created.url, created: true, updated: false };
  }
  const existing = outcome.existing ?? (await operations.findOpen());
  if (existing) return refresh(existing);
  // The provider's duplicate rule is wider than "open, same head and base" (GitLab: one open
  // merge request per source branch, whatever its target): a person has to resolve it.
  throw ApplicationFailure.create({
    type: FailureType.pullRequestRejected,
    message: scrub(
      `${ctx.provider} refused to open a pull request from ${request.headBranch} into ${request.baseBranch} ` +
        `for ${ctx.repository} because another one exists (${outcome.duplicate}), but no open pull request ` +
        `from ${request.headBranch} into ${request.baseBranch} was found: close the other one`,
      ctx.token,
    ),
    nonRetryable: true,
    details: [{ provider: ctx.provider, repository: ctx.repository }],
  });
}
