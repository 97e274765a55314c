/**
 * Custom search attributes of release workflows. They must be registered on the Temporal namespace
 * before a release starts (`npm start` does it on the dev server; README shows the command for a
 * production cluster).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** `<namespace>/<name>` of the Pipeline. */
export const PromotionPipeline = defineSearchAttributeKey('PromotionPipeline', SearchAttributeType.KEYWORD);
export const PromotionVersion = defineSearchAttributeKey('PromotionVersion', SearchAttributeType.KEYWORD);
export const PromotionTargetEnvironment = defineSearchAttributeKey(
  'PromotionTargetEnvironment',
  SearchAttributeType.KEYWORD,
);
/** One of `ReleasePhase`. */
export const PromotionState = defineSearchAttributeKey('PromotionState', SearchAttributeType.KEYWORD);

export const RELEASE_SEARCH_ATTRIBUTES = [
  PromotionPipeline,
  PromotionVersion,
  PromotionTargetEnvironment,
  PromotionState,
] as const;
