/**
 * What every promotion strategy implements: one way of moving a version into the next environment.
 * A strategy runs inside the workflow, so it only schedules activities; the activities do the I/O.
 */
import type { PromotionRequest, PromotionResult } from '../../model/promotion.js';
import type { DeploymentEvent } from '../../model/release.js';
import type { ReleaseActivityProxies } from '../release-activities.js';

export interface PromotionStep {
  request: PromotionRequest;
  /** What Flux reported in the source environment, when it is known. */
  sourceEvent?: DeploymentEvent;
}

export interface PromotionStrategy {
  /** Must be safe to run again: the workflow retries activities, and a worker may die halfway. */
  promote(step: PromotionStep): Promise<PromotionResult>;
}

export type StrategyFactory = (activities: ReleaseActivityProxies) => PromotionStrategy;
