/**
 * The release workflow: one execution per (pipeline, version), fed by `deployed` signals. For the
 * furthest environment reached it runs the next environment's gate and promotion strategy exactly
 * once, then waits for Flux to report the version there, until the last environment is reached.
 */
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
import type { createActivities } from '../activities/index.js';
import { FailureType } from '../model/failures.js';
import { approveSignal, type Decision, type DeployedSignal, deployedSignal, rejectSignal, stateQuery } from '../model/messages.js';
import {
  effectivePromotion,
  type Pipeline,
  pipelineKey,
  type PipelineSpec,
  type Promotion,
  StrategyName,
  strategyName,
} from '../model/pipeline.js';
import {
  type DecisionRecord,
  type PromotionRecord,
  type ReleaseInput,
  ReleasePhase,
  type ReleaseState,
} from '../model/release.js';
import { PromotionState, PromotionTargetEnvironment } from '../model/search-attributes.js';
import { alreadyPromotedInto, appName, furthestReached, initialState, journeyLine, recordDeployment } from './journey.js';

type Activities = ReturnType<typeof createActivities>;

/** Keeps histories short for versions Flux reports again and again (e.g. Kustomizations). */
const MAX_HISTORY_EVENTS = 5_000;

export async function release(input: ReleaseInput): Promise<ReleaseState> {
  const { policy } = input;
  const activities = proxyActivities<Activities>({
    startToCloseTimeout: policy.activityTimeout,
    retry: policy.activityRetry,
  });
  const state = input.carriedState ?? initialState(input);
  const inbox: DeployedSignal[] = [];
  const decisions: (Decision & { decision: DecisionRecord['decision'] })[] = [];

  setHandler(deployedSignal, (signal) => void inbox.push(signal), {
    description: 'Flux reported the version in an environment (sent by the gateway).',
  });
  setHandler(approveSignal, (decision) => void decisions.push({ ...decision, decision: 'approved' }), {
    description: 'Approve the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
  });
  setHandler(rejectSignal, (decision) => void decisions.push({ ...decision, decision: 'rejected' }), {
    description: 'Reject the promotion waiting at a manual gate: {"approver": "you@example.com", "comment": "…"}.',
  });
  setHandler(stateQuery, () => state, {
    description: 'Where this version is: environments reached, promotions, pending gate, last error.',
  });

  const show = (phase: ReleasePhase, step: string, targetEnvironment?: string): void => {
    state.phase = phase;
    state.currentStep = step;
    if (targetEnvironment !== undefined) state.targetEnvironment = targetEnvironment;
    upsertSearchAttributes([
      { key: PromotionState, value: phase },
      ...(targetEnvironment === undefined ? [] : [{ key: PromotionTargetEnvironment, value: targetEnvironment }]),
    ]);
    setCurrentDetails(step);
  };

  const fail = (message: string, type: string): ApplicationFailure => {
    state.lastError = message;
    show(ReleasePhase.failed, `Failed: ${message}`);
    return ApplicationFailure.nonRetryable(message, type);
  };

  /** Waits for Flux (or a decision); false when the release sat idle for the policy's timeout. */
  const waitForNews = (alsoWhen: () => boolean = () => false): Promise<boolean> =>
    condition(() => inbox.length > 0 || alsoWhen(), policy.idleTimeout);

  const resolve = async (): Promise<Pipeline> => {
    try {
      return await activities.resolvePipeline(state.pipeline);
    } catch (error) {
      throw fail(failureMessage(error), failureType(error));
    }
  };

  /** The manual gate: the decision, or why there is none yet (news from Flux, or idleness). */
  const awaitApproval = async (spec: PipelineSpec, target: string): Promise<DecisionRecord | 'interrupted' | 'idle'> => {
    if (state.pendingGate?.environment !== target) {
      state.pendingGate = { kind: 'approval', environment: target, since: new Date().toISOString() };
    }
    show(
      ReleasePhase.awaitingApproval,
      `Waiting for approval to promote ${appName(spec)} ${state.version} into ${target} — ` +
        `approve with: temporal workflow signal --workflow-id '${workflowInfo().workflowId}' --name approve ` +
        `--input '{"approver":"<you>","comment":"<why>"}'`,
      target,
    );
    const forTarget = (): number => decisions.findIndex((d) => d.environment === undefined || d.environment === target);
    const news = await waitForNews(() => forTarget() >= 0);
    const index = forTarget();
    if (index < 0) return news ? 'interrupted' : 'idle';
    const [decision] = decisions.splice(index, 1);
    state.pendingGate = undefined;
    return {
      decision: decision!.decision,
      environment: target,
      approver: decision!.approver,
      comment: decision!.comment,
      at: new Date().toISOString(),
    };
  };

  const promote = async (source: string, target: string, promotion: Promotion, approval?: DecisionRecord): Promise<void> => {
    const strategy = strategyName(promotion);
    if (strategy === undefined) {
      throw fail(
        `the promotion block for ${target} in Pipeline ${pipelineKey(state.pipeline)} selects no strategy: ` +
          `set spec.promotion.strategy.notification or .pull-request`,
        FailureType.noPromotionStrategy,
      );
    }
    const record: PromotionRecord = {
      sourceEnvironment: source,
      targetEnvironment: target,
      strategy,
      startedAt: new Date().toISOString(),
      approval,
    };
    state.promotions.push(record);
    show(ReleasePhase.promoting, `Promoting ${state.version} from ${source} into ${target} (${strategy})`, target);
    const request = {
      pipeline: state.pipeline,
      sourceEnvironment: source,
      targetEnvironment: target,
      version: state.version,
      workflowId: workflowInfo().workflowId,
    };
    try {
      const result =
        strategy === StrategyName.notification
          ? await activities.promoteByNotification(request)
          : await activities.promoteByPullRequest(request);
      record.outcome = result.outcome;
    } catch (error) {
      throw fail(`promoting ${state.version} into ${target} failed: ${failureMessage(error)}`, failureType(error));
    }
    record.completedAt = new Date().toISOString();
    state.lastError = undefined;
    show(
      ReleasePhase.awaitingDeployment,
      `Promoted ${state.version} into ${target} (${record.outcome}); waiting for Flux to report it in ${target}`,
      target,
    );
  };

  for (;;) {
    if (inbox.length === 0 && decisions.length === 0 && historyIsLong()) {
      await condition(allHandlersFinished);
      if (inbox.length === 0 && decisions.length === 0) {
        log.info('continuing as new to keep the history short', { historyLength: workflowInfo().historyLength });
        return continueAsNew<typeof release>({ ...input, carriedState: state });
      }
    }
    const gated = state.pendingGate !== undefined;
    if (inbox.length === 0 && !gated && !(await waitForNews())) {
      show(ReleasePhase.expired, `Expired: nothing happened for ${String(policy.idleTimeout)} after: ${state.currentStep}`);
      return state;
    }
    let news = false;
    for (const signal of inbox.splice(0)) news = recordDeployment(state, signal) || news;
    if (!news && !gated) continue;

    const pipeline = await resolve();
    const { spec } = pipeline;
    const furthest = furthestReached(state, spec);
    if (furthest === undefined) continue;
    if (furthest.index === spec.environments.length - 1) {
      show(ReleasePhase.completed, `${appName(spec)} ${state.version} reached ${furthest.environment}: ${journeyLine(spec)} done`);
      await condition(allHandlersFinished);
      return state;
    }
    const target = spec.environments[furthest.index + 1]!.name;
    if (state.pendingGate !== undefined && state.pendingGate.environment !== target) state.pendingGate = undefined;
    if (alreadyPromotedInto(state, target)) {
      state.pendingGate = undefined;
      continue;
    }

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
      const outcome = await awaitApproval(spec, target);
      if (outcome === 'interrupted') continue;
      if (outcome === 'idle') {
        show(ReleasePhase.expired, `Expired: nobody approved promoting ${state.version} into ${target} within ${String(policy.idleTimeout)}`);
        return state;
      }
      if (outcome.decision === 'rejected') {
        state.promotions.push({
          sourceEnvironment: furthest.environment,
          targetEnvironment: target,
          strategy: strategyName(promotion) ?? StrategyName.notification,
          startedAt: outcome.at,
          approval: outcome,
        });
        show(ReleasePhase.rejected, `Rejected by ${outcome.approver}: ${state.version} will not be promoted into ${target}`, target);
        await condition(allHandlersFinished);
        return state;
      }
      approval = outcome;
    }
    await promote(furthest.environment, target, promotion, approval);
  }
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
