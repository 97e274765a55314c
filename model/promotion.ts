/** What the promotion strategies' activities take and give back: names only, never credentials. */
import type { PipelineRef } from './pipeline.js';
import type { DecisionRecord, DeploymentEvent } from './release.js';

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

/** What the pull-request strategy's git step did: the provider step runs only after `pushed`. */
export type PromotionBranchResult =
  { status: 'already-at-version'; outcome: string } | { status: 'pushed'; branch: string; commit: string; baseBranch: string };
