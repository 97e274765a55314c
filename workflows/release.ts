/**
 * The release workflow: one execution per (pipeline, version), fed by `deployed` signals. For the
 * furthest environment reached it runs the next environment's gate and promotion strategy exactly
 * once, then waits for Flux to report the version there (following the promotion's pull request
 * meanwhile, if it opened one), until the last environment is reached.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReleaseActivities } from '../model/activities.js';
import { FailureType } from '../model/failures.js';
import {
  type DeployedSignal,
  deployedSignal,
  deploymentFailedSignal,
  type EnvironmentClaim,
  environmentPromotedSignal,
  markedBadSignal,
  stateQuery,
  supersedeSignal,
} from '../model/messages.js';
import { effectivePromotion, type Pipeline, pipelineKey, type Promotion, StrategyName, strategyName } from '../model/pipeline.js';
import { NewerVersionPolicy, newerVersionPolicy, RequiredTargets, requiredTargets } from '../model/pipeline-annotations.js';
import {
  type DecisionRecord,
  type MarkedBad,
  type ReleaseInput,
  ReleasePhase,
  type ReleasePolicy,
  type ReleaseState,
} from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { bounded, keptEvent } from './bounded-state.js';
import {
  alreadyPromotedInto,
  appName,
  environmentAwaitingTargets,
  furthestReached,
  higherPromoted,
  initialState,
  journeyLine,
  recordDeployment,
  recordTargetReport,
  settleTargets,
  withDowngradeNote,
  withTargetsNote,
  yieldsTo,
} from './journey.js';
import { ManualGate } from './manual-gate.js';
import { promote } from './promote.js';
import { PullRequestFollower } from './pull-request-follower.js';
import { proxyReleaseActivities } from './release-activities.js';
import { QUEUE_IN_ORDER_PATCH, ReleaseRun } from './release-run.js';
import { SoakGate } from './soak-gate.js';
import { TrainGate } from './train-gate.js';
import { WindowGate } from './window-gate.js';
import { ControlsGate } from './controls-gate.js';
import { rollbackStep } from './rollback.js';
import { VerifyGate } from './verify-gate.js';

/** Early decisions travel in the continue-as-new input instead of keeping the run from continuing. */
const CARRY_EARLY_DECISIONS_PATCH = 'carry-early-decisions-over-continue-as-new';
/** A release yields only to a higher version (arrival order only between versions without an order). */
const SUPERSEDE_BY_VERSION_PATCH = 'supersede-only-by-higher-version';
/** An environment is reached when every target reported the version (or any, by annotation), not at its first report. */
const EVERY_TARGET_PATCH = 'environment-reached-when-every-target-reports';
/** After an approval, the Pipeline is read again for the target's change window. */
const WINDOW_AFTER_APPROVAL_PATCH = 'read-change-window-after-approval';
/** A version marked bad ends its release. */
const MARKED_BAD_PATCH = 'end-release-marked-bad';

