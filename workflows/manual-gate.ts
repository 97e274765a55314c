/**
 * The manual gate in front of an environment: approve/reject signals and updates, decisions that
 * arrive before the gate opens, and the wait for a decision. One gate object serves every gate of a
 * release; `state.pendingGate` says which one is open.
 */
import { msToNumber } from '@temporalio/common';
import {
  ApplicationFailure,
  log,
  patched,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DecisionProofActivities } from '../model/activities.js';
import { type ApprovalPolicy, approvalPolicy, approverProblem } from '../model/approval-policy.js';
import { FailureType } from '../model/failures.js';
import { approveSignal, approveUpdate, type Decision, rejectSignal, rejectUpdate } from '../model/messages.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { approvalTimeout, approvers, PipelineAnnotation } from '../model/pipeline-annotations.js';
import {
  type DecisionAuthentication,
  type DecisionRecord,
  type EarlyDecision,
  type PendingGate,
  ReleasePhase,
  type ReleasePolicy,
} from '../model/release.js';
import { RELEASE_LIMITS } from '../model/release-limits.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { PromotionDecidedBy } from '../model/search-attributes.js';
import { recordIgnoredDecision } from './bounded-state.js';
import { reminderSetting, spokenDuration, waitReminding } from './gate-reminders.js';
import { appName, decisionProblem, earlyDecisionProblem, readDecision, withDowngradeNote } from './journey.js';
import { now, type ReleaseRun } from './release-run.js';

type Verdict = DecisionRecord['decision'];

/** A decision signalled before its gate opens waits only when it names the environment and the version. */
const EARLY_DECISIONS_NAME_GATE_PATCH = 'early-decisions-name-environment-and-version';
/**
 * Gates open under the Pipeline's approval policy (approvers and groups, quorum, channels) and know
 * how each decision was authenticated. A gate opened before keeps deciding as it did.
 */
const APPROVAL_POLICY_PATCH = 'approval-policy-per-environment';

const { checkDecisionProof } = proxyLocalActivities<DecisionProofActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/** A decision as recorded, or why it does not apply. */
type Admission = { record: DecisionRecord } | { problem: string };

/** A decision, or why there is none: news from Flux, nobody decided in time, a newer version took over. */
export type GateOutcome = DecisionRecord | 'interrupted' | 'expired' | 'superseded';

export class ManualGate {
  /** The decision on the open gate, until the release acts on it. */
  private decision: DecisionRecord | undefined;
  /** Under a quorum: the approvals that counted towards the decision just taken. */
  private counted: DecisionRecord[] = [];
  /** Decisions signalled before their gate opened; applied when it does. */
  private readonly early: EarlyDecision[];
  /** "<app> <version>", as the waiting gate names the release (empty until a gate opens in this run). */
  private label = '';

  constructor(
    private readonly run: ReleaseRun,
    private readonly policy: ReleasePolicy,
    /** Whether something else the release must look at arrived (a `deployed` signal). */
    private readonly news: () => boolean,
    /** Early decisions the previous run carried over continue-as-new. */
    carried: EarlyDecision[] = [],
  ) {
    this.early = carried.slice(0, RELEASE_LIMITS.earlyDecisions);
  }

  /** Registers the approve and reject signals and updates. */
  listen(): void {
    setHandler(approveSignal, this.onSignalledDecision('approved'), {
      description: 'Approve the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
    });
    setHandler(rejectSignal, this.onSignalledDecision('rejected'), {
      description: 'Reject the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
    });
    setHandler(approveUpdate, (decision) => this.onUpdatedDecision(decision, 'approved'), {
      validator: (input: unknown): void => this.validate(input, 'approved'),
      description: 'Approve the waiting promotion and get the recorded decision; refused when nothing matching waits.',
    });
    setHandler(rejectUpdate, (decision) => this.onUpdatedDecision(decision, 'rejected'), {
      validator: (input: unknown): void => this.validate(input, 'rejected'),
      description: 'Reject the waiting promotion and get the recorded decision; refused when nothing matching waits.',
    });
  }

