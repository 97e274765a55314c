/**
 * The release workflow's contract: its input, the state it exposes, and the names of its phases.
 * One release = one (pipeline, version) journey through the pipeline's environments. Workflow-safe.
 */
import type { PipelineRef, StrategyName } from './pipeline.js';
import type { CheckType, VerificationSample } from './verification.js';

/** Durations are Temporal duration strings (`2s`, `20 seconds`, `30d`) or milliseconds. */
export type Duration = string | number;

export interface ActivityRetryPolicy {
  initialInterval: Duration;
  backoffCoefficient: number;
  maximumInterval: Duration;
  maximumAttempts: number;
}

export interface ReleasePolicy {
  activityRetry: ActivityRetryPolicy;
  /** How long a manual gate waits for a decision before the release ends as ApprovalExpired (default: idleTimeout). */
  approvalTimeout?: Duration;
  /** Bound on any single activity attempt. */
  activityTimeout: Duration;
  /** The release ends as Expired after this long without a new environment being reached. */
  idleTimeout: Duration;
  /**
   * The task queue of the activities that call git providers' APIs (rate-limited by the server);
   * default: the release task queue + `-git-provider`.
   */
  providerTaskQueue?: string;
  /** The run continues as new once its history is this long (default: `RELEASE_LIMITS.historyEvents`). */
  maxHistoryEvents?: number;
}

export interface ReleaseInput {
  pipeline: PipelineRef;
  version: string;
  policy: ReleasePolicy;
  /** Set only when the workflow continues as new, to carry its journey over. */
  carriedState?: ReleaseState;
  /** Set only when the workflow continues as new: decisions still waiting for their gate to open. */
  earlyDecisions?: EarlyDecision[];
  /** Set when somebody asked for this version in one environment (`baton promote`), usually to roll back. */
  rollback?: RollbackRequest;
}

/**
 * A promotion somebody asked for by hand: `version` into `environment` through that environment's
 * strategy, gates and policies, usually an older version to undo a bad one. The release starts at
 * the environment before it and ends once Flux reports the version there.
 */
export interface RollbackRequest {
  environment: string;
  reason: string;
  /** Who asked: the CLI user's name, or the gateway's authenticated token user. */
  by: string;
  /** ISO 8601. */
  at: string;
}

export const ReleasePhase = {
  /** Waiting for the first `deployed` signal (only between start and the first signal). */
  started: 'Started',
  /** Running the promotion strategy into the target environment. */
  promoting: 'Promoting',
  /** The target environment's gate asks for a manual approval. */
  awaitingApproval: 'AwaitingApproval',
  /**
   * Held by a promotion policy: a soak time not over yet, or (approved, behind a gate) a release
   * train not departed yet or a shut change window; `blockedBy` says which and until when.
   */
  blocked: 'Blocked',
  /** Promoted; waiting for Flux to report the version in the target environment. */
  awaitingDeployment: 'AwaitingDeployment',
  /** Running the verification checks of the environment reached (`promotion.baton.dev/verify.<env>`). */
  verifying: 'Verifying',
  /** A verification check failed (or could not run): nothing more is promoted; `verifications` says which and why. */
  verificationFailed: 'VerificationFailed',
  /** The version reached the last environment. */
  completed: 'Completed',
  rejected: 'Rejected',
  /** Nobody decided within the approval timeout. */
  approvalExpired: 'ApprovalExpired',
  /**
   * A higher version (or, between versions without an order, a later one) took this one's place at
   * its environment.
   */
  superseded: 'Superseded',
  /**
   * The promotion's pull request was closed without merging: somebody decided against the version,
   * as a rejection does at a gate. The promotion branch is deleted.
   */
  pullRequestClosed: 'PullRequestClosed',
  /**
   * Somebody marked the version bad (`baton mark-bad`): the release ended without promoting further,
   * and `markedBad` says who, when and why.
   */
  markedBad: 'MarkedBad',
  /** A promotion failed in a way retrying cannot fix; `lastError` says what to change. */
  failed: 'Failed',
  /** Nothing happened for the policy's idle timeout. */
  expired: 'Expired',
} as const;
export type ReleasePhase = (typeof ReleasePhase)[keyof typeof ReleasePhase];

/** Sent to the release of a version marked bad (signal `markedBad`): it ends, saying who and why. */
export interface MarkedBad {
  /** The mark's id in the promotion-controls workflow (`bad-9`). */
  id: string;
  reason: string;
  by: string;
  at: string;
}

