/**
 * Pure bookkeeping of a release's journey: which environments the version reached, which promotion
 * comes next, and the sentences the Temporal UI shows. No Temporal APIs here, so it is trivially
 * deterministic and unit-testable.
 */
import { arrivedBefore, precedence } from '../model/environment-claims.js';
import type { Decision, DeployedSignal, EnvironmentClaim } from '../model/messages.js';
import { environmentIndex, type PipelineSpec } from '../model/pipeline.js';
import type { DecisionAuthentication, DecisionProof, DeploymentRecord, Precedence, ReleaseInput, ReleaseState } from '../model/release.js';
import { ReleasePhase, releaseWorkflowId } from '../model/release.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { keptEvent } from './bounded-state.js';

export function initialState(input: ReleaseInput): ReleaseState {
  return {
    pipeline: input.pipeline,
    version: input.version,
    phase: ReleasePhase.started,
    currentStep: `Waiting for the first deployment of ${input.version}`,
    reached: [],
    promotions: [],
  };
}

/**
 * Records a deployment; returns false when it is not news: Flux reported that environment already (a
 * repeat), or the signal names an environment no Pipeline could have (the gateway never sends those).
 */
export function recordDeployment(state: ReleaseState, signal: DeployedSignal): boolean {
  const known = state.reached.find((r) => r.environment === signal.environment);
  if (known !== undefined) {
    known.repeats += 1;
    return false;
  }
  if (state.reached.length >= RELEASE_LIMITS.reachedEnvironments || signal.environment.length > RELEASE_LIMITS.eventFieldChars) {
    return false;
  }
  const record: DeploymentRecord = {
    environment: signal.environment,
    reachedAt: clip(signal.receivedAt, RELEASE_LIMITS.eventFieldChars),
    event: keptEvent(signal.event),
    repeats: 0,
  };
  state.reached.push(record);
  return true;
}

/** The reached environment furthest along the pipeline (environments the spec no longer has are skipped). */
export function furthestReached(state: ReleaseState, spec: PipelineSpec): { index: number; environment: string } | undefined {
  let furthest: { index: number; environment: string } | undefined;
  for (const { environment } of state.reached) {
    const index = environmentIndex(spec, environment);
    if (index >= 0 && (furthest === undefined || index > furthest.index)) furthest = { index, environment };
  }
  return furthest;
}

export function alreadyPromotedInto(state: ReleaseState, environment: string): boolean {
  return state.promotions.some((p) => p.targetEnvironment === environment && p.completedAt !== undefined);
}

export function journeyLine(spec: PipelineSpec): string {
  return spec.environments.map((e) => e.name).join(' → ');
}

export function appName(spec: PipelineSpec): string {
  return spec.appRef.name;
}

/** Keyword search attributes (PromotionDecidedBy) hold at most 2 KiB; an approver is a name or an e-mail address. */
const MAX_APPROVER_LENGTH = 256;
const MAX_COMMENT_LENGTH = 4096;
const DECISION_EXAMPLE = '{"approver": "you@example.com", "comment": "…"}';
/** How much of a malformed input the answer quotes. */
const MAX_QUOTED_INPUT_LENGTH = 100;

/**
 * A decision as it arrives: whatever `temporal`, `tctl` or the UI's signal form sent — maybe no
 * input, a bare string, or an object without an approver. Returns the decision or what is wrong
 * with it; never throws, because an exception in a signal handler fails the workflow task and
 * stalls the release until someone resets it.
 */
export function readDecision(input: unknown): { decision: Decision } | { problem: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      problem: `a decision is a JSON object like ${DECISION_EXAMPLE}, not ${input === undefined ? 'no input' : clip(JSON.stringify(input), MAX_QUOTED_INPUT_LENGTH)}`,
    };
  }
  const { approver, comment, environment, version, authentication, proof } = input as Record<string, unknown>;
  if (typeof approver !== 'string' || approver.trim() === '') {
    return { problem: `an approver is required: ${DECISION_EXAMPLE}` };
  }
  if (approver.length > MAX_APPROVER_LENGTH) return { problem: `the approver is longer than ${MAX_APPROVER_LENGTH} characters` };
  for (const [name, value] of Object.entries({ comment, environment, version })) {
    if (value !== undefined && typeof value !== 'string') return { problem: `${name} must be a string` };
  }
  if (typeof comment === 'string' && comment.length > MAX_COMMENT_LENGTH) {
    return { problem: `the comment is longer than ${MAX_COMMENT_LENGTH} characters` };
  }
  const claimed = readClaimedAuthentication(authentication, proof);
  if ('problem' in claimed) return claimed;
  return {
    decision: {
      approver,
      ...(typeof comment === 'string' ? { comment } : {}),
      ...(typeof environment === 'string' ? { environment } : {}),
      ...(typeof version === 'string' ? { version } : {}),
      ...claimed,
    },
  };
}

const METHODS: readonly string[] = ['oidc', 'approval-key', 'legacy-signature', 'temporal'];
const MAX_GROUPS = 200;
const MAX_CLAIM_CHARS = 1024;

const shortString = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_CLAIM_CHARS;

/**
 * The authentication a decision claims and the gateway's proof of it, checked for shape only (the
 * proof itself is checked by a local activity). Both or neither: a claim without a proof is what
 * anyone who can signal the release could type.
 */
