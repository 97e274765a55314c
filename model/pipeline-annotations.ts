/**
 * Baton's per-Pipeline options, as annotations so existing Weave `Pipeline` manifests stay valid
 * against the unchanged CRD schema. Workflow-safe.
 */
import type { Pipeline } from './pipeline.js';

export const ANNOTATION_PREFIX = 'promotion.baton.dev';

export const PipelineAnnotation = {
  /**
   * Comma-separated users and `group:<name>` entries allowed to decide manual gates; absent = anyone
   * who can reach a channel. `approvers.<env>` sets it for one environment.
   */
  approvers: `${ANNOTATION_PREFIX}/approvers`,
  /** How many distinct allowed approvers must approve (default 1); `required-approvals.<env>` for one environment. */
  requiredApprovals: `${ANNOTATION_PREFIX}/required-approvals`,
  /**
   * Comma-separated channels a decision may arrive through: `oidc`, `approval-key`, `temporal`,
   * `legacy-signature`; absent = all. `approval-channels.<env>` for one environment.
   */
  approvalChannels: `${ANNOTATION_PREFIX}/approval-channels`,
  /** How long a manual gate waits before the release ends as ApprovalExpired (`72h`, `7d`). */
  approvalTimeout: `${ANNOTATION_PREFIX}/approval-timeout`,
  /** How often a waiting manual gate reminds people that it waits (`4h`, `1d`); absent = no reminders. */
  approvalReminder: `${ANNOTATION_PREFIX}/approval-reminder`,
  /**
   * The Secret (same namespace) holding the keys that sign approvals, `approval-key-<env>` or
   * `approval-key`: never the webhook Secret, which every leaf cluster's Flux Provider holds.
   */
  approvalSecret: `${ANNOTATION_PREFIX}/approval-secret`,
  /** What a newer version does to an older one waiting for the same environment: `supersede` or `queue`. */
  newerVersion: `${ANNOTATION_PREFIX}/newer-version`,
  /** When an environment counts as reached: `all` its targets reported the version (default), or `any` (Weave's behaviour). */
  requireTargets: `${ANNOTATION_PREFIX}/require-targets`,
  /**
   * What a release does when its pull request is closed without merging: `end` (default: the
   * release ends and the promotion branch is deleted) or `wait` (it waits for the PR to be reopened).
   */
  pullRequestClosed: `${ANNOTATION_PREFIX}/pull-request-closed`,
} as const;

export const RequiredTargets = { all: 'all', any: 'any' } as const;
export type RequiredTargets = (typeof RequiredTargets)[keyof typeof RequiredTargets];

export function requiredTargets(pipeline: Pipeline): RequiredTargets {
  return pipeline.annotations?.[PipelineAnnotation.requireTargets]?.trim() === RequiredTargets.any
    ? RequiredTargets.any
    : RequiredTargets.all;
}

export const PullRequestClosedPolicy = { end: 'end', wait: 'wait' } as const;
export type PullRequestClosedPolicy = (typeof PullRequestClosedPolicy)[keyof typeof PullRequestClosedPolicy];

export function pullRequestClosedPolicy(pipeline: Pipeline): PullRequestClosedPolicy {
  return pipeline.annotations?.[PipelineAnnotation.pullRequestClosed]?.trim() === PullRequestClosedPolicy.wait
    ? PullRequestClosedPolicy.wait
    : PullRequestClosedPolicy.end;
}

export const NewerVersionPolicy = { supersede: 'supersede', queue: 'queue' } as const;
export type NewerVersionPolicy = (typeof NewerVersionPolicy)[keyof typeof NewerVersionPolicy];

export function approvers(pipeline: Pipeline): string[] | undefined {
  const raw = pipeline.annotations?.[PipelineAnnotation.approvers];
  if (raw === undefined) return undefined;
  const list = raw
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a.length > 0);
  return list.length > 0 ? list : undefined;
}

export function newerVersionPolicy(pipeline: Pipeline): NewerVersionPolicy {
  return pipeline.annotations?.[PipelineAnnotation.newerVersion] === NewerVersionPolicy.queue
    ? NewerVersionPolicy.queue
    : NewerVersionPolicy.supersede;
}

export function approvalTimeout(pipeline: Pipeline): string | undefined {
  const raw = pipeline.annotations?.[PipelineAnnotation.approvalTimeout]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

export function approvalReminder(pipeline: Pipeline): string | undefined {
  const raw = pipeline.annotations?.[PipelineAnnotation.approvalReminder]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

export function approvalSecret(pipeline: Pipeline): string | undefined {
  const raw = pipeline.annotations?.[PipelineAnnotation.approvalSecret]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}
