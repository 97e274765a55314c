/**
 * The release workflow: one execution per (pipeline, version), fed by `deployed` signals. For the
 * furthest environment reached it runs the next environment's gate and promotion strategy exactly
 * once, then waits for Flux to report the version there, until the last environment is reached.
 */
import { msToNumber } from '@temporalio/common';
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProviderActivities, ReleaseActivities } from '../model/activities.js';
import type { PromotionRequest, PromotionResult } from '../model/promotion.js';
import type { PipelineStatusUpdate } from '../model/pipeline-status.js';
import { FailureType } from '../model/failures.js';
import {
  approveSignal,
  approveUpdate,
  type Decision,
  type DeployedSignal,
  deployedSignal,
  type EnvironmentClaim,
  rejectSignal,
  rejectUpdate,
  stateQuery,
  supersedeSignal,
} from '../model/messages.js';
import { effectivePromotion, type Pipeline, pipelineKey, type Promotion, StrategyName, strategyName } from '../model/pipeline.js';
import { approvalTimeout, approvers, NewerVersionPolicy, newerVersionPolicy } from '../model/pipeline-annotations.js';
import { type DecisionRecord, type PromotionRecord, type ReleaseInput, ReleasePhase, type ReleaseState } from '../model/release.js';
import { providerTaskQueueFor } from '../model/task-queues.js';
import {
  PromotionDecidedBy,
  PromotionPipeline,
  PromotionPullRequest,
  PromotionState,
  PromotionTargetEnvironment,
  PromotionVersion,
} from '../model/search-attributes.js';
import {
  alreadyPromotedInto,
  appName,
  decisionProblem,
  furthestReached,
  initialState,
  journeyLine,
  readDecision,
  recordDeployment,
  yieldsTo,
} from './journey.js';

type Activities = ReleaseActivities;

/** Keeps histories short for versions Flux reports again and again (e.g. Kustomizations). */
const MAX_HISTORY_EVENTS = 5_000;
const GIT_HEARTBEAT_TIMEOUT = '30s';

type Verdict = DecisionRecord['decision'];
type GateOutcome = DecisionRecord | 'interrupted' | 'expired' | 'superseded';

