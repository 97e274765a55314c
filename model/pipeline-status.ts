/** What a release mirrors into `Pipeline.status` for kubectl and the UIs that read Weave's fields. */
import type { PipelineRef } from './pipeline.js';

export interface EnvironmentPromotionSummary {
  version: string;
  /** A `ReleasePhase`. */
  state: string;
  workflowId: string;
  pullRequest?: string;
  /** ISO 8601. */
  at: string;
}

export interface PipelineStatusUpdate {
  pipeline: PipelineRef;
  environment: string;
  /** Sets `status.environments[environment].waitingApproval` to this revision. */
  waitingApproval?: { revision: string };
  /**
   * Clears `waitingApproval` only while it still names this revision: a newer version may already
   * wait there, and its entry must survive the older one's clean-up.
   */
  clearWaitingApproval?: string;
  lastPromotion?: EnvironmentPromotionSummary;
}
