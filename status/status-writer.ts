/**
 * Mirrors what releases do into `Pipeline.status`, for `kubectl get pipelines` and the UIs that read
 * Weave's `status.environments[<env>].waitingApproval`. The workflow stays the source of truth.
 */
import type { PipelineRef } from '../model/pipeline.js';

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

export interface PipelineStatusWriter {
  /** One status patch; concurrent writers for other environments never overwrite each other. */
  write(update: PipelineStatusUpdate): Promise<void>;
}

/** Directory mode has no status to write: the workflow state is all there is. */
export const noStatusWriter: PipelineStatusWriter = { write: () => Promise.resolve() };