export async function release(input: ReleaseInput): Promise<ReleaseState> {
  const { policy } = input;
  const activities = proxyActivities<Activities>({
    startToCloseTimeout: policy.activityTimeout,
    retry: policy.activityRetry,
  });
  /** The git step heartbeats, so a lost worker is noticed before the activity timeout. */
  const gitActivities = proxyActivities<Activities>({
    startToCloseTimeout: policy.activityTimeout,
    heartbeatTimeout: GIT_HEARTBEAT_TIMEOUT,
    retry: policy.activityRetry,
  });
  /** Provider API calls: on their own task queue, whose activity rate the server limits. */
  const providerActivities = proxyActivities<ProviderActivities>({
    taskQueue: policy.providerTaskQueue ?? providerTaskQueueFor(workflowInfo().taskQueue),
    startToCloseTimeout: policy.activityTimeout,
    retry: policy.activityRetry,
  });
  const state = input.carriedState ?? initialState(input);
  const inbox: DeployedSignal[] = [];
  /** Decisions signalled before their gate opened; applied when it does. */
  const earlyDecisions: (Decision & { decision: Verdict })[] = [];
  let gateDecision: DecisionRecord | undefined;

  const now = (): string => new Date().toISOString();

  const show = (phase: ReleasePhase, step: string, targetEnvironment?: string): void => {
    state.phase = phase;
    state.currentStep = step;
    if (targetEnvironment !== undefined) state.targetEnvironment = targetEnvironment;
    upsertSearchAttributes([
      // Pipeline and version too, whoever started the workflow: users search releases by them.
      { key: PromotionPipeline, value: pipelineKey(state.pipeline) },
      { key: PromotionVersion, value: state.version },
      { key: PromotionState, value: phase },
      ...(targetEnvironment === undefined ? [] : [{ key: PromotionTargetEnvironment, value: targetEnvironment }]),
    ]);
    setCurrentDetails(step);
  };

  /** Applies a decision to the open gate; the caller has checked `decisionProblem`. */
  const decide = (decision: Decision, verdict: Verdict): DecisionRecord => {
    const record: DecisionRecord = {
      decision: verdict,
      environment: state.pendingGate!.environment,
      approver: decision.approver,
      ...(decision.comment === undefined ? {} : { comment: decision.comment }),
      at: now(),
    };
    gateDecision = record;
    // A decision buffered for "the next gate" must not leak past the gate just decided.
    removeWhere(earlyDecisions, (d) => d.environment === undefined || d.environment === record.environment);
    upsertSearchAttributes([{ key: PromotionDecidedBy, value: decision.approver }]);
    return record;
  };

  const ignore = (approver: string | undefined, verdict: Verdict, why: string): void => {
    (state.ignoredDecisions ??= []).push({ decision: verdict, ...(approver === undefined ? {} : { approver }), why, at: now() });
    log.warn('ignoring a decision', { approver, why });
  };

  /** Why `decision` cannot decide the open gate now, or undefined when it can. */
  const gateProblem = (decision: Decision): string | undefined =>
    gateDecision === undefined ? decisionProblem(state, decision) : `already ${gateDecision.decision} by ${gateDecision.approver}`;

  const onSignalledDecision = (verdict: Verdict) => (input: unknown) => {
    const read = readDecision(input);
    if ('problem' in read) return ignore(undefined, verdict, read.problem);
    const { decision } = read;
    if (state.pendingGate === undefined) {
      earlyDecisions.push({ ...decision, decision: verdict });
      return;
    }
    const problem = gateProblem(decision);
    if (problem === undefined) decide(decision, verdict);
    else ignore(decision.approver, verdict, problem);
  };

  const validateDecision = (input: unknown): void => {
    const read = readDecision(input);
    if ('problem' in read) throw new Error(read.problem);
    const problem = gateProblem(read.decision);
    if (problem !== undefined) throw new Error(problem);
  };

  setHandler(deployedSignal, (signal) => void inbox.push(signal), {
    description: 'Flux reported the version in an environment (sent by the gateway).',
  });
  setHandler(approveSignal, onSignalledDecision('approved'), {
    description: 'Approve the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
  });
  setHandler(rejectSignal, onSignalledDecision('rejected'), {
    description: 'Reject the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
  });
  setHandler(approveUpdate, (decision) => decide(decision, 'approved'), {
    validator: validateDecision,
    description: 'Approve the waiting promotion and get the recorded decision; refused when nothing matching waits.',
  });
  setHandler(rejectUpdate, (decision) => decide(decision, 'rejected'), {
    validator: validateDecision,
    description: 'Reject the waiting promotion and get the recorded decision; refused when nothing matching waits.',
  });
  setHandler(
    supersedeSignal,
    (claim: EnvironmentClaim) => {
      if (state.supersededBy === undefined && yieldsTo(state, claim)) {
        state.supersededBy = { version: claim.version, workflowId: claim.workflowId };
      }
    },
    { description: 'A newer version took this one’s place at an environment (sent by the environment’s claims workflow).' },
  );
  setHandler(stateQuery, () => state, {
    description: 'Where this version is: environments reached, promotions, pending gate, decisions, last error.',
  });

  /** Best effort: Pipeline.status is a mirror for kubectl and Weave UIs; a failure to write it must not stop a release. */
  const mirror = async (update: Omit<PipelineStatusUpdate, 'pipeline'>): Promise<void> => {
    try {
      await activities.recordPipelineStatus({ pipeline: state.pipeline, ...update });
    } catch (error) {
      log.warn('could not mirror the release into Pipeline.status', { error: failureMessage(error) });
    }
  };
  const summary = (phase: ReleasePhase, at = now()) => ({
    version: state.version,
    state: phase,
    workflowId: workflowInfo().workflowId,
    at,
  });

  const fail = (message: string, type: string): ApplicationFailure => {
    state.lastError = message;
    show(ReleasePhase.failed, `Failed: ${message}`);
    return ApplicationFailure.nonRetryable(message, type);
  };

  const finish = async (phase: ReleasePhase, step: string, target?: string): Promise<ReleaseState> => {
    show(phase, step, target);
    await condition(allHandlersFinished);
    return state;
  };

  const activityCall = async <T>(call: () => Promise<T>, context: string): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw fail(`${context}${failureMessage(error)}`, failureType(error));
    }
  };

  const supersedeOthers = async (
    pipeline: Pipeline,
    environment: string,
    reason: EnvironmentClaim['reason'],
    at: string,
  ): Promise<void> => {
    if (newerVersionPolicy(pipeline) === NewerVersionPolicy.queue) return;
    await activityCall(
      () =>
        activities.supersedeOlderReleases({
          pipeline: state.pipeline,
          signal: { version: state.version, environment, workflowId: workflowInfo().workflowId, reason, at },
        }),
      'superseding older releases failed: ',
    );
  };

  const gateTimeoutMs = (pipeline: Pipeline): number => {
    const fromAnnotation = approvalTimeout(pipeline);
    if (fromAnnotation !== undefined) {
      try {
        return msToNumber(fromAnnotation as Parameters<typeof msToNumber>[0]);
      } catch {
        log.warn('ignoring an invalid approval-timeout annotation', { value: fromAnnotation });
      }
    }
    return msToNumber(policy.approvalTimeout ?? policy.idleTimeout);
  };

  /** The manual gate: a decision, or why there is none (news from Flux, expiry, a newer version). */
  const awaitApproval = async (pipeline: Pipeline, target: string): Promise<GateOutcome> => {
    if (state.pendingGate?.environment !== target) {
      const since = now();
      state.pendingGate = {
        kind: 'approval',
        environment: target,
        since,
        approvers: approvers(pipeline),
        expiresAt: new Date(Date.now() + gateTimeoutMs(pipeline)).toISOString(),
      };
      gateDecision = undefined;
      show(
        ReleasePhase.awaitingApproval,
        // The UI renders current details as markdown: the command is a code span so that it is
        // copied as typed (no typographic dashes or quotes, `<you>` not taken for an HTML tag).
        `Waiting for approval to promote ${appName(pipeline.spec)} ${state.version} into ${target} — approve in ` +
          `the Temporal UI (More Actions → Send a Signal → approve) or with ` +
          `\`temporal workflow signal --workflow-id '${workflowInfo().workflowId}' --name approve ` +
          `--input '{"approver":"<you>","comment":"<why>"}'\``,
        target,
      );
      for (const early of earlyDecisions.splice(0)) {
        if (gateDecision !== undefined) break;
        const problem = decisionProblem(state, early);
        if (problem === undefined) decide(early, early.decision);
        else ignore(early.approver, early.decision, problem);
      }
      await mirror({
        environment: target,
        waitingApproval: { revision: state.version },
        lastPromotion: summary(ReleasePhase.awaitingApproval, since),
      });
      await supersedeOthers(pipeline, target, 'waiting', since);
    }
    const remainingMs = Math.max(0, Date.parse(state.pendingGate.expiresAt!) - Date.now());
    const woke = await condition(() => gateDecision !== undefined || inbox.length > 0 || state.supersededBy !== undefined, remainingMs);
    if (woke && gateDecision === undefined && state.supersededBy === undefined) return 'interrupted';
    await mirror({ environment: target, clearWaitingApproval: state.version });
    if (state.supersededBy !== undefined) return 'superseded';
    if (gateDecision !== undefined) {
      const decision = gateDecision;
      state.pendingGate = undefined;
      gateDecision = undefined;
      return decision;
    }
    return 'expired';
  };

  /** Push the promotion branch, then find-or-create its PR: each step idempotent, so exactly one PR. */
  const promoteByPullRequest = async (request: PromotionRequest): Promise<PromotionResult> => {
    const branch = await gitActivities.pushPromotionBranch(request);
    if (branch.status === 'already-at-version') return { outcome: branch.outcome };
    return providerActivities.openPullRequest(request);
  };

  const promote = async (
    pipeline: Pipeline,
    source: string,
    target: string,
    promotion: Promotion,
    approval?: DecisionRecord,
  ): Promise<void> => {
    const strategy = strategyName(promotion);
    if (strategy === undefined) {
      throw fail(
        `the promotion block for ${target} in Pipeline ${pipelineKey(state.pipeline)} selects no strategy: ` +
          `set spec.promotion.strategy.notification or .pull-request`,
        FailureType.noPromotionStrategy,
      );
    }
    const record: PromotionRecord = { sourceEnvironment: source, targetEnvironment: target, strategy, startedAt: now(), approval };
    state.promotions.push(record);
    show(ReleasePhase.promoting, `Promoting ${state.version} from ${source} into ${target} (${strategy})`, target);
    const request = {
      pipeline: state.pipeline,
      sourceEnvironment: source,
      targetEnvironment: target,
      version: state.version,
      workflowId: workflowInfo().workflowId,
      ...(approval === undefined ? {} : { approval }),
    };
    const result = await activityCall(() => {
      if (strategy === StrategyName.notification) return activities.promoteByNotification(request);
      const event = state.reached.find((r) => r.environment === source)?.event;
      return promoteByPullRequest({ ...request, ...(event === undefined ? {} : { event }) });
    }, `promoting ${state.version} into ${target} failed: `);
    record.outcome = result.outcome;
    record.completedAt = now();
    if (result.pullRequest !== undefined) {
      record.pullRequest = result.pullRequest;
      upsertSearchAttributes([{ key: PromotionPullRequest, value: result.pullRequest.url }]);
    }
    state.lastError = undefined;
    show(
      ReleasePhase.awaitingDeployment,
      `Promoted ${state.version} into ${target}${approval === undefined ? '' : `, approved by ${approval.approver},`} ` +
        `(${record.outcome}); waiting for Flux to report it in ${target}`,
      target,
    );
    await mirror({
      environment: target,
      lastPromotion: { ...summary(ReleasePhase.awaitingDeployment, record.completedAt), ...pullRequestOf(result) },
    });
    await supersedeOthers(pipeline, target, 'promoted', record.completedAt);
  };

  const closeGate = async (): Promise<void> => {
    if (state.pendingGate === undefined) return;
    const { environment } = state.pendingGate;
    state.pendingGate = undefined;
    await mirror({ environment, clearWaitingApproval: state.version });
  };

  const superseded = (): Promise<ReleaseState> =>
    finish(ReleasePhase.superseded, `Superseded by ${state.supersededBy!.version} (${state.supersededBy!.workflowId})`);

  for (;;) {
    if (inbox.length === 0 && earlyDecisions.length === 0 && historyIsLong()) {
      await condition(allHandlersFinished);
      if (inbox.length === 0 && earlyDecisions.length === 0) {
        log.info('continuing as new to keep the history short', { historyLength: workflowInfo().historyLength });
        return continueAsNew<typeof release>({ ...input, carriedState: state });
      }
    }
    const gated = state.pendingGate !== undefined;
    if (inbox.length === 0 && !gated) {
      const woke = await condition(() => inbox.length > 0 || state.supersededBy !== undefined, policy.idleTimeout);
      if (state.supersededBy !== undefined) return superseded();
      if (!woke) {
        show(ReleasePhase.expired, `Expired: nothing happened for ${String(policy.idleTimeout)} after: ${state.currentStep}`);
        return state;
      }
    }
    let news = false;
    for (const signal of inbox.splice(0)) news = recordDeployment(state, signal) || news;
    if (!news && !gated) continue;

    const pipeline = await activityCall(() => activities.resolvePipeline(state.pipeline), '');
    const { spec } = pipeline;
    const furthest = furthestReached(state, spec);
    if (furthest === undefined) continue;
    if (furthest.index === spec.environments.length - 1) {
      await closeGate();
      return finish(ReleasePhase.completed, `${appName(spec)} ${state.version} reached ${furthest.environment}: ${journeyLine(spec)} done`);
    }
    const target = spec.environments[furthest.index + 1]!.name;
    // Flux reported the version further along than the gate it waited at: that gate is moot.
    if (state.pendingGate !== undefined && state.pendingGate.environment !== target) await closeGate();
    if (alreadyPromotedInto(state, target)) continue;

    const promotion = effectivePromotion(spec, target);
    if (promotion === undefined) {
      throw fail(
        `Pipeline ${pipelineKey(state.pipeline)} has no promotion block for ${target}: ` +
          `set spec.promotion or spec.environments[${furthest.index + 1}].promotion`,
        FailureType.noPromotionStrategy,
      );
    }
    let approval: DecisionRecord | undefined;
    if (promotion.manual === true) {
      const outcome = await awaitApproval(pipeline, target);
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return superseded();
      if (outcome === 'expired') {
        const gate = state.pendingGate!;
        state.pendingGate = undefined;
        return finish(
          ReleasePhase.approvalExpired,
          `Approval expired: nobody decided on promoting ${state.version} into ${target} between ${gate.since} and ${gate.expiresAt}`,
          target,
        );
      }
      if (outcome.decision === 'rejected') {
        await mirror({ environment: target, lastPromotion: summary(ReleasePhase.rejected, outcome.at) });
        state.promotions.push({
          sourceEnvironment: furthest.environment,
          targetEnvironment: target,
          strategy: strategyName(promotion) ?? StrategyName.notification,
          startedAt: outcome.at,
          approval: outcome,
        });
        return finish(
          ReleasePhase.rejected,
          `Rejected by ${outcome.approver}${outcome.comment ? ` (${outcome.comment})` : ''}: ${state.version} will not be promoted into ${target}`,
          target,
        );
      }
      approval = outcome;
    }
    await promote(pipeline, furthest.environment, target, promotion, approval);
  }
}

function pullRequestOf(result: { pullRequest?: { url: string } }): { pullRequest?: string } {
  return result.pullRequest === undefined ? {} : { pullRequest: result.pullRequest.url };
}

function removeWhere<T>(items: T[], predicate: (item: T) => boolean): void {
  for (let i = items.length - 1; i >= 0; i -= 1) if (predicate(items[i]!)) items.splice(i, 1);
}

function historyIsLong(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS;
}

function failureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function failureType(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : FailureType.promotionFailed;
}
