/**
 * Mirrors what releases do into `Pipeline.status`, for `kubectl get pipelines` and the UIs that read
 * Weave's `status.environments[<env>].waitingApproval`. The workflow stays the source of truth.
 */
import type { PipelineStatusUpdate } from '../model/pipeline-status.js';

export type { EnvironmentPromotionSummary, PipelineStatusUpdate } from '../model/pipeline-status.js';

export interface PipelineStatusWriter {
  /** One status patch; concurrent writers for other environments never overwrite each other. */
  write(update: PipelineStatusUpdate): Promise<void>;
}

/** Directory mode has no status to write: the workflow state is all there is. */
export const noStatusWriter: PipelineStatusWriter = { write: () => Promise.resolve() };