export async function release(input: ReleaseInput): Promise<ReleaseState> {
  const { policy } = input;
  const activities = proxyReleaseActivities(policy);
  const state = input.carriedState === undefined ? initialState(input) : bounded(input.carriedState);
  const run = new ReleaseRun(state, activities.release, activities.notices);
  const inbox: DeployedSignal[] = [];
  /** Flux failures for this version; the first one ends the release. */
  const failures: DeployedSignal[] = [];
  /** The version was marked bad: the release ends. */
  let marked: MarkedBad | undefined;
  /** News that ends the release, whatever it waits for. */
  const ending = (): boolean => failures.length > 0 || marked !== undefined;
  const gate = new ManualGate(run, policy, () => inbox.length > 0 || ending(), input.earlyDecisions);
  const windowGate = new WindowGate(run, () => inbox.length > 0 || ending());
  const controlsGate = new ControlsGate(run, activities, ending);
  const hasNews = (): boolean => inbox.length > 0 || ending() || state.supersededBy !== undefined;
  const follower = new PullRequestFollower(run, activities, hasNews);
  const trainGate = new TrainGate(run, () => inbox.length > 0 || ending());
  const soakGate = new SoakGate(
    run,
    () => inbox.length > 0 || ending(),
    () => historyIsLong(policy),
  );
  /** A rollback promotes without waiting for Flux first: the request is its news, until it promoted. */
  const rollbackDue = (): boolean => state.rollback !== undefined && state.promotions.length === 0;
  const verifyGate = new VerifyGate(run, policy);
  /** News that may change what the release does next: looked at after a verification, which does not wait for it. */
  const newsAfterVerifying = (): boolean => inbox.length > 0 || ending() || state.supersededBy !== undefined;
  // Runs that started before early decisions were carried over never continued as new while one
  // waited (and so grew without bound); they keep doing so, for their histories to replay.
  const mayContinueAsNew = (): boolean =>
    inbox.length === 0 && !ending() && (gate.earlyDecisions.length === 0 || patched(CARRY_EARLY_DECISIONS_PATCH));

  setHandler(deployedSignal, (signal) => void inbox.push(signal), {
    description: 'Flux reported the version in an environment (sent by the gateway).',
  });
  setHandler(deploymentFailedSignal, (signal) => void failures.push(signal), {
    description: 'Flux reported that deploying the version failed in an environment (sent by the gateway): the release ends Failed.',
  });
  setHandler(
    markedBadSignal,
    (mark) => {
      if (marked === undefined && patched(MARKED_BAD_PATCH)) marked = mark;
    },
    { description: 'The version was marked bad (sent by promotion-controls): the release ends, saying who marked it and why.' },
  );
  gate.listen();
  controlsGate.listen();
  trainGate.listen();
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
  setHandler(
    environmentPromotedSignal,
    (promoted: EnvironmentClaim) => {
      const open = state.pendingGate;
      if (open?.environment !== promoted.environment || promoted.workflowId === workflowInfo().workflowId) return;
      state.higherVersionIn = higherPromoted(state, promoted);
      run.show(state.phase, withDowngradeNote(state, state.currentStep, open.environment));
    },
    {
      description:
        'A version was promoted into the environment this release waits at, when the Pipeline queues versions ' +
        '(sent by the environment’s claims workflow): a higher one makes approving this one a downgrade.',
    },
  );
  setHandler(stateQuery, () => state, {
    description: 'Where this version is: environments reached, promotions, pending gate, decisions, last error.',
  });

  for (;;) {
    if (marked !== undefined) throw await markedBad(run, gate, marked);
    if (failures.length > 0) throw await deploymentFailed(run, gate, soakGate, failures[0]!);

    // 1. Keep the history short: continue as new when no deployment waits to be recorded.
    if (historyIsLong(policy) && mayContinueAsNew()) {
      await condition(allHandlersFinished);
      if (mayContinueAsNew()) {
        log.info('continuing as new to keep the history short', { historyLength: workflowInfo().historyLength });
        return continueAsNew<typeof release>({ ...input, carriedState: state, earlyDecisions: gate.earlyDecisions });
      }
    }

    // 2. Wait for news from Flux (an open gate, a soak or a shut window waits in its own step instead).
    const gated = state.pendingGate !== undefined || state.blockedBy !== undefined || rollbackDue();
    if (inbox.length === 0 && !gated) {
      // While a promotion's pull request is followed, the wait is cut into checks of it.
      const waited = follower.active()
        ? await follower.wait(policy.idleTimeout)
        : (await condition(hasNews, policy.idleTimeout))
          ? 'news'
          : 'idle';
      if (marked !== undefined) throw await markedBad(run, gate, marked);
      if (failures.length > 0) throw await deploymentFailed(run, gate, soakGate, failures[0]!);
      if (state.supersededBy !== undefined) return run.superseded();
      if (waited === 'closed') return follower.closed();
      // Back to the top, where a history grown by the checks continues as new.
      if (waited === 'checked') continue;
      if (waited === 'idle') {
        run.show(ReleasePhase.expired, `Expired: nothing happened for ${String(policy.idleTimeout)} after: ${state.currentStep}`);
        await run.announce({ reason: ReleaseNoticeReason.expired, summary: state.currentStep, environment: state.targetEnvironment });
        return state;
      }
    }
    let news = false;
    // Releases recorded before targets were told apart took an environment's first report as the environment's.
    const perTarget = inbox.length > 0 && patched(EVERY_TARGET_PATCH);
    for (const signal of inbox.splice(0)) news = (perTarget ? recordTargetReport(state, signal) : recordDeployment(state, signal)) || news;
    if (!news && !gated) continue;

    // 3. Resolve the Pipeline as it is now, and the environment to promote into next.
    const pipeline = await run.call(() => activities.release.resolvePipeline(state.pipeline), '');
    const { spec } = pipeline;
    if (state.targets !== undefined) {
      settleTargets(state, spec, requiredTargets(pipeline) === RequiredTargets.any);
      const awaiting = environmentAwaitingTargets(state, spec);
      const step = awaiting === undefined ? state.currentStep : withTargetsNote(state, state.currentStep, awaiting);
      if (step !== state.currentStep) run.show(state.phase, step);
    }
    follower.stopIfReached();
    let furthest = furthestReached(state, spec);
    if (state.rollback !== undefined) {
      const step = rollbackStep(state, state.rollback, spec);
      if (step.kind === 'invalid') {
        throw await run.failed(`cannot roll back to ${state.version}: ${step.problem}`, FailureType.invalidPipeline);
      }
      if (step.kind === 'done') {
        await gate.close();
        run.unblock();
        return run.finish(ReleasePhase.completed, `Rolled back to ${state.version} in ${step.environment}: Flux reported it there`);
      }
      furthest = step;
    }
    if (furthest === undefined) continue;
    // The checks of the environment reached, unless they passed already (read first too: a bad one fails at once).
    // A rollback did not reach the environment before its target: nothing to verify there.
    const checks = state.rollback === undefined ? verifyGate.checksFor(pipeline, furthest.environment) : undefined;
    if (furthest.index === spec.environments.length - 1) {
      await gate.close();
      run.unblock();
      // The last environment's checks decide whether the release completes.
      if (checks !== undefined) {
        await verifyGate.verify(pipeline, furthest.environment, checks);
        if (newsAfterVerifying()) continue;
      }
      return run.finish(
        ReleasePhase.completed,
        `${appName(spec)} ${state.version} reached ${furthest.environment}: ${journeyLine(spec)} done`,
      );
    }
    const target = spec.environments[furthest.index + 1]!.name;
    // Read before anything else runs, so that a policy that cannot be read fails the release at once.
    const soak = state.rollback === undefined ? soakGate.soakFor(pipeline, furthest.environment) : undefined;
    let train = trainGate.trainFor(pipeline, target);
    let window = windowGate.windowFor(pipeline, target);
    // Flux reported the version further along than the gate it waited at: that gate is moot.
    if (state.pendingGate !== undefined && state.pendingGate.environment !== target) await gate.close();
    if (state.blockedBy !== undefined && state.blockedBy.environment !== target) run.unblock();
    if (alreadyPromotedInto(state, target)) continue;
    const promotion = effectivePromotion(spec, target);
    if (promotion === undefined) {
      throw await run.failed(
        `Pipeline ${pipelineKey(state.pipeline)} has no promotion block for ${target}: ` +
          `set spec.promotion or spec.environments[${furthest.index + 1}].promotion`,
        FailureType.noPromotionStrategy,
      );
    }

    // 4. Queue mode: a higher version already in the target is not downgraded unasked.
    if (
      state.rollback === undefined &&
      state.pendingGate?.environment !== target &&
      (await higherVersionInTarget(run, activities.release, pipeline, target))
    ) {
      if (promotion.manual !== true) return outranked(run, target);
    }

    // 5. The soak time of the environment reached: the version moves on once it has run there long enough.
    if (soak === undefined) soakGate.clear();
    else {
      const reached = state.reached.find((r) => r.environment === furthest.environment)!;
      const outcome = await soakGate.wait(pipeline, reached, target, soak);
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
    }

    // 5b. Verification after deploy: the environment reached passes its checks before anything moves on.
    if (checks !== undefined) {
      await verifyGate.verify(pipeline, furthest.environment, checks, target);
      if (newsAfterVerifying()) continue;
    }

    // 6. The manual gate, when the target has one (unless it approved before a train or window held the promotion).
    const kept = windowGate.keptApproval(target);
    let approval = kept?.approval;
    let approvals = kept?.approvals;
    if (promotion.manual === true && approval === undefined) {
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
      approvals = gate.takeApprovals();
      await run.announce({
        reason: ReleaseNoticeReason.approved,
        summary: `Approved by ${outcome.approver}${outcome.comment ? ` (${outcome.comment})` : ''}: promoting ${state.version} into ${target}`,
        environment: target,
        approver: outcome.approver,
      });
      // An approval may come days after the Pipeline was read: a window set or changed meanwhile applies.
      if (patched(WINDOW_AFTER_APPROVAL_PATCH)) {
        const current = await run.call(() => activities.release.resolvePipeline(state.pipeline), '');
        train = trainGate.trainFor(current, target);
        window = windowGate.windowFor(current, target);
      }
    }

    // 7. The release train, when the target has one: the promotion waits for a departure that takes it.
    if (train === undefined) trainGate.clear();
    else {
      const outcome = await trainGate.wait(pipeline, target, train, { approval, approvals });
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
    }

    // 8. The change window, when the target has one: a promotion due while it is shut waits for it.
    if (window === undefined) windowGate.clear();
    else {
      const outcome = await windowGate.wait(pipeline, target, window, { approval, approvals });
      if (outcome === 'interrupted') continue;
      if (outcome === 'superseded') return run.superseded();
    }

    // 8. Stops and freezes (`baton stop`, `hold`, `freeze`): a promotion they cover waits for them to lift.
    const controlled = await controlsGate.wait(pipeline, target, { approval, approvals });
    if (controlled === 'interrupted') continue;
    if (controlled === 'superseded') return run.superseded();
    // A mark set before this release started (its signal found nothing to tell) ends it here.
    if (typeof controlled === 'object') throw await markedBad(run, gate, controlled.markedBad);

    // 9. Promote; the next loop waits for Flux to report the version in the target.
    await promote(run, activities, { pipeline, source: furthest.environment, target, promotion, approval, approvals }, follower);
  }
}

