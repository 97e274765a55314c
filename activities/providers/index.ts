/** The pull-request providers by the name a Pipeline's `strategy.pull-request.type` uses: an explicit map. */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { GitProviderType } from '../../model/pipeline.js';
import { createBitbucketServerProvider } from './bitbucket-server.js';
import { createGitHubProvider } from './github.js';
import { createGitLabProvider } from './gitlab.js';
import type { PullRequestProvider, PullRequestProviderOptions } from './provider.js';

export type { PullRequestProvider, PullRequestProviderOptions, PullRequestRequest, PullRequestResult } from './provider.js';

export type PullRequestProviderFactory = (options?: PullRequestProviderOptions) => PullRequestProvider;

export const PULL_REQUEST_PROVIDERS: Readonly<Record<GitProviderType, PullRequestProviderFactory>> = {
  [GitProviderType.github]: createGitHubProvider,
  [GitProviderType.gitlab]: createGitLabProvider,
  [GitProviderType.bitbucketServer]: createBitbucketServerProvider,
};

export function isGitProviderType(type: string): type is GitProviderType {
  return Object.hasOwn(PULL_REQUEST_PROVIDERS, type);
}

/** The provider for a Pipeline's `type`; an unknown type is a non-retryable `InvalidPipeline`. */
export function createPullRequestProvider(type: string, options: PullRequestProviderOptions = {}): PullRequestProvider {
  if (!isGitProviderType(type)) {
    throw ApplicationFailure.nonRetryable(
      `unknown pull-request provider type '${type.slice(0, 100)}': use one of ${Object.keys(PULL_REQUEST_PROVIDERS).join(', ')}`,
      FailureType.invalidPipeline,
    );
  }
  return PULL_REQUEST_PROVIDERS[type](options);
}
