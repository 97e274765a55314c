/**
 * What a release tells people as it goes — waiting for approval (and reminders while it waits),
 * decided, promoted, failed, expired, superseded — as the workflow hands it to the `announceRelease`
 * activity. The activity adds what only the worker knows (the Temporal UI and gateway addresses) and
 * sends it as a Flux event and a Kubernetes Event about the Pipeline. Workflow-safe.
 */
import type { PipelineRef } from './pipeline.js';
import type { ReleasePhase } from './release.js';

/**
 * The `reason` of the Flux event and of the Kubernetes Event: what happened. Alerts can select
 * them with `inclusionList`/`exclusionList` (e.g. `^ApprovalReminder`).
 */
export const ReleaseNoticeReason = {
  awaitingApproval: 'AwaitingApproval',
  approvalReminder: 'ApprovalReminder',
  approved: 'Approved',
  rejected: 'Rejected',
  promoted: 'Promoted',
  failed: 'PromotionFailed',
  /** Flux reported a failure of the version where it soaked: the release stops. */
  soakFailed: 'SoakFailed',
  /** A verification check after deploy failed: the release stops. */
  verificationFailed: 'VerificationFailed',
  expired: 'ReleaseExpired',
  approvalExpired: 'ApprovalExpired',
  superseded: 'Superseded',
  /** The promotion's pull request was merged: the release waits for Flux to report the version. */
  pullRequestMerged: 'PullRequestMerged',
  /** The promotion's pull request was closed without merging (the release ends, or waits for a reopen). */
  pullRequestClosed: 'PullRequestClosed',
  /** The version was marked bad (`baton mark-bad`): its release ends. */
  markedBad: 'MarkedBad',
} as const;
export type ReleaseNoticeReason = (typeof ReleaseNoticeReason)[keyof typeof ReleaseNoticeReason];

/** Notices that report something going wrong: Flux severity `error`, Kubernetes type `Warning`. */
const TROUBLE: readonly ReleaseNoticeReason[] = [
  ReleaseNoticeReason.failed,
  ReleaseNoticeReason.soakFailed,
  ReleaseNoticeReason.verificationFailed,
  ReleaseNoticeReason.expired,
  ReleaseNoticeReason.approvalExpired,
  ReleaseNoticeReason.markedBad,
];

export function isTrouble(reason: ReleaseNoticeReason): boolean {
  return TROUBLE.includes(reason);
}

export interface ReleaseNotice {
  reason: ReleaseNoticeReason;
  pipeline: PipelineRef;
  version: string;
  /** The environment the notice is about (the gate's, the promotion's target), when there is one. */
  environment?: string;
  /** The release's phase once this happened. */
  phase: ReleasePhase;
  workflowId: string;
  /** One sentence saying what happened; the activity appends how to decide to approval notices. */
  summary: string;
  /** Approved and rejected: who decided. */
  approver?: string;
  /** Reminders: which one (1 for the first), so each is a distinct event for the notification-controller. */
  reminder?: number;
}