/** What the gateway keeps of a Flux event: enough to explain the journey, nothing sensitive. */
export interface DeploymentEvent {
  revision: string;
  reason: string;
  message: string;
  timestamp: string;
  reportingController: string;
  involvedObject: { apiVersion?: string; kind: string; namespace: string; name: string };
}

export interface DeploymentRecord {
  environment: string;
  reachedAt: string;
  event: DeploymentEvent;
  /** How many more times Flux reported the same deployment; they change nothing. */
  repeats: number;
}

/**
 * One target of an environment (a namespace, on the cluster its `clusterRef` names) and whether Flux
 * reported the release's version there. Events name the namespace only, so targets are told apart
 * by namespace: two targets with the same namespace on different clusters count as one.
 */
export interface TargetStatus {
  environment: string;
  namespace: string;
  /** The target's `clusterRef`, `<namespace>/<name>` or `<name>`, as the Pipeline names it. */
  cluster?: string;
  /** `reported`: Flux reported the version there (at `reportedAt`); `waiting`: not yet. */
  status: 'reported' | 'waiting';
  reportedAt?: string;
  /** The event that reported it. */
  event?: DeploymentEvent;
}

/** A Flux failure for the release's version, which ended it. */
export interface DeploymentFailure {
  environment: string;
  receivedAt: string;
  event: DeploymentEvent;
  /** `soak`: the version was soaking in that environment, and so failed its soak. */
  during?: 'soak';
}

/**
 * How the gateway authenticated the person behind a decision. Never a credential: the key's name,
 * not its value; the token's claims, not the token.
 */
export interface DecisionAuthentication {
  /**
   * The channel: `oidc`, a token of the configured issuer; `approval-key`, a signature by a key of
   * the Pipeline's approval Secret; `legacy-signature`, Weave's signature by the webhook key
   * (BATON_LEGACY_APPROVAL_SIGNATURE) — these three vouched for by the gateway's proof; `temporal`, a
   * signal or Update sent straight to Temporal, whose own authorization decided who could send it.
   */
  method: 'oidc' | 'approval-key' | 'legacy-signature' | 'temporal';
  /** Who approved: the token's user claim (oidc), else the name the signer typed. */
  subject: string;
  /** True when the issuer vouches for `subject`; false when the signer only asserted it. */
  verified: boolean;
  /** oidc: the token's issuer. */
  issuer?: string;
  /** oidc: the token's groups claim. */
  groups?: string[];
  /** The key that signed: `approval-key:<namespace>/<secret>/<key>` or `hmac-key:<namespace>/<secret>`. */
  key?: string;
}

/** An approval decision as a person sends it (signal, update, the gateway's approval route). */
export interface Decision {
  approver: string;
  comment?: string;
  /** When set, the decision applies only if this environment is the one waiting. */
  environment?: string;
  /** When set, the decision applies only to this version (the approval endpoint's `{revision}`). */
  version?: string;
  /**
   * An approval that may promote a version lower than the one already promoted into the environment
   * (Pipelines that queue versions refuse a plain approval then).
   */
  allowDowngrade?: boolean;
  /**
   * Set by the gateway's approval endpoint, with `proof`. A decision sent straight to Temporal cannot
   * claim it: without a proof that verifies, it is refused.
   */
  authentication?: DecisionAuthentication;
  /** The gateway's proof that it authenticated this decision (decision-proof.ts). */
  proof?: DecisionProof;
}

/**
 * The gateway's HMAC (BATON_DECISION_KEY, shared by gateway and worker only) over the verdict, the
 * release, the environment, the decision and its authentication: not a credential, it proves one
 * decision and nothing else, and expires minutes after `issuedAt`.
 */
export interface DecisionProof {
  issuedAt: string;
  /** base64url HMAC-SHA256. */
  signature: string;
}

/** A decision signalled before its gate opened; applied when the gate opens. */
export type EarlyDecision = Decision & { decision: DecisionRecord['decision'] };

export interface DecisionRecord {
  decision: 'approved' | 'rejected';
  environment: string;
  approver: string;
  comment?: string;
  /** The approval allowed promoting a version lower than the one already in the environment. */
  allowDowngrade?: true;
  at: string;
  /** How the approver was authenticated (absent in decisions recorded before it was kept). */
  authentication?: DecisionAuthentication;
  /** Under a quorum: the approvals received, counting this one, and how many are required. */
  quorum?: { received: number; required: number };
}

