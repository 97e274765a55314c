/**
 * The pull-request strategy: push the promotion branch, then find-or-create its pull request. Each
 * step is idempotent, so however often it runs there is exactly one pull request.
 */
import type { StrategyFactory } from './strategy.js';

export const pullRequestStrategy: StrategyFactory = (activities) => ({
  promote: async ({ request, sourceEvent }) => {
    // The source environment's event is quoted in the pull request's body.
    const withEvent = { ...request, ...(sourceEvent === undefined ? {} : { event: sourceEvent }) };
    const branch = await activities.git.pushPromotionBranch(withEvent);
    if (branch.status === 'already-at-version') return { outcome: branch.outcome };
    const result = await activities.provider.openPullRequest(withEvent);
    // Kept with the promotion: a PR closed without merging has its branch deleted, only if it still holds this commit.
    return { ...result, branch: { name: branch.branch, commit: branch.commit } };
  },
});