/**
 * Queue mode: looks up the version promoted last into `target` and remembers it in the state when
 * it is higher than this release's; true then. The claims workflow is the source: it takes the
 * claims of the environment one at a time, durably, and keeps the last promoted version as long as
 * it runs, which it does once it has one. Pipeline.status is not: it exists only in Kubernetes
 * mode, is written best effort, and its lastPromotion also records waiting and rejected releases.
 */
async function higherVersionInTarget(run: ReleaseRun, activities: ReleaseActivities, pipeline: Pipeline, target: string): Promise<boolean> {
  const { state } = run;
  // Releases recorded before queued Pipelines kept versions in order looked nothing up.
  if (newerVersionPolicy(pipeline) !== NewerVersionPolicy.queue || !patched(QUEUE_IN_ORDER_PATCH)) return false;
  const promoted = await run.call(
    () => activities.promotedVersion({ pipeline: state.pipeline, environment: target }),
    `looking up the version promoted into ${target} failed: `,
  );
  state.higherVersionIn = higherPromoted(state, promoted === undefined ? undefined : { ...promoted, environment: target });
  return state.higherVersionIn !== undefined;
}

/** Ends a release that would downgrade an environment without a gate: nobody can allow it there. */
function outranked(run: ReleaseRun, target: string): Promise<ReleaseState> {
  const { state } = run;
  const higher = state.higherVersionIn!;
  state.supersededBy = { version: higher.version, workflowId: higher.workflowId, because: 'version' };
  return run.finish(
    ReleasePhase.superseded,
    `Not promoted into ${target}: ${higher.version}, a higher version, is already there (${higher.workflowId}). ` +
      `The Pipeline queues versions and never downgrades an environment unasked; ${target} has no manual gate where ` +
      `an approval with "allowDowngrade": true could allow it`,
    target,
  );
}

