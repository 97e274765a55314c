/**
 * Who may decide a manual gate, how many must approve, and through which channels: read from the
 * Pipeline's annotations for one environment. Workflow-safe (pure).
 *
 * Each setting has a Pipeline-wide annotation and a per-environment one (`<annotation>.<env>`), the
 * per-environment one winning. Without any of them a gate is decided by anyone, once, through any
 * channel, as before these policies existed.
 */
import type { Pipeline } from './pipeline.js';
import { PipelineAnnotation } from './pipeline-annotations.js';
import type { DecisionAuthentication } from './release.js';

/**
 * How a decision reached the release: `oidc` and `approval-key` through the gateway's approval
 * endpoint (signed by the gateway, so the workflow can tell), `temporal` as a signal or Update sent
 * straight to Temporal (the UI, `temporal`, `tctl`), whose own authorization decides who may send it.
 */
export const ApprovalChannel = {
  oidc: 'oidc',
  approvalKey: 'approval-key',
  temporal: 'temporal',
  /** Weave's approval signature, only with BATON_LEGACY_APPROVAL_SIGNATURE. */
  legacySignature: 'legacy-signature',
} as const satisfies Record<string, DecisionAuthentication['method']>;
export type ApprovalChannel = DecisionAuthentication['method'];

const CHANNELS: readonly string[] = Object.values(ApprovalChannel);
const GROUP_PREFIX = 'group:';
/** A quorum larger than this is a typo, not a policy. */
const MAX_REQUIRED_APPROVALS = 20;

export interface ApprovalPolicy {
  /** Users (compared with the decision's approver) and `group:<name>` entries; absent = anyone. */
  approvers?: string[];
  /** Distinct allowed approvers who must approve; one allowed rejection is enough to reject. */
  requiredApprovals: number;
  /** The channels a decision may arrive through; absent = all. */
  channels?: ApprovalChannel[];
}

/** The annotation a setting is read from for `environment`: the per-environment one when set. */
function annotation(pipeline: Pipeline, base: string, environment: string): { name: string; value: string } | undefined {
  const annotations = pipeline.annotations ?? {};
  for (const name of [`${base}.${environment}`, base]) {
    const value = annotations[name]?.trim();
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

function items(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/**
 * The policy of `environment`'s gate, or what is wrong with its annotations: a policy that cannot be
 * read never silently means "anyone may approve".
 */
export function approvalPolicy(pipeline: Pipeline, environment: string): { policy: ApprovalPolicy } | { problem: string } {
  const policy: ApprovalPolicy = { requiredApprovals: 1 };

  const approvers = annotation(pipeline, PipelineAnnotation.approvers, environment);
  if (approvers !== undefined) {
    const list = items(approvers.value);
    const emptyGroup = list.find((entry) => entry === GROUP_PREFIX);
    if (emptyGroup !== undefined) return { problem: `annotation ${approvers.name}: '${GROUP_PREFIX}' names no group` };
    if (list.length > 0) policy.approvers = list;
  }

  const required = annotation(pipeline, PipelineAnnotation.requiredApprovals, environment);
  if (required !== undefined) {
    const n = /^\d+$/.test(required.value) ? Number(required.value) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_REQUIRED_APPROVALS) {
      return {
        problem: `annotation ${required.name}: '${required.value}' is not a number of approvals from 1 to ${MAX_REQUIRED_APPROVALS}`,
      };
    }
    const users = policy.approvers?.filter((entry) => !entry.startsWith(GROUP_PREFIX));
    if (users !== undefined && users.length === policy.approvers!.length && n > users.length) {
      return {
        problem:
          `annotation ${required.name}: ${n} approvals can never come from the ${users.length} approver(s) ` +
          `${approvers!.name} allows (${users.join(', ')})`,
      };
    }
    policy.requiredApprovals = n;
  }

  const channels = annotation(pipeline, PipelineAnnotation.approvalChannels, environment);
  if (channels !== undefined) {
    const list = items(channels.value);
    const unknown = list.filter((channel) => !CHANNELS.includes(channel));
    if (unknown.length > 0) {
      return { problem: `annotation ${channels.name}: unknown channel(s) ${unknown.join(', ')} (known: ${CHANNELS.join(', ')})` };
    }
    if (list.length === 0) return { problem: `annotation ${channels.name}: names no channel (known: ${CHANNELS.join(', ')})` };
    policy.channels = [...new Set(list)] as ApprovalChannel[];
  }
  return { policy };
}

/**
 * Why the person behind `authentication` may not decide under `policy`, or undefined when they may.
 * Groups count only when an identity provider vouches for them (OIDC); a typed name matches users.
 */
export function approverProblem(policy: ApprovalPolicy, authentication: DecisionAuthentication, environment: string): string | undefined {
  const channel = authentication.method;
  if (policy.channels !== undefined && !policy.channels.includes(channel)) {
    return `decisions through ${channel} may not decide promotions into ${environment} (allowed: ${policy.channels.join(', ')})`;
  }
  if (policy.approvers === undefined) return undefined;
  const { subject } = authentication;
  const groups = authentication.verified ? (authentication.groups ?? []) : [];
  const allowed = policy.approvers.some((entry) =>
    entry.startsWith(GROUP_PREFIX) ? groups.includes(entry.slice(GROUP_PREFIX.length)) : entry === subject,
  );
  return allowed ? undefined : `${subject} may not decide promotions into ${environment} (approvers: ${policy.approvers.join(', ')})`;
}
