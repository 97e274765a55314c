import type { PipelineRef } from '../model/pipeline.js';

/** What every promotion strategy receives: no secrets, only names; credentials are read inside. */
export interface PromotionRequest {
  pipeline: PipelineRef;
  sourceEnvironment: string;
  targetEnvironment: string;
  version: string;
  workflowId: string;
}

export interface PromotionResult {
  /** One phrase for the workflow state and the UI: what was done. */
  outcome: string;
}
