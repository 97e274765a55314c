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
import { RELEASE_LIMITS } from '../model/release-limits.js';
import { bounded } from './bounded-state.js';
import { alreadyPromotedInto, appName, furthestReached, initialState, journeyLine, recordDeployment, yieldsTo } from './journey.js';
import { ManualGate } from './manual-gate.js';
import { promote } from './promote.js';
import { proxyReleaseActivities } from './release-activities.js';
import { ReleaseRun } from './release-run.js';
import { WindowGate } from './window-gate.js';

/** Early decisions travel in the continue-as-new input instead of keeping the run from continuing. */
const CARRY_EARLY_DECISIONS_PATCH = 'carry-early-decisions-over-continue-as-new';
/** A release yields only to a higher version (arrival order only between versions without an order). */
const SUPERSEDE_BY_VERSION_PATCH = 'supersede-only-by-higher-version';
/** After an approval, the Pipeline is read again for the target's change window. */
const WINDOW_AFTER_APPROVAL_PATCH = 'read-change-window-after-approval';

export async function release(input: ReleaseInput): Promise<ReleaseState> {
  const { policy } = input;
  const activities = proxyReleaseActivities(policy);
  const state = input.carriedState === undefined ? initialState(input) : bounded(input.carriedState);
  const run = new ReleaseRun(state, activities.release);
  const inbox: DeployedSignal[] = [];
  const gate = new ManualGate(run, policy, () => inbox.length > 0, input.earlyDecisions);
  const windowGate = new WindowGate(run, () => inbox.length > 0);
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

    // 2. Wait for news from Flux (an open gate, or a shut window, waits in step 4 instead).
    const gated = state.pendingGate !== undefined || state.blockedBy !== undefined;
    if (inbox.length === 0 && !gated) {
      const woke = await condition(() => inbox.length > 0 || state.supersededBy !== undefined, policy.idleTimeout);
      if (state.supersededBy !== undefined) return run.superseded();
      if (!woke) {
        run.show(ReleasePhase.expired, `Expired: nothing happened for ${String(policy.idleTimeout)} after: ${state.currentStep}`);
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
      windowGate.clear();
      return run.finish(
        ReleasePhase.completed,
        `${appName(spec)} ${state.version} reached ${furthest.environment}: ${journeyLine(spec)} done`,
      );
    }
    const target = spec.environments[furthest.index + 1]!.name;
    // Read before anything else runs, so that a policy that cannot be read fails the release at once.
    let window = windowGate.windowFor(pipeline, target);
    // Flux reported the version further along than the gate it waited at: that gate is moot.
    if (state.pendingGate !== undefined && state.pendingGate.environment !== target) await gate.close();
    if (state.blockedBy !== undefined && state.blockedBy.environment !== target) windowGate.clear();
    if (alreadyPromotedInto(state, target)) continue;
    const promotion = effectivePromotion(spec, target);
    if (promotion === undefined) {
      throw run.fail(
        `Pipeline ${pipelineKey(state.pipeline)} has no promotion block for ${target}: ` +
          `set spec.promotion or spec.environments[${furthest.index + 1}].promotion`,
        FailureType.noPromotionStrategy,
      );
    }

    // 4. The manual gate, when the target has one (unless it approved before the window held the promotion).
    const kept = windowGate.keptApproval(target);
    let approval = kept?.approval;
    let approvals = kept?.approvals;
    if (promotion.manual === true && approval === undefined) {
      const outcome = await gate.wait(pipeline, target);
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
      if (outcome === 'expired') {
        const { since, expiresAt } = gate.expire();
        return run.finish(
          ReleasePhase.approvalExpired,
          `Approval expired: nobody decided on promoting ${state.version} into ${target} between ${since} and ${expiresAt}`,
          target,
        );
      }
      if (outcome.decision === 'rejected') return rejected(run, { source: furthest.environment, target, promotion, rejection: outcome });
      approval = outcome;
      approvals = gate.takeApprovals();
      // An approval may come days after the Pipeline was read: a window set or changed meanwhile applies.
      if (patched(WINDOW_AFTER_APPROVAL_PATCH)) {
        const current = await run.call(() => activities.release.resolvePipeline(state.pipeline), '');
        window = windowGate.windowFor(current, target);
      }
    }

    // 4b. The change window, when the target has one: a promotion due while it is shut waits for it.
    if (window === undefined) windowGate.clear();
    else {
      const outcome = await windowGate.wait(pipeline, target, window, { approval, approvals });
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
    }

    // 5. Promote; the next loop waits for Flux to report the version in the target.
    await promote(run, activities, { pipeline, source: furthest.environment, target, promotion, approval, approvals });
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
  return run.finish(
    ReleasePhase.rejected,
    `Rejected by ${rejection.approver}${rejection.comment ? ` (${rejection.comment})` : ''}: ${state.version} will not be promoted into ${target}`,
    target,
  );
}

/** Keeps histories short for versions Flux reports again and again (e.g. Kustomizations). */
function historyIsLong(policy: ReleasePolicy): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > (policy.maxHistoryEvents ?? RELEASE_LIMITS.historyEvents);
}