  /** Decisions waiting for a gate that has not opened yet, to carry over continue-as-new. */
  get earlyDecisions(): EarlyDecision[] {
    return [...this.early];
  }

  /** Opens the gate into `target` (once) and waits for a decision or whatever interrupts the wait. */
  async wait(pipeline: Pipeline, target: string): Promise<GateOutcome> {
    const { run } = this;
    if (run.state.pendingGate?.environment !== target) await this.open(pipeline, target);
    const gate = run.state.pendingGate!;
    const woke = await waitReminding(run, gate, () => this.decision !== undefined || this.news() || run.state.supersededBy !== undefined);
    if (woke && this.decision === undefined && run.state.supersededBy === undefined) return 'interrupted';
    await run.mirror({ environment: target, clearWaitingApproval: run.state.version });
    if (run.state.supersededBy !== undefined) return 'superseded';
    if (this.decision !== undefined) {
      const decision = this.decision;
      run.state.pendingGate = undefined;
      this.decision = undefined;
      return decision;
    }
    return 'expired';
  }

  /** Under a quorum, the approvals behind the decision `wait` returned last (taken once). */
  takeApprovals(): DecisionRecord[] | undefined {
    const counted = this.counted;
    this.counted = [];
    return counted.length > 1 ? counted : undefined;
  }

  /** Closes the open gate without a decision (Flux reported the version past it, or the release completed). */
  async close(): Promise<void> {
    const { state } = this.run;
    if (state.pendingGate === undefined) return;
    const { environment } = state.pendingGate;
    state.pendingGate = undefined;
    await this.run.mirror({ environment, clearWaitingApproval: state.version });
  }

  /** Closes the gate whose wait expired and returns it. */
  expire(): PendingGate {
    const gate = this.run.state.pendingGate!;
    this.run.state.pendingGate = undefined;
    return gate;
  }

  private async open(pipeline: Pipeline, target: string): Promise<void> {
    const { run } = this;
    const { state } = run;
    const since = now();
    const problems: string[] = [];
    const reminders = reminderSetting(pipeline);
    if (reminders.problem !== undefined) problems.push(reminders.problem);
    const gate: PendingGate = {
      kind: 'approval',
      environment: target,
      since,
      expiresAt: new Date(Date.now() + this.timeoutMs(pipeline, problems)).toISOString(),
      ...(reminders.every === undefined ? {} : { remindEvery: reminders.every }),
      ...(problems.length === 0 ? {} : { problems }),
    };
    for (const problem of problems) log.warn('a gate setting of the Pipeline cannot be used', { problem });
    if (patched(APPROVAL_POLICY_PATCH)) {
      const read = approvalPolicy(pipeline, target);
      if ('problem' in read) {
        throw run.fail(
          `Pipeline ${pipelineKey(state.pipeline)} has an invalid approval policy: ${read.problem}`,
          FailureType.invalidPipeline,
        );
      }
      const { approvers: allowed, requiredApprovals, channels } = read.policy;
      Object.assign(gate, {
        ...(allowed === undefined ? {} : { approvers: allowed }),
        requiredApprovals,
        ...(channels === undefined ? {} : { channels }),
        approvals: [],
      });
    } else {
      const allowed = approvers(pipeline);
      if (allowed !== undefined) gate.approvers = allowed;
    }
    state.pendingGate = gate;
    this.label = `${appName(pipeline.spec)} ${state.version}`;
    this.decision = undefined;
    this.counted = [];
    this.showWaiting();
    for (const early of this.early.splice(0)) {
      if (this.decision !== undefined) break;
      if (underPolicy(gate)) {
        const admitted = this.admit(early, early.decision);
        const admission = admitted instanceof Promise ? await admitted : admitted;
        if ('problem' in admission) this.ignore(early.approver, early.decision, admission.problem);
        continue;
      }
      const problem = decisionProblem(state, early, early.decision);
      if (problem === undefined) this.decide(early, early.decision);
      else this.ignore(early.approver, early.decision, problem);
    }
    await run.mirror({
      environment: target,
      waitingApproval: { revision: state.version },
      lastPromotion: run.summary(ReleasePhase.awaitingApproval, since),
    });
    await run.claim(pipeline, target, 'waiting', since);
    // An early decision (or one sent meanwhile) already decided: nobody needs to be asked.
    if (this.decision !== undefined) return;
    await run.announce({
      reason: ReleaseNoticeReason.awaitingApproval,
      summary:
        `${appName(pipeline.spec)} ${state.version} is waiting for approval to be promoted into ${target} (until ${gate.expiresAt})` +
        whoMayDecide(gate) +
        problems.map((problem) => `; ${problem}`).join(''),
      environment: target,
    });
  }

