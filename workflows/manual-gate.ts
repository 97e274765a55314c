/**
 * The manual gate in front of an environment: approve/reject signals and updates, decisions that
 * arrive before the gate opens, and the wait for a decision. One gate object serves every gate of a
 * release; `state.pendingGate` says which one is open.
 */
import { msToNumber } from '@temporalio/common';
import { log, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { approveSignal, approveUpdate, type Decision, rejectSignal, rejectUpdate } from '../model/messages.js';
import type { Pipeline } from '../model/pipeline.js';
import { approvalTimeout, approvers, PipelineAnnotation } from '../model/pipeline-annotations.js';
import { type DecisionRecord, type EarlyDecision, type PendingGate, ReleasePhase, type ReleasePolicy } from '../model/release.js';
import { RELEASE_LIMITS } from '../model/release-limits.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { PromotionDecidedBy } from '../model/search-attributes.js';
import { recordIgnoredDecision } from './bounded-state.js';
import { reminderSetting, spokenDuration, waitReminding } from './gate-reminders.js';
import { appName, decisionProblem, earlyDecisionProblem, readDecision } from './journey.js';
import { now, type ReleaseRun } from './release-run.js';

type Verdict = DecisionRecord['decision'];

/** A decision signalled before its gate opens waits only when it names the environment and the version. */
const EARLY_DECISIONS_NAME_GATE_PATCH = 'early-decisions-name-environment-and-version';

/** A decision, or why there is none: news from Flux, nobody decided in time, a newer version took over. */
export type GateOutcome = DecisionRecord | 'interrupted' | 'expired' | 'superseded';

export class ManualGate {
  /** The decision on the open gate, until the release acts on it. */
  private decision: DecisionRecord | undefined;
  /** Decisions signalled before their gate opened; applied when it does. */
  private readonly early: EarlyDecision[];

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
    const validator = (input: unknown): void => this.validate(input);
    setHandler(approveUpdate, (decision) => this.decide(decision, 'approved'), {
      validator,
      description: 'Approve the waiting promotion and get the recorded decision; refused when nothing matching waits.',
    });
    setHandler(rejectUpdate, (decision) => this.decide(decision, 'rejected'), {
      validator,
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
    state.pendingGate = {
      kind: 'approval',
      environment: target,
      since,
      approvers: approvers(pipeline),
      expiresAt: new Date(Date.now() + this.timeoutMs(pipeline, problems)).toISOString(),
      ...(reminders.every === undefined ? {} : { remindEvery: reminders.every }),
      ...(problems.length === 0 ? {} : { problems }),
    };
    for (const problem of problems) log.warn('a gate setting of the Pipeline cannot be used', { problem });
    this.decision = undefined;
    run.show(
      ReleasePhase.awaitingApproval,
      // The UI renders current details as markdown: the command is a code span so that it is
      // copied as typed (no typographic dashes or quotes, `<you>` not taken for an HTML tag).
      `Waiting for approval to promote ${appName(pipeline.spec)} ${state.version} into ${target} — approve in ` +
        `the Temporal UI (More Actions → Send a Signal → approve) or with ` +
        `\`temporal workflow signal --workflow-id '${workflowInfo().workflowId}' --name approve ` +
        `--input '{"approver":"<you>","comment":"<why>"}'\`` +
        problems.map((problem) => ` — ${problem}`).join(''),
      target,
    );
    for (const early of this.early.splice(0)) {
      if (this.decision !== undefined) break;
      const problem = decisionProblem(state, early);
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
        `${appName(pipeline.spec)} ${state.version} is waiting for approval to be promoted into ${target} (until ${state.pendingGate.expiresAt})` +
        problems.map((problem) => `; ${problem}`).join(''),
      environment: target,
    });
  }

  /** Applies a decision to the open gate; the caller has checked that it may. */
  private decide(decision: Decision, verdict: Verdict): DecisionRecord {
    const record: DecisionRecord = {
      decision: verdict,
      environment: this.run.state.pendingGate!.environment,
      approver: decision.approver,
      ...(decision.comment === undefined ? {} : { comment: decision.comment }),
      at: now(),
    };
    this.decision = record;
    // A decision buffered for "the next gate" must not leak past the gate just decided.
    removeWhere(this.early, (d) => d.environment === undefined || d.environment === record.environment);
    upsertSearchAttributes([{ key: PromotionDecidedBy, value: decision.approver }]);
    return record;
  }

  private ignore(approver: string | undefined, verdict: Verdict, why: string): void {
    recordIgnoredDecision(this.run.state, { decision: verdict, ...(approver === undefined ? {} : { approver }), why, at: now() });
    log.warn('ignoring a decision', { approver, why: why.slice(0, RELEASE_LIMITS.ignoredWhyChars) });
  }

  /** Why `decision` cannot decide the open gate now, or undefined when it can. */
  private problem(decision: Decision): string | undefined {
    return this.decision === undefined
      ? decisionProblem(this.run.state, decision)
      : `already ${this.decision.decision} by ${this.decision.approver}`;
  }

  /** Why an Update cannot decide now: an Update cannot wait for a gate, and says what a signal would need. */
  private updateProblem(decision: Decision): string | undefined {
    const problem = this.problem(decision);
    if (problem === undefined || this.run.state.pendingGate !== undefined) return problem;
    const early = earlyDecisionProblem(this.run.state, decision);
    return early ?? `${problem}; only a signal waits for the gate to open`;
  }

  /** Signals cannot be refused: a decision that does not apply is recorded as ignored instead. */
  private onSignalledDecision(verdict: Verdict): (input: unknown) => void {
    return (input) => {
      const read = readDecision(input);
      if ('problem' in read) return this.ignore(undefined, verdict, read.problem);
      const { decision } = read;
      if (this.run.state.pendingGate === undefined) {
        // Releases that kept any early decision keep doing so when their histories replay.
        const early = patched(EARLY_DECISIONS_NAME_GATE_PATCH) ? earlyDecisionProblem(this.run.state, decision) : undefined;
        if (early !== undefined) return this.ignore(decision.approver, verdict, early);
        // Bounded, because the state carries them; the first ones kept, because the first that applies wins.
        if (this.early.length < RELEASE_LIMITS.earlyDecisions) this.early.push({ ...decision, decision: verdict });
        else this.ignore(decision.approver, verdict, `${this.early.length} decisions already wait for the next gate; decide once it opens`);
        return;
      }
      const problem = this.problem(decision);
      if (problem === undefined) this.decide(decision, verdict);
      else this.ignore(decision.approver, verdict, problem);
    };
  }

  /** Updates can be refused, before anything is written to history. */
  private validate(input: unknown): void {
    const read = readDecision(input);
    if ('problem' in read) throw new Error(read.problem);
    const problem = this.updateProblem(read.decision);
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

function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  for (let i = items.length - 1; i >= 0; i -= 1) if (predicate(items[i]!)) items.splice(i, 1);
}
