/**
 * `ApplicationFailure` types raised by activities and the workflow. Non-retryable ones mean
 * "retrying cannot fix this": their message says what the user must change.
 */
export const FailureType = {
  pipelineNotFound: 'PipelineNotFound',
  invalidPipeline: 'InvalidPipeline',
  /** An approve or reject Update that the gate's approval policy, quorum or the gateway's proof refused. */
  decisionRefused: 'DecisionRefused',
  noPromotionStrategy: 'NoPromotionStrategy',
  /** A promotion policy annotation (a change window) cannot be read: never taken as "no policy". */
  invalidPromotionPolicy: 'InvalidPromotionPolicy',
  notificationRejected: 'NotificationRejected',
  /** Kubernetes refused the Promote Event (credentials, RBAC, missing namespace, invalid Event). */
  kubernetesEventRejected: 'KubernetesEventRejected',
  /** Kubernetes refused a Pipeline.status patch (credentials, RBAC, an invalid status). */
  pipelineStatusRejected: 'PipelineStatusRejected',
  /** The git server refused the Secret's username/password (HTTP 401/403). */
  gitCredentialsRejected: 'GitCredentialsRejected',
  /** The pull-request strategy's base branch does not exist in the repository. */
  baseBranchNotFound: 'BaseBranchNotFound',
  /** A plain `http://` repository URL without the explicit insecure option. */
  insecureRepositoryUrl: 'InsecureRepositoryUrl',
  /** No `$promotion` marker for the pipeline and environment in any YAML file of the base branch. */
  noPromotionMarker: 'NoPromotionMarker',
  /** A YAML file holding a marker for the reference cannot be parsed, or the version cannot be written. */
  invalidPromotionMarker: 'InvalidPromotionMarker',
  /** The server refused the promotion branch for a reason other than a lost lease (hook, protection rule). */
  gitPushRejected: 'GitPushRejected',
  /** The git server's answer cannot be used: malformed git data, over a size limit, or a redirect to another origin or to http. */
  gitServerAnswerRefused: 'GitServerAnswerRefused',
  /** A promotion step failed for a reason without a more precise type. */
  promotionFailed: 'PromotionFailed',
  /** The pull-request strategy's `url` is not a repository URL the provider understands. */
  invalidRepositoryUrl: 'InvalidRepositoryUrl',
  /** The git provider answered 401/403 (not rate limiting) to the Secret's `token`. */
  providerTokenRejected: 'ProviderTokenRejected',
  /** The git provider answered 404: wrong URL, or a token that cannot see the repository. */
  repositoryNotFound: 'RepositoryNotFound',
  /** The git provider refused the pull request itself (validation, conflicting PR to another base). */
  pullRequestRejected: 'PullRequestRejected',
  /** Retryable: the git provider asked to slow down; `nextRetryDelay` carries its `Retry-After`. */
  providerRateLimited: 'ProviderRateLimited',
  /** Retryable: the git provider's API failed (5xx) or could not be reached. */
  providerUnavailable: 'ProviderUnavailable',
  /** Flux reported that deploying the release's version failed (UpgradeFailed, HealthCheckFailed…). */
  deploymentFailed: 'DeploymentFailed',
  /** A verification check after deploy failed, or could not run (Prometheus unreachable, a query it refuses). */
  verificationFailed: 'VerificationFailed',
  /** Somebody marked the release's version bad (`baton mark-bad`); the state's `markedBad` says who and why. */
  markedBad: 'MarkedBad',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
