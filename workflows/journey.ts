/**
 * Pure bookkeeping of a release's journey: which environments the version reached, which promotion
 * comes next, and the sentences the Temporal UI shows. No Temporal APIs here, so it is trivially
 * deterministic and unit-testable.
 */
import { arrivedBefore, precedence } from '../model/environment-claims.js';
import type { Decision, DeployedSignal, EnvironmentClaim } from '../model/messages.js';
import { environmentIndex, type PipelineSpec } from '../model/pipeline.js';
import { describeRollback } from './rollback.js';
import type {
  DecisionAuthentication,
  DecisionProof,
  DecisionRecord,
  DeploymentRecord,
  Precedence,
  ReleaseInput,
  ReleaseState,
  TargetStatus,
} from '../model/release.js';
import { ReleasePhase, releaseWorkflowId } from '../model/release.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { compareVersions } from '../model/version-order.js';
import { keptEvent } from './bounded-state.js';

export function initialState(input: ReleaseInput): ReleaseState {
  const { rollback } = input;
  return {
    pipeline: input.pipeline,
    version: input.version,
    phase: ReleasePhase.started,
    currentStep: rollback === undefined ? `Waiting for the first deployment of ${input.version}` : describeRollback(input, rollback),
    reached: [],
    promotions: [],
    ...(rollback === undefined ? {} : { rollback }),
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

/**
 * Records a target's report of the version (the event's namespace names the target); returns false
 * when it is not news for the journey: that target reported already (a repeat), or its environment
 * is reached already (its report is still listed). The environment is reached by `settleTargets`,
 * which knows the Pipeline's targets.
 */
export function recordTargetReport(state: ReleaseState, signal: DeployedSignal): boolean {
  const { environment } = signal;
  const namespace = clip(signal.event.involvedObject.namespace, RELEASE_LIMITS.eventFieldChars);
  const reached = state.reached.find((r) => r.environment === environment);
  const targets = (state.targets ??= []);
  const known = targets.find((t) => t.environment === environment && t.namespace === namespace);
  if (known?.status === 'reported') {
    if (reached !== undefined) reached.repeats += 1;
    return false;
  }
  if (environment.length > RELEASE_LIMITS.eventFieldChars) return false;
  const report = {
    status: 'reported' as const,
    reportedAt: clip(signal.receivedAt, RELEASE_LIMITS.eventFieldChars),
    event: keptEvent(signal.event),
  };
  if (known !== undefined) Object.assign(known, report);
  else if (targets.length < RELEASE_LIMITS.targets) targets.push({ environment, namespace, ...report });
  else return false;
  return reached === undefined;
}

/**
 * Lists every target of the environments with a report (those not reported as `waiting`) and
 * records as reached each environment whose targets all reported — any of them when `anyTarget`.
 */
export function settleTargets(state: ReleaseState, spec: PipelineSpec, anyTarget: boolean): void {
  const targets = state.targets ?? [];
  for (const environment of spec.environments) {
    const reports = targets.filter((t) => t.environment === environment.name);
    if (reports.length === 0) continue;
    for (const target of environment.targets) {
      const listed = reports.find((t) => t.namespace === target.namespace);
      const cluster = target.clusterRef === undefined ? undefined : clusterName(target.clusterRef);
      if (listed !== undefined) {
        if (cluster !== undefined) listed.cluster = cluster;
      } else if (targets.length < RELEASE_LIMITS.targets) {
        targets.push({
          environment: environment.name,
          namespace: target.namespace,
          ...(cluster === undefined ? {} : { cluster }),
          status: 'waiting',
        });
      }
    }
    if (state.reached.some((r) => r.environment === environment.name) || state.reached.length >= RELEASE_LIMITS.reachedEnvironments)
      continue;
    const mine = environment.targets.map((target) => reports.find((t) => t.namespace === target.namespace && t.status === 'reported'));
    const reported = mine.filter((t) => t !== undefined);
    if (reported.length === 0 || (!anyTarget && reported.length < mine.length)) continue;
    // The report that completed the environment stands for it (the pull-request body quotes it).
    const last = reported.reduce((a, b) => (b.reportedAt! > a.reportedAt! ? b : a));
    state.reached.push({ environment: environment.name, reachedAt: last.reportedAt!, event: last.event!, repeats: 0 });
  }
}

function clusterName(ref: { name: string; namespace?: string }): string {
  return ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
}

/** Starts the sentence about the targets of an environment that have not all reported. */
const TARGETS_NOTE = '\n\nTargets of ';

/** `step` with the sentence about `environment`'s targets brought up to date: who reported, who has not. */
export function withTargetsNote(state: ReleaseState, step: string, environment: string): string {
  const base = step.split(TARGETS_NOTE)[0]!;
  const targets = (state.targets ?? []).filter((t) => t.environment === environment);
  const waiting = targets.filter((t) => t.status === 'waiting');
  if (waiting.length === 0 || state.reached.some((r) => r.environment === environment)) return base;
  const name = (t: TargetStatus): string => (t.cluster === undefined ? t.namespace : `${t.namespace} (${t.cluster})`);
  const reported = targets.filter((t) => t.status === 'reported').map((t) => `${name(t)} at ${t.reportedAt}`);
  return (
    `${base}${TARGETS_NOTE}${environment}: waiting for ${waiting.map(name).join(', ')} to report ${state.version}` +
    (reported.length === 0 ? '' : `; reported: ${reported.join(', ')}`)
  );
}

/** The environment whose targets the release waits for: reported somewhere, not reached, furthest along. */
export function environmentAwaitingTargets(state: ReleaseState, spec: PipelineSpec): string | undefined {
  let found: string | undefined;
  for (const environment of spec.environments) {
    const reported = (state.targets ?? []).some((t) => t.environment === environment.name && t.status === 'reported');
    if (reported && !state.reached.some((r) => r.environment === environment.name)) found = environment.name;
  }
  return found;
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
  const { approver, comment, environment, version, allowDowngrade, authentication, proof } = input as Record<string, unknown>;
  if (typeof approver !== 'string' || approver.trim() === '') {
    return { problem: `an approver is required: ${DECISION_EXAMPLE}` };
  }
  if (approver.length > MAX_APPROVER_LENGTH) return { problem: `the approver is longer than ${MAX_APPROVER_LENGTH} characters` };
  for (const [name, value] of Object.entries({ comment, environment, version })) {
    if (value !== undefined && typeof value !== 'string') return { problem: `${name} must be a string` };
  }
  if (allowDowngrade !== undefined && typeof allowDowngrade !== 'boolean') return { problem: 'allowDowngrade must be true or false' };
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
      ...(allowDowngrade === true ? { allowDowngrade } : {}),
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
export function decisionProblem(state: ReleaseState, decision: Decision, verdict?: DecisionRecord['decision']): string | undefined {
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
  const higher = higherVersionAt(state, gate.environment);
  if (verdict === 'approved' && higher !== undefined && decision.allowDowngrade !== true) {
    return (
      `${higher.version}, a higher version, is already promoted into ${gate.environment}: approving ${state.version} ` +
      `would downgrade it; send "allowDowngrade": true with the approval to do that (or reject)`
    );
  }
  return undefined;
}

/** Queue mode: the higher version already promoted into `environment`, when this release knows of one. */
export function higherVersionAt(state: ReleaseState, environment: string): ReleaseState['higherVersionIn'] {
  const higher = state.higherVersionIn;
  return higher?.environment === environment ? higher : undefined;
}

/**
 * Queue mode: what to remember of the version promoted last into `environment` — a version higher
 * than this release's. Versions without an order (not both SemVer) never count as a downgrade: there
 * is nothing to compare, so the approval decides as it always did.
 */
export function higherPromoted(state: ReleaseState, promoted: EnvironmentClaim | undefined): ReleaseState['higherVersionIn'] {
  if (promoted === undefined || (compareVersions(promoted.version, state.version) ?? 0) <= 0) return undefined;
  return { environment: promoted.environment, version: promoted.version, workflowId: promoted.workflowId };
}

/** Starts the gate's sentence about a higher version already in its environment. */
const DOWNGRADE_NOTE = '\n\nNot promoted by a plain approval: ';

/** `step` with the sentence about a higher version already in `environment` brought up to date (or removed). */
export function withDowngradeNote(state: ReleaseState, step: string, environment: string): string {
  const base = step.split(DOWNGRADE_NOTE)[0]!;
  const higher = higherVersionAt(state, environment);
  if (higher === undefined) return base;
  return (
    `${base}${DOWNGRADE_NOTE}${higher.version}, a higher version, is already in ${environment}. To downgrade, approve ` +
    `with "allowDowngrade": true (\`baton approve --allow-downgrade\`); or reject.`
  );
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
  // Held by a promotion policy (a change window, a soak), a release is as good as waiting at the environment's gate.
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
