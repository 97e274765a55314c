import type { PipelineRef } from '../model/pipeline.js';
import type { DecisionRecord, DeploymentEvent } from '../model/release.js';

/** What every promotion strategy receives: no secrets, only names; credentials are read inside. */
export interface PromotionRequest {
  pipeline: PipelineRef;
  sourceEnvironment: string;
  targetEnvironment: string;
  version: string;
  workflowId: string;
  /** The manual gate's decision, when the target environment had one. */
  approval?: DecisionRecord;
  /** What Flux reported in the source environment (pull-request strategy: quoted in the PR body). */
  event?: DeploymentEvent;
}

export interface PromotionResult {
  /** One phrase for the workflow state and the UI: what was done. */
  outcome: string;
  /** The pull request opened or updated (pull-request strategy). */
  pullRequest?: { url: string; number: number };
}
