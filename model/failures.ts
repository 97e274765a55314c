/**
 * `ApplicationFailure` types raised by activities and the workflow. Non-retryable ones mean
 * "retrying cannot fix this": their message says what the user must change.
 */
export const FailureType = {
  pipelineNotFound: 'PipelineNotFound',
  invalidPipeline: 'InvalidPipeline',
  noPromotionStrategy: 'NoPromotionStrategy',
  unknownEnvironment: 'UnknownEnvironment',
  notificationRejected: 'NotificationRejected',
  /** Kubernetes refused the Promote Event (credentials, RBAC, missing namespace, invalid Event). */
  kubernetesEventRejected: 'KubernetesEventRejected',
  /** The Pipeline asks for a strategy this version of Baton cannot run. */
  strategyUnavailable: 'StrategyUnavailable',
  /** A promotion step failed for a reason without a more precise type. */
  promotionFailed: 'PromotionFailed',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
