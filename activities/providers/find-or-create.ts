/**
 * The one find-or-create every provider follows, so "one PR per promotion branch" is decided here:
 * reuse the open PR from `headBranch` into `baseBranch` (its title and body made current), else open
 * one; if the provider answers "it already exists" (a retried attempt whose answer was lost, a
 * concurrent promotion), find that one and reuse it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { scrub } from './failures.js';
import type { OpenPullRequest, ProviderClient, PullRequestChange, PullRequestResult } from './provider.js';

export async function findOrCreate(client: ProviderClient, change: PullRequestChange): Promise<PullRequestResult> {
  const refresh = async (existing: OpenPullRequest): Promise<PullRequestResult> => {
    if (existing.title === change.title && existing.body === change.body) {
      return { number: existing.number, url: existing.url, created: false, updated: false };
    }
    const updated = await client.update(existing, change);
    return { number: updated.number, url: updated.url || existing.url, created: false, updated: true };
  };

  const open = await client.findOpen(change);
  if (open) return refresh(open);

  const outcome = await client.create(change);
  if ('created' in outcome) {
    return { number: outcome.created.number, url: outcome.created.url, created: true, updated: false };
  }
  const existing = outcome.existing ?? (await client.findOpen(change));
  if (existing) return refresh(existing);
  // The provider's duplicate rule is wider than "open, same head and base" (GitLab: one open
  // merge request per source branch, whatever its target): a person has to resolve it.
  const { provider, repository, token } = client.context;
  throw ApplicationFailure.create({
    type: FailureType.pullRequestRejected,
    message: scrub(
      `${provider} refused to open a pull request from ${change.headBranch} into ${change.baseBranch} ` +
        `for ${repository} because another one exists (${outcome.duplicate}), but no open pull request ` +
        `from ${change.headBranch} into ${change.baseBranch} was found: close the other one`,
      token,
    ),
    nonRetryable: true,
    details: [{ provider, repository }],
  });
}
