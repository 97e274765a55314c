/**
 * The claims on one environment of one Pipeline: which releases wait at its gate or were promoted
 * into it, and in which order they got there. The higher version wins (SemVer precedence); arrival
 * order decides only between versions that have no order (not both SemVer).
 */
import type { EnvironmentClaim } from './messages.js';
import { type PipelineRef, pipelineKey } from './pipeline.js';
import type { Precedence } from './release.js';
import { compareVersions } from './version-order.js';

/** The workflow type `workflows/environment-claims.ts` exports; activities start it by this name. */
export const ENVIRONMENT_CLAIMS_WORKFLOW_TYPE = 'environmentClaims';

export interface EnvironmentClaimsInput {
  pipeline: PipelineRef;
  environment: string;
  /** Carried over continue-as-new: the holders, and the claims received but not taken yet. */
  holders?: EnvironmentClaim[];
  pending?: EnvironmentClaim[];
  /** Queue mode, carried over continue-as-new: the version promoted last, and the releases waiting at the gate. */
  promoted?: EnvironmentClaim;
  queuedWaiting?: EnvironmentClaim[];
}

/** The claims workflow's signature, for starting it by name with typed arguments. */
export type EnvironmentClaimsWorkflow = (input: EnvironmentClaimsInput) => Promise<void>;

/** A claims workflow continues as new once its history is this long (plus at most one claim's events). */
export const CLAIMS_HISTORY_LIMIT = 2_000;

export function environmentClaimsWorkflowId(pipeline: PipelineRef, environment: string): string {
  return `claims/${pipeline.namespace}/${pipeline.name}/${environment}`;
}

/** The claims workflow's line in the Temporal UI's list. */
export function environmentClaimsSummary(pipeline: PipelineRef, environment: string): string {
  return `Releases of ${pipelineKey(pipeline)} holding ${environment}: a higher one supersedes lower ones`;
}

/** Whether `a` got there before `b`. On a tie the smaller workflow ID counts as first, so of two claims exactly one is. */
export function arrivedBefore(a: Pick<EnvironmentClaim, 'at' | 'workflowId'>, b: Pick<EnvironmentClaim, 'at' | 'workflowId'>): boolean {
  if (a.at !== b.at) return a.at < b.at;
  return a.workflowId < b.workflowId;
}

type Ranked = Pick<EnvironmentClaim, 'version' | 'at' | 'workflowId'>;

/**
 * Whether `a` takes precedence over `b`, and why: `version` when `a` is the higher SemVer version,
 * `arrival` when the two have no order (or the same precedence) and `a` got there later; undefined
 * when `b` wins. Of two different claims exactly one wins.
 */
export function precedence(a: Ranked, b: Ranked): Precedence | undefined {
  const order = compareVersions(a.version, b.version);
  if (order !== undefined && order !== 0) return order > 0 ? 'version' : undefined;
  return arrivedBefore(b, a) ? 'arrival' : undefined;
}