  private showWaiting(): void {
    const { state } = this.run;
    const gate = state.pendingGate!;
    const required = gate.requiredApprovals ?? 1;
    const quorum = required > 1 ? ` (${gate.approvals?.length ?? 0} of ${required} approvals)` : '';
    this.run.show(
      ReleasePhase.awaitingApproval,
      // The UI renders current details as markdown: the command is a code span so that it is
      // copied as typed (no typographic dashes or quotes, `<you>` not taken for an HTML tag).
      withDowngradeNote(
        state,
        `Waiting for approval to promote ${this.label || state.version} into ${gate.environment}${quorum} — approve in ` +
          `the Temporal UI (More Actions → Send a Signal → approve) or with ` +
          `\`temporal workflow signal --workflow-id '${workflowInfo().workflowId}' --name approve ` +
          `--input '{"approver":"<you>","comment":"<why>"}'\`` +
          (gate.problems ?? []).map((problem) => ` — ${problem}`).join(''),
        gate.environment,
      ),
      gate.environment,
    );
  }

  /** Applies a decision to the open gate; the caller has checked that it may (gates opened before approval policies). */
  private decide(decision: Decision, verdict: Verdict): DecisionRecord {
    const record: DecisionRecord = {
      decision: verdict,
      environment: this.run.state.pendingGate!.environment,
      approver: decision.approver,
      ...(decision.comment === undefined ? {} : { comment: decision.comment }),
      ...(verdict === 'approved' && decision.allowDowngrade === true ? { allowDowngrade: true as const } : {}),
      at: now(),
    };
    this.decision = record;
    // A decision buffered for "the next gate" must not leak past the gate just decided.
    removeWhere(this.early, (d) => d.environment === undefined || d.environment === record.environment);
    upsertSearchAttributes([{ key: PromotionDecidedBy, value: decision.approver }]);
    return record;
  }