export interface PromotionRecord {
  sourceEnvironment: string;
  targetEnvironment: string;
  strategy: StrategyName;
  startedAt: string;
  completedAt?: string;
  /** Human-readable outcome: the notification emitted, the PR opened, or why nothing was needed. */
  outcome?: string;
  /** The pull request opened or updated (pull-request strategy), and what became of it. */
  pullRequest?: PullRequestRecord;
  /** The promotion branch as pushed (pull-request strategy): deleted with this lease if the PR is closed. */
  branch?: { name: string; commit: string };
  approval?: DecisionRecord;
  /** Under a quorum: every approval that counted, in the order received. */
  approvals?: DecisionRecord[];
}

/** A promotion's pull request. Releases recorded before PRs were followed have only `url` and `number`. */
export interface PullRequestRecord {
  url: string;
  number: number;
  /** As the provider said when the release last asked. */
  state?: 'open' | 'merged' | 'closed';
  mergedBy?: string;
  mergedAt?: string;
  closedBy?: string;
  closedAt?: string;
}

/**
 * The pull request a release follows while it waits for Flux to report the version the PR promotes:
 * asked about on the provider task queue at a growing interval, until it is merged (then only Flux
 * is awaited), closed, or the version is reported in the environment.
 */
export interface FollowedPullRequest {
  environment: string;
  number: number;
  /** How many times the provider was asked since the PR last changed state: the interval grows with it. */
  checks: number;
  /** When the provider is asked next (ISO 8601). */
  nextCheckAt: string;
  /** Since when the release has waited without news; its idle timeout counts from there. */
  waitingSince?: string;
  /** The last check that failed and why; the release keeps following. */
  lastCheckError?: string;
}

export interface PendingGate {
  kind: 'approval';
  environment: string;
  since: string;
  /** Who may decide (users and `group:<name>`); absent = anyone. */
  approvers?: string[];
  /** Distinct approvals required (absent = 1). */
  requiredApprovals?: number;
  /** The channels a decision may come through; absent = all. */
  channels?: DecisionAuthentication['method'][];
  /** The approvals received so far, under a quorum. */
  approvals?: DecisionRecord[];
  /** When the gate gives up (ISO 8601). */
  expiresAt?: string;
  /** How often the gate reminds people that it waits (the Pipeline's approval-reminder annotation); absent = never. */
  remindEvery?: string;
  /** Gate settings of the Pipeline that could not be used, and what the gate does instead. */
  problems?: string[];
}

/** What every promotion policy holding a promotion says. */
interface PromotionBlockBase {
  /** The environment the held promotion goes into. */
  environment: string;
  /** The policy as written: the annotation's value, or each stop and freeze with who set it, when and why. */
  policy: string;
  since: string;
  /** `opens Tue 09:00 Europe/Berlin`, `1h12m left`. */
  description: string;
}

/** The target's change window (`promotion.baton.dev/window.<env>`) is shut. */
export interface WindowBlock extends PromotionBlockBase {
  kind: 'window';
  /** When the window opens (ISO 8601). */
  opensAt: string;
  /** The gate's approval, kept until the window opens. */
  approval?: DecisionRecord;
  /** Under a quorum: every approval that counted, kept with it. */
  approvals?: DecisionRecord[];
}

/**
 * The version has not run long enough in the environment it reached (`promotion.baton.dev/soak.<env>`)
 * to move on; `environment` is the one it moves on to.
 */
export interface SoakBlock extends PromotionBlockBase {
  kind: 'soak';
  /** Where the version soaks. */
  soakingIn: string;
  /** When Flux reported the version there: the soak counts from then (ISO 8601). */
  reachedAt: string;
  /** When the soak is over (ISO 8601). */
  endsAt: string;
}

/**
 * The target has a release train (`promotion.baton.dev/train.<env>`): the promotion waits for a
 * departure, when the train's Schedule takes the highest version waiting.
 */
export interface TrainBlock extends PromotionBlockBase {
  kind: 'train';
  /** The next departure as the train's cron expression says (ISO 8601); a paused Schedule departs later. */
  departsAt: string;
  /** The gate's approval, kept until the train departs. */
  approval?: DecisionRecord;
  /** Under a quorum: every approval that counted, kept with it. */
  approvals?: DecisionRecord[];
}

/**
 * A stop or hold (`baton stop`, `baton hold`) or a freeze (`baton freeze`) covers the target; `policy`
 * and `description` list each with who set it, when and why.
 */