/**
 * The failure that ends a release Flux reported a failed deployment of: nothing more is promoted, the
 * open gate (if any) closes, and the event is kept in the state. A failure where the version soaked
 * is its soak failing: said so, and people are told.
 */
async function deploymentFailed(
  run: ReleaseRun,
  gate: ManualGate,
  soakGate: SoakGate,
  failure: DeployedSignal,
): Promise<ApplicationFailure> {
  const { state } = run;
  const event = keptEvent(failure.event);
  const environment = clip(failure.environment, RELEASE_LIMITS.eventFieldChars);
  const soaking = state.blockedBy?.kind === 'soak' && state.blockedBy.soakingIn === environment;
  state.failure = {
    environment,
    receivedAt: clip(failure.receivedAt, RELEASE_LIMITS.eventFieldChars),
    event,
    ...(soaking ? { during: 'soak' as const } : {}),
  };
  await gate.close();
  // Pipeline.status shows what Baton promoted: an environment it did not promote into keeps its entry.
  if (alreadyPromotedInto(state, environment)) await run.mirror({ environment, lastPromotion: run.summary(ReleasePhase.failed) });
  const { kind, namespace, name } = event.involvedObject;
  const reported = `Flux reported ${event.reason} for ${state.version} in ${environment} (${kind} ${namespace}/${name}): ${event.message}`;
  if (!soaking) return run.fail(reported, FailureType.deploymentFailed);
  soakGate.clear();
  const failed = run.fail(`The soak of ${state.version} in ${environment} failed: ${reported}`, FailureType.deploymentFailed);
  await run.announce({ reason: ReleaseNoticeReason.soakFailed, summary: state.currentStep, environment });
  return failed;
}