  /**
   * Who sent `decision`: the person the gateway's proof vouches for (checked by a local activity, so
   * the key stays out of the history), or a name typed into a signal or Update sent through Temporal.
   */
  private async checkProof(decision: Decision, verdict: Verdict): Promise<string | undefined> {
    try {
      const { problem } = await checkDecisionProof({ workflowId: workflowInfo().workflowId, verdict, decision });
      return problem === undefined ? undefined : `the gateway’s proof on this decision does not hold: ${problem}`;
    } catch (error) {
      return `the gateway’s proof on this decision does not hold: it could not be checked: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /**
   * Authenticates `decision` and, unless the gate, its policy or its quorum refuses it, records it.
   * Only a proof to check makes it wait (returning a promise); everything after that runs without
   * yielding, so concurrent decisions see each other, and decisions without a proof are settled in
   * the order they arrive.
   */
  private admit(decision: Decision, verdict: Verdict): Admission | Promise<Admission> {
    const { proof, authentication } = decision;
    if (proof === undefined || authentication === undefined) {
      return this.settle(decision, verdict, { method: 'temporal', subject: decision.approver, verified: false });
    }
    return this.checkProof(decision, verdict).then((problem) =>
      problem === undefined ? this.settle(decision, verdict, authentication) : { problem },
    );
  }

  private settle(decision: Decision, verdict: Verdict, authentication: DecisionAuthentication): Admission {
    const open = this.problem(decision, verdict);
    if (open !== undefined) return { problem: open };
    const gate = this.run.state.pendingGate!;
    const refused = approverProblem(gateAsPolicy(gate), authentication, gate.environment);
    if (refused !== undefined) return { problem: refused };
    const required = gate.requiredApprovals ?? 1;
    const approvals = gate.approvals ?? [];
    if (verdict === 'approved' && approvals.some((a) => a.approver === decision.approver)) {
      return { problem: `${decision.approver} already approved; ${approvals.length} of ${required} approvals, each from someone else` };
    }
    const record: DecisionRecord = {
      decision: verdict,
      environment: gate.environment,
      approver: decision.approver,
      ...(decision.comment === undefined ? {} : { comment: decision.comment }),
      ...(verdict === 'approved' && decision.allowDowngrade === true ? { allowDowngrade: true as const } : {}),
      at: now(),
      authentication,
      ...(required > 1 ? { quorum: { received: approvals.length + (verdict === 'approved' ? 1 : 0), required } } : {}),
    };
    this.apply(record);
    return { record };
  }

  /** Records an admitted decision: a rejection or the last approval required decides the gate. */
  private apply(record: DecisionRecord): void {
    const gate = this.run.state.pendingGate!;
    const approvals = gate.approvals ?? [];
    if (record.decision === 'approved') approvals.push(record);
    gate.approvals = approvals;
    upsertSearchAttributes([{ key: PromotionDecidedBy, value: record.approver }]);
    if (record.decision === 'rejected' || approvals.length >= (gate.requiredApprovals ?? 1)) {
      this.decision = record;
      this.counted = record.decision === 'approved' ? [...approvals] : [];
      removeWhere(this.early, (d) => d.environment === undefined || d.environment === record.environment);
    } else {
      this.showWaiting();
    }
  }

  private ignore(approver: string | undefined, verdict: Verdict, why: string): void {
    recordIgnoredDecision(this.run.state, { decision: verdict, ...(approver === undefined ? {} : { approver }), why, at: now() });
    log.warn('ignoring a decision', { approver, why: why.slice(0, RELEASE_LIMITS.ignoredWhyChars) });
  }

  /** Why `decision` cannot decide the open gate now, or undefined when it can. */
  private problem(decision: Decision, verdict: Verdict): string | undefined {
    return this.decision === undefined
      ? decisionProblem(this.run.state, decision, verdict)
      : `already ${this.decision.decision} by ${this.decision.approver}`;
  }

  /** Why an Update cannot decide now: an Update cannot wait for a gate, and says what a signal would need. */
  private updateProblem(decision: Decision, verdict: Verdict): string | undefined {
    const problem = this.problem(decision, verdict);
    if (problem === undefined) {
      const gate = this.run.state.pendingGate!;
      if (!underPolicy(gate)) return undefined;
      // What the decision claims; the handler checks the claim's proof before anything is recorded.
      const claimed = decision.proof === undefined ? undefined : decision.authentication;
      return approverProblem(
        gateAsPolicy(gate),
        claimed ?? { method: 'temporal', subject: decision.approver, verified: false },
        gate.environment,
      );
    }
    if (this.run.state.pendingGate !== undefined) return problem;
    const early = earlyDecisionProblem(this.run.state, decision);
    return early ?? `${problem}; only a signal waits for the gate to open`;
  }

  /** Signals cannot be refused: a decision that does not apply is recorded as ignored instead. */
  private onSignalledDecision(verdict: Verdict): (input: unknown) => Promise<void> {
    return async (input) => {
      const read = readDecision(input);
      if ('problem' in read) return this.ignore(undefined, verdict, read.problem);
      const { decision } = read;
      const gate = this.run.state.pendingGate;
      if (gate === undefined) {
        // Releases that kept any early decision keep doing so when their histories replay.
        const early = patched(EARLY_DECISIONS_NAME_GATE_PATCH) ? earlyDecisionProblem(this.run.state, decision) : undefined;
        if (early !== undefined) return this.ignore(decision.approver, verdict, early);
        // Bounded, because the state carries them; the first ones kept, because the first that applies wins.
        if (this.early.length < RELEASE_LIMITS.earlyDecisions) this.early.push({ ...decision, decision: verdict });
        else this.ignore(decision.approver, verdict, `${this.early.length} decisions already wait for the next gate; decide once it opens`);
        return;
      }
      if (underPolicy(gate)) {
        const admitted = this.admit(decision, verdict);
        const admission = admitted instanceof Promise ? await admitted : admitted;
        if ('problem' in admission) this.ignore(decision.approver, verdict, admission.problem);
        return;
      }
      const problem = this.problem(decision, verdict);
      if (problem === undefined) this.decide(decision, verdict);
      else this.ignore(decision.approver, verdict, problem);
    };
  }

  /** An Update's decision, validated already; refused (the Update fails, the release goes on) when it no longer applies. */
  private async onUpdatedDecision(decision: Decision, verdict: Verdict): Promise<DecisionRecord> {
    if (!underPolicy(this.run.state.pendingGate)) return this.decide(decision, verdict);
    const admitted = this.admit(decision, verdict);
    const admission = admitted instanceof Promise ? await admitted : admitted;
    if ('problem' in admission) throw ApplicationFailure.nonRetryable(admission.problem, FailureType.decisionRefused);
    return admission.record;
  }

  /** Updates can be refused, before anything is written to history. */
  private validate(input: unknown, verdict: Verdict): void {
    const read = readDecision(input);
    if ('problem' in read) throw new Error(read.problem);
    const problem = this.updateProblem(read.decision, verdict);
    if (problem !== undefined) throw new Error(problem);
  }

  /** The gate's timeout; an annotation that is no duration is reported in `problems` and the default applies. */
  private timeoutMs(pipeline: Pipeline, problems: string[]): number {
    const fallback = this.policy.approvalTimeout ?? this.policy.idleTimeout;
    const fromAnnotation = approvalTimeout(pipeline);
    if (fromAnnotation !== undefined) {
      try {
        return msToNumber(fromAnnotation as Parameters<typeof msToNumber>[0]);
      } catch {
        problems.push(
          `${PipelineAnnotation.approvalTimeout}: '${fromAnnotation.slice(0, 40)}' is not a duration (examples: 72h, 7d); ` +
            `the gate waits ${spokenDuration(msToNumber(fallback))} instead`,
        );
      }
    }
    return msToNumber(fallback);
  }
}

/** `; 2 approvals required from: …, through: …`: what the waiting notice tells approvers of the policy. */
function whoMayDecide(gate: PendingGate): string {
  const required = gate.requiredApprovals ?? 1;
  const parts = [
    ...(required > 1 ? [`${required} approvals required`] : []),
    ...(gate.approvers === undefined ? [] : [`from ${gate.approvers.join(', ')}`]),
    ...(gate.channels === undefined ? [] : [`through ${gate.channels.join(', ')}`]),
  ];
  return parts.length === 0 ? '' : `; ${parts.join(' ')}`;
}

/** Whether `gate` was opened under an approval policy (gates opened before policies have no quorum). */
function underPolicy(gate: PendingGate | undefined): boolean {
  return gate?.requiredApprovals !== undefined;
}

function gateAsPolicy(gate: PendingGate): ApprovalPolicy {
  return {
    requiredApprovals: gate.requiredApprovals ?? 1,
    ...(gate.approvers === undefined ? {} : { approvers: gate.approvers }),
    ...(gate.channels === undefined ? {} : { channels: gate.channels }),
  };
}

function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  for (let i = items.length - 1; i >= 0; i -= 1) if (predicate(items[i]!)) items.splice(i, 1);
}
