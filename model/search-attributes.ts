/**
 * Custom search attributes of release workflows. They must be registered on the Temporal namespace
 * before a release starts (`npm start` does it on the dev server; README shows the command for a
 * production cluster).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** `<namespace>/<name>` of the Pipeline. */
export const PromotionPipeline = defineSearchAttributeKey('PromotionPipeline', SearchAttributeType.KEYWORD);
export const PromotionVersion = defineSearchAttributeKey('PromotionVersion', SearchAttributeType.KEYWORD);
export const PromotionTargetEnvironment = defineSearchAttributeKey('PromotionTargetEnvironment', SearchAttributeType.KEYWORD);
/** One of `ReleasePhase`. */
export const PromotionState = defineSearchAttributeKey('PromotionState', SearchAttributeType.KEYWORD);

/** Who approved or rejected the last manual gate. */
export const PromotionDecidedBy = defineSearchAttributeKey('PromotionDecidedBy', SearchAttributeType.KEYWORD);

/** URL of the pull request of the last promotion (pull-request strategy). */
export const PromotionPullRequest = defineSearchAttributeKey('PromotionPullRequest', SearchAttributeType.KEYWORD);

/** What holds a due promotion (`window`, `soak`, `train`), while it is held; absent otherwise. */
export const PromotionBlockedBy = defineSearchAttributeKey('PromotionBlockedBy', SearchAttributeType.KEYWORD);

export const RELEASE_SEARCH_ATTRIBUTES = [
  PromotionPipeline,
  PromotionVersion,
  PromotionTargetEnvironment,
  PromotionState,
  PromotionDecidedBy,
  PromotionPullRequest,
  PromotionBlockedBy,
] as const;