/**
 * The failure that ends the release of a version somebody marked bad: nothing more is promoted, the
 * open gate (if any) closes, and the state says who marked it, when and why. It ends as a failed
 * execution, not a completed one, so that once the mark is lifted a new event starts the version's
 * release again (the gateway never restarts a completed one).
 */
async function markedBad(run: ReleaseRun, gate: ManualGate, mark: MarkedBad): Promise<ApplicationFailure> {
  const { state } = run;
  state.markedBad = {
    id: clip(mark.id, RELEASE_LIMITS.eventFieldChars),
    by: clip(mark.by, RELEASE_LIMITS.eventFieldChars),
    at: clip(mark.at, RELEASE_LIMITS.eventFieldChars),
    reason: clip(mark.reason, RELEASE_LIMITS.lastErrorChars),
  };
  const environment = state.pendingGate?.environment ?? state.blockedBy?.environment ?? state.targetEnvironment;
  await gate.close();
  run.unblock();
  const step =
    `Marked bad by ${state.markedBad.by} at ${state.markedBad.at}: ${state.markedBad.reason} — ${state.version} will not be ` +
    `promoted further (\`baton unmark-bad\` lifts the mark for later releases)`;
  await run.finish(ReleasePhase.markedBad, step, environment);
  await run.announce({ reason: ReleaseNoticeReason.markedBad, summary: step, environment });
  return ApplicationFailure.nonRetryable(step, FailureType.markedBad);
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
