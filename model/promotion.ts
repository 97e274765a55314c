/** What the promotion strategies' activities take and give back: names only, never credentials. */
import type { PipelineRef } from './pipeline.js';
import type { DecisionRecord, DeploymentEvent, RollbackRequest } from './release.js';

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
  /** Set when the promotion is a rollback somebody asked for: said in the PR and the notification. */
  rollback?: RollbackRequest;
}

export interface PromotionResult {
  /** One phrase for the workflow state and the UI: what was done. */
  outcome: string;
  /** The pull request opened or updated (pull-request strategy). */
  pullRequest?: { url: string; number: number };
  /** The promotion branch as the git step pushed it (pull-request strategy), so it can be deleted with a lease. */
  branch?: { name: string; commit: string };
}

/** Which pull request a release asks its provider about: the Pipeline's pull-request block names the repository. */
export interface PullRequestStatusRequest {
  pipeline: PipelineRef;
  targetEnvironment: string;
  number: number;
}

/** What the provider says of a pull request: open, merged or closed without merging, by whom and when. */
export interface PullRequestStatus {
  state: 'open' | 'merged' | 'closed';
  /** The provider's user name (GitHub login, GitLab username, Bitbucket Server user name). */
  mergedBy?: string;
  /** ISO 8601. */
  mergedAt?: string;
  closedBy?: string;
  closedAt?: string;
}

/** The promotion branch to delete once its pull request was closed: only while it still has `commit`. */
export interface BranchDeletionRequest {
  pipeline: PipelineRef;
  targetEnvironment: string;
  branch: string;
  commit: string;
}

/**
 * `deleted`; `absent`: already gone (deleted by hand or by the provider); `moved`: it holds another
 * commit (a newer promotion pushed it again), so it is kept.
 */
export type BranchDeletionResult = { status: 'deleted' | 'absent' | 'moved'; branch: string };

/** What the pull-request strategy's git step did: the provider step runs only after `pushed`. */
export type PromotionBranchResult =
  { status: 'already-at-version'; outcome: string } | { status: 'pushed'; branch: string; commit: string; baseBranch: string };