export interface ControlBlock extends PromotionBlockBase {
  kind: 'stop' | 'freeze';
  /** When the last freeze holding it ends (ISO 8601); absent when a stop holds it, which waits for a resume. */
  opensAt?: string;
  /** The ids of the stops and freezes holding it (`baton resume`, `baton unfreeze`). */
  controls: string[];
  /** The gate's approval, kept until the promotion may go. */
  approval?: DecisionRecord;
  /** Under a quorum: every approval that counted, kept with it. */
  approvals?: DecisionRecord[];
}

/** One verification check of an environment, as far as it ran. */
export interface CheckRecord {
  name: string;
  type: CheckType;
  status: 'running' | 'passed' | 'failed';
  /** Each observation (for kubernetes checks, the last one). */
  samples: VerificationSample[];
  /** Kubernetes checks: how many times the object was read. */
  attempts?: number;
  /** Why it failed. */
  why?: string;
}

/** The verification of the version in an environment it reached: run once, before it moves on. */
export interface VerificationRecord {
  environment: string;
  startedAt: string;
  completedAt?: string;
  verdict: 'running' | 'passed' | 'failed';
  checks: CheckRecord[];
}

/** A promotion that is due but held by a promotion policy; `kind` says which. */
export type PromotionBlock = WindowBlock | SoakBlock | TrainBlock | ControlBlock;

/** A train's departure into an environment, as the train's departure workflow sends it to the version it takes. */
export interface TrainDeparture {
  environment: string;
  /** When the train departed (ISO 8601). */
  at: string;
  /** The departure workflow the train's Schedule started. */
  departureWorkflowId: string;
}

export interface IgnoredDecision {
  decision: DecisionRecord['decision'];
  approver?: string;
  /** Why it did not apply, shortened to `RELEASE_LIMITS.ignoredWhyChars`. */
  why: string;
  at: string;
}

/**
 * Why one release takes precedence over another at an environment: `version`, a higher SemVer
 * version; `arrival`, the two have no version order (not both SemVer) and it got there later.
 */
export type Precedence = 'version' | 'arrival';

export interface ReleaseState {
  pipeline: PipelineRef;
  version: string;
  phase: ReleasePhase;
  /** The environment being promoted into, or awaited, when there is one. */
  targetEnvironment?: string;
  /** One sentence saying what the release does now. */
  currentStep: string;
  reached: DeploymentRecord[];
  /**
   * Each target of the environments Flux reported the version in, and when it did. An environment
   * is reached once every target reported (or any, with `promotion.baton.dev/require-targets: any`).
   */
  targets?: TargetStatus[];
  promotions: PromotionRecord[];
  pendingGate?: PendingGate;
  /** Set while a due promotion waits for a promotion policy (a change window, a soak time) to let it through. */
  blockedBy?: PromotionBlock;
  /** The verification of each environment that has checks (`promotion.baton.dev/verify.<env>`), in the order run. */
  verifications?: VerificationRecord[];
  /**
   * Decisions that arrived as signals but did not apply (malformed, wrong environment, approver not
   * allowed…): the latest `RELEASE_LIMITS.ignoredDecisions` of them.
   */
  ignoredDecisions?: IgnoredDecision[];
  /** How many older ignored decisions were dropped from `ignoredDecisions`. */
  ignoredDecisionsDropped?: number;
  /** Set when a higher (or, without a version order, later) version ended this release. */
  supersededBy?: {
    version: string;
    workflowId: string;
    /** Absent in releases that yielded before versions were ordered (they yielded by arrival). */
    because?: Precedence;
  };
  /**
   * Queue mode: a higher version already promoted into the environment this release waits for (or
   * was about to be promoted into); only an approval with `allowDowngrade` promotes it then.
   */
  higherVersionIn?: { environment: string; version: string; workflowId: string };
  /** The pull request followed while the release waits for Flux (pull-request strategy). */
  followedPullRequest?: FollowedPullRequest;
  /** The train departure that took this version (the promotion into its environment follows). */
  departure?: TrainDeparture;
  /** The Flux failure that ended the release. */
  failure?: DeploymentFailure;
  /** The mark that ended the release: the version was marked bad (its id, who, when, why). */
  markedBad?: MarkedBad;
  /** This release is a rollback: who asked for the version in which environment, and why. */
  rollback?: RollbackRequest;
  lastError?: string;
  /** The last notice (Flux event, Kubernetes Event) that could not be sent, and why; the release went on without it. */
  lastNoticeError?: string;
}

/** `release/<pipelineNamespace>/<pipelineName>/<version>`: one execution per journey. */
export function releaseWorkflowId(pipeline: PipelineRef, version: string): string {
  return `release/${pipeline.namespace}/${pipeline.name}/${version}`;
}
