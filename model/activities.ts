/**
 * The activities the workflows schedule, by name and signature. Workflows proxy these interfaces;
 * `activities/index.ts` checks its implementations against them, so neither imports the other.
 */
import type { EnvironmentClaim } from './messages.js';
import type { Pipeline, PipelineRef } from './pipeline.js';
import type { PipelineStatusUpdate } from './pipeline-status.js';
import type { ControlsRequest, PromotionControl } from './promotion-controls.js';
import type {
  BranchDeletionRequest,
  BranchDeletionResult,
  PromotionBranchResult,
  PromotionRequest,
  PromotionResult,
  PullRequestStatus,
  PullRequestStatusRequest,
} from './promotion.js';
import type { Decision, DecisionRecord } from './release.js';
import type { ReleaseNotice } from './release-notice.js';
import type { CheckRequest, CheckResult } from './verification.js';

/** A release's claim on an environment, for the environment's claims workflow. */
export interface ClaimRequest {
  pipeline: PipelineRef;
  /** The release's claim on `claim.environment`. */
  claim: EnvironmentClaim;
}

/** The claim under its former field name, as releases recorded before the rename send it. */
export interface SupersedeRequest {
  pipeline: PipelineRef;
  signal: EnvironmentClaim;
}

/** Scheduled by the release workflow on its own task queue. */
export interface ReleaseActivities {
  /** The Pipeline as it is now, so edits made while a release waits take effect. */
  resolvePipeline(ref: PipelineRef): Promise<Pipeline>;
  /** The notification strategy: tell every configured notifier about the promotion. */
  promoteByNotification(request: PromotionRequest): Promise<PromotionResult>;
  /** The pull-request strategy's git step: push the promotion branch rebuilt from the latest base. */
  pushPromotionBranch(request: PromotionRequest): Promise<PromotionBranchResult>;
  /** The stops and freezes covering a promotion (the release is told when they change). */
  promotionControls(request: ControlsRequest): Promise<PromotionControl[]>;
  /** Deletes the promotion branch of a pull request closed without merging, if it still holds the commit pushed. */
  deletePromotionBranch(request: BranchDeletionRequest): Promise<BranchDeletionResult>;
  /** Best-effort mirror of the release into `Pipeline.status`. */
  recordPipelineStatus(update: PipelineStatusUpdate): Promise<void>;
  /** Claims the environment for the release; the claims workflow supersedes earlier releases. */
  claimEnvironment(request: ClaimRequest): Promise<void>;
  /** `claimEnvironment` under its former name: releases started before the rename schedule it. */
  supersedeOlderReleases(request: SupersedeRequest): Promise<void>;
  /** Queue mode: the claim of the version promoted last into the environment, as its claims workflow remembers it. */
  promotedVersion(request: { pipeline: PipelineRef; environment: string }): Promise<EnvironmentClaim | undefined>;
  /** Best effort: tells people what the release did (Flux event and Kubernetes Event about the Pipeline). */
  announceRelease(notice: ReleaseNotice): Promise<void>;
  /** Runs one verification check after deploy to its verdict (heartbeats; a check that cannot run fails for good). */
  verifyCheck(request: CheckRequest): Promise<CheckResult>;
}

/** Scheduled by the environment-claims workflow. */
export interface ClaimsActivities {
  /** Those of `workflowIds` that no longer run. */
  closedReleases(workflowIds: string[]): Promise<string[]>;
}

/** A release waiting for a train (found in visibility by its search attributes). */
export interface TrainPassenger {
  workflowId: string;
  version: string;
  /** When the release started (ISO 8601): the order between versions without a SemVer order. */
  startedAt: string;
}

/** Scheduled by the release-train departure workflow. */
export interface TrainActivities {
  /** The running releases of the Pipeline waiting for the train into `environment`. */
  trainPassengers(request: { pipeline: PipelineRef; environment: string }): Promise<TrainPassenger[]>;
}

/** Served on the provider task queue, whose activity rate the Temporal server limits. */
export interface ProviderActivities {
  /** The pull-request strategy's provider step: find-or-create the pull request for the pushed branch. */
  openPullRequest(request: PromotionRequest): Promise<PromotionResult>;
  /** Whether the promotion's pull request is open, merged or closed, and by whom: the release follows it. */
  pullRequestStatus(request: PullRequestStatusRequest): Promise<PullRequestStatus>;
}

/** A decision that claims the gateway authenticated it, and the release and verdict it was sent for. */
export interface DecisionProofCheck {
  workflowId: string;
  verdict: DecisionRecord['decision'];
  decision: Decision;
}

/** Run as local activities by the release workflow: the key stays in the worker, out of histories. */
export interface DecisionProofActivities {
  /** Whether the gateway's proof on the decision holds; `problem` says why not. */
  checkDecisionProof(check: DecisionProofCheck): Promise<{ problem?: string }>;
}