function readClaimedAuthentication(
  authentication: unknown,
  proof: unknown,
): { authentication?: DecisionAuthentication; proof?: DecisionProof } | { problem: string } {
  if (authentication === undefined && proof === undefined) return {};
  if (authentication === undefined || proof === undefined) {
    return {
      problem:
        'a decision sent straight to Temporal cannot say how it was authenticated (only the gateway can, with its proof): ' +
        'leave "authentication" and "proof" out',
    };
  }
  if (!isRecord(authentication) || !isRecord(proof)) return { problem: 'the decision’s authentication or proof is malformed' };
  const { method, subject, verified, issuer, key, groups } = authentication;
  const { issuedAt, signature } = proof;
  if (
    typeof method !== 'string' ||
    !METHODS.includes(method) ||
    !shortString(subject) ||
    typeof verified !== 'boolean' ||
    !(issuer === undefined || shortString(issuer)) ||
    !(key === undefined || shortString(key)) ||
    !(groups === undefined || (Array.isArray(groups) && groups.length <= MAX_GROUPS && groups.every(shortString))) ||
    !shortString(issuedAt) ||
    !shortString(signature)
  ) {
    return { problem: 'the decision’s authentication or proof is malformed' };
  }
  // Rebuilt field by field: nothing but what the proof covers enters the state.
  return {
    authentication: {
      method: method as DecisionAuthentication['method'],
      subject,
      verified,
      ...(issuer === undefined ? {} : { issuer }),
      ...(groups === undefined ? {} : { groups: groups }),
      ...(key === undefined ? {} : { key }),
    },
    proof: { issuedAt, signature },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a decision cannot apply to this release now, or undefined when it can. */
export function decisionProblem(state: ReleaseState, decision: Decision): string | undefined {
  const gate = state.pendingGate;
  if (gate === undefined) {
    return `${state.version} of ${state.pipeline.namespace}/${state.pipeline.name} is not waiting for approval (${state.phase})`;
  }
  if (decision.environment !== undefined && decision.environment !== gate.environment) {
    return `${decision.environment} is not waiting for approval; ${gate.environment} is`;
  }
  if (decision.version !== undefined && decision.version !== state.version) {
    return `version ${decision.version} is not waiting for approval; ${state.version} is`;
  }
  // Gates opened under an approval policy check approvers against how they were authenticated.
  if (gate.requiredApprovals === undefined && gate.approvers !== undefined && !gate.approvers.includes(decision.approver)) {
    return `${decision.approver} may not decide promotions into ${gate.environment} (approvers: ${gate.approvers.join(', ')})`;
  }
  return undefined;
}

/**
 * Why a decision sent before its gate opens cannot wait for it, or undefined when it can. It must
 * name the gate's environment and this release's version: a bare "approve" would otherwise approve
 * whichever gate opens next, which its sender may never have seen.
 */
export function earlyDecisionProblem(state: ReleaseState, decision: Decision): string | undefined {
  const missing = [decision.environment === undefined ? 'environment' : '', decision.version === undefined ? 'version' : ''].filter(
    (name) => name !== '',
  );
  if (missing.length > 0) {
    return (
      `no gate is open, ${state.version} is not waiting for approval (${state.phase}): a decision sent before its gate ` +
      `opens must name the environment and the version, ` +
      `e.g. {"approver": "…", "environment": "prod", "version": "${state.version}"}; this one has no ${missing.join(' and no ')}`
    );
  }
  if (decision.version !== state.version) return `version ${decision.version} is not this release’s; it promotes ${state.version}`;
  return undefined;
}

/**
 * Whether a claim on an environment (a `supersede` signal) ends this release, and why. `byVersion`:
 * only a higher version ends it (arrival order only between versions without an order); without it,
 * as releases did before versions were ordered, any later arrival does.
 */
export function yieldsTo(state: ReleaseState, claim: EnvironmentClaim, byVersion = false): Precedence | undefined {
  if (claim.version === state.version) return undefined;
  const gate = state.pendingGate;
  if (gate !== undefined) return gate.environment === claim.environment ? outranks(claim, gate.since, state, byVersion) : undefined;
  // Held by a change window, a release is as good as waiting at the environment's gate.
  const block = state.blockedBy;
  if (block !== undefined) return block.environment === claim.environment ? outranks(claim, block.since, state, byVersion) : undefined;
  if (claim.reason !== 'promoted' || state.phase !== ReleasePhase.awaitingDeployment) return undefined;
  const promotion = state.promotions.find((p) => p.targetEnvironment === claim.environment && p.completedAt !== undefined);
  if (state.targetEnvironment !== claim.environment || promotion === undefined) return undefined;
  return outranks(claim, promotion.completedAt!, state, byVersion);
}

/** Whether `claim` takes precedence over this release, which got to the environment at `at`. */
function outranks(claim: EnvironmentClaim, at: string, state: ReleaseState, byVersion: boolean): Precedence | undefined {
  const mine = { version: state.version, at, workflowId: releaseWorkflowId(state.pipeline, state.version) };
  if (byVersion) return precedence(claim, mine);
  return arrivedBefore(mine, claim) ? 'arrival' : undefined;
}
