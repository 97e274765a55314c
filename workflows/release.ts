/**
 * The release workflow: one execution per (pipeline, version), fed by `deployed` signals. For the
 * furthest environment reached it runs the next environment's gate and promotion strategy exactly
 * once, then waits for Flux to report the version there, until the last environment is reached.
 */
import { allHandlersFinished, condition, continueAsNew, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../model/failures.js';
import { type DeployedSignal, deployedSignal, type EnvironmentClaim, stateQuery, supersedeSignal } from '../model/messages.js';
import { effectivePromotion, pipelineKey, type Promotion, StrategyName, strategyName } from '../model/pipeline.js';
import { type DecisionRecord, type ReleaseInput, ReleasePhase, type ReleasePolicy, type ReleaseState } from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { RELEASE_LIMITS } from '../model/release-limits.js';
import { bounded } from './bounded-state.js';
import { alreadyPromotedInto, appName, furthestReached, initialState, journeyLine, recordDeployment, yieldsTo } from './journey.js';
import { ManualGate } from './manual-gate.js';
import { promote } from './promote.js';
import { proxyReleaseActivities } from './release-activities.js';
import { ReleaseRun } from './release-run.js';

/** Early decisions travel in the continue-as-new input instead of keeping the run from continuing. */
const CARRY_EARLY_DECISIONS_PATCH = 'carry-early-decisions-over-continue-as-new';
/** A release yields only to a higher version (arrival order only between versions without an order). */
const SUPERSEDE_BY_VERSION_PATCH = 'supersede-only-by-higher-version';

export async function release(input: ReleaseInput): Promise<ReleaseState> {
  const { policy } = input;
  const activities = proxyReleaseActivities(policy);
  const state = input.carriedState === undefined ? initialState(input) : bounded(input.carriedState);
  const run = new ReleaseRun(state, activities.release, activities.notices);
  const inbox: DeployedSignal[] = [];
  const gate = new ManualGate(run, policy, () => inbox.length > 0, input.earlyDecisions);
  // Runs that started before early decisions were carried over never continued as new while one
  // waited (and so grew without bound); they keep doing so, for their histories to replay.
  const mayContinueAsNew = (): boolean => inbox.length === 0 && (gate.earlyDecisions.length === 0 || patched(CARRY_EARLY_DECISIONS_PATCH));

  setHandler(deployedSignal, (signal) => void inbox.push(signal), {
    description: 'Flux reported the version in an environment (sent by the gateway).',
  });
  gate.listen();
  setHandler(
    supersedeSignal,
    (claim: EnvironmentClaim) => {
      if (state.supersededBy !== undefined) return;
      // Releases that yielded to any later arrival keep doing so when their histories replay.
      const because = yieldsTo(state, claim, patched(SUPERSEDE_BY_VERSION_PATCH));
      if (because === undefined) return;
      state.supersededBy = { version: claim.version, workflowId: claim.workflowId, because };
    },
    {
      description:
        'A higher version (or, between versions without an order, a later one) took this one’s place at an environment ' +
        '(sent by the environment’s claims workflow).',
    },
  );
  setHandler(stateQuery, () => state, {
    description: 'Where this version is: environments reached, promotions, pending gate, decisions, last error.',
  });

  for (;;) {
    // 1. Keep the history short: continue as new when no deployment waits to be recorded.
    if (historyIsLong(policy) && mayContinueAsNew()) {
      await condition(allHandlersFinished);
      if (mayContinueAsNew()) {
        log.info('continuing as new to keep the history short', { historyLength: workflowInfo().historyLength });
        return continueAsNew<typeof release>({ ...input, carriedState: state, earlyDecisions: gate.earlyDecisions });
      }
    }

    // 2. Wait for news from Flux (an open gate waits in step 4 instead).
    const gated = state.pendingGate !== undefined;
    if (inbox.length === 0 && !gated) {
      const woke = await condition(() => inbox.length > 0 || state.supersededBy !== undefined, policy.idleTimeout);
      if (state.supersededBy !== undefined) return run.superseded();
      if (!woke) {
        run.show(ReleasePhase.expired, `Expired: nothing happened for ${String(policy.idleTimeout)} after: ${state.currentStep}`);
        await run.announce({ reason: ReleaseNoticeReason.expired, summary: state.currentStep, environment: state.targetEnvironment });
        return state;
      }
    }
    let news = false;
    for (const signal of inbox.splice(0)) news = recordDeployment(state, signal) || news;
    if (!news && !gated) continue;

    // 3. Resolve the Pipeline as it is now, and the environment to promote into next.
    const pipeline = await run.call(() => activities.release.resolvePipeline(state.pipeline), '');
    const { spec } = pipeline;
    const furthest = furthestReached(state, spec);
    if (furthest === undefined) continue;
    if (furthest.index === spec.environments.length - 1) {
      await gate.close();
      return run.finish(
        ReleasePhase.completed,
        `${appName(spec)} ${state.version} reached ${furthest.environment}: ${journeyLine(spec)} done`,
      );
    }
    const target = spec.environments[furthest.index + 1]!.name;
    // Flux reported the version further along than the gate it waited at: that gate is moot.
    if (state.pendingGate !== undefined && state.pendingGate.environment !== target) await gate.close();
    if (alreadyPromotedInto(state, target)) continue;
    const promotion = effectivePromotion(spec, target);
    if (promotion === undefined) {
      throw await run.failed(
        `Pipeline ${pipelineKey(state.pipeline)} has no promotion block for ${target}: ` +
          `set spec.promotion or spec.environments[${furthest.index + 1}].promotion`,
        FailureType.noPromotionStrategy,
      );
    }

    // 4. The manual gate, when the target has one.
    let approval: DecisionRecord | undefined;
    if (promotion.manual === true) {
      const outcome = await gate.wait(pipeline, target);
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
      if (outcome === 'expired') {
        const { since, expiresAt } = gate.expire();
        const ended = await run.finish(
          ReleasePhase.approvalExpired,
          `Approval expired: nobody decided on promoting ${state.version} into ${target} between ${since} and ${expiresAt}`,
          target,
        );
        await run.announce({ reason: ReleaseNoticeReason.approvalExpired, summary: state.currentStep, environment: target });
        return ended;
      }
      if (outcome.decision === 'rejected') return rejected(run, { source: furthest.environment, target, promotion, rejection: outcome });
      approval = outcome;
      await run.announce({
        reason: ReleaseNoticeReason.approved,
        summary: `Approved by ${outcome.approver}${outcome.comment ? ` (${outcome.comment})` : ''}: promoting ${state.version} into ${target}`,
        environment: target,
        approver: outcome.approver,
      });
    }

    // 5. Promote; the next loop waits for Flux to report the version in the target.
    await promote(run, activities, { pipeline, source: furthest.environment, target, promotion, approval });
  }
}

/** Ends the release at a rejection, recorded as a promotion that never ran. */
async function rejected(
  run: ReleaseRun,
  { source, target, promotion, rejection }: { source: string; target: string; promotion: Promotion; rejection: DecisionRecord },
): Promise<ReleaseState> {
  const { state } = run;
  await run.mirror({ environment: target, lastPromotion: run.summary(ReleasePhase.rejected, rejection.at) });
  state.promotions.push({
    sourceEnvironment: source,
    targetEnvironment: target,
    strategy: strategyName(promotion) ?? StrategyName.notification,
    startedAt: rejection.at,
    approval: rejection,
  });
  const ended = await run.finish(
    ReleasePhase.rejected,
    `Rejected by ${rejection.approver}${rejection.comment ? ` (${rejection.comment})` : ''}: ${state.version} will not be promoted into ${target}`,
    target,
  );
  await run.announce({
    reason: ReleaseNoticeReason.rejected,
    summary: state.currentStep,
    environment: target,
    approver: rejection.approver,
  });
  return ended;
}

/** Keeps histories short for versions Flux reports again and again (e.g. Kustomizations). */
function historyIsLong(policy: ReleasePolicy): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > (policy.maxHistoryEvents ?? RELEASE_LIMITS.historyEvents);
}
