/**
 * The promote step: run the strategy the promotion block selects, record what it did, and claim the
 * target environment. Runs at most once per target: the caller skips targets already promoted into.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../model/failures.js';
import { type Pipeline, pipelineKey, type Promotion, strategyName } from '../model/pipeline.js';
import type { PromotionRequest } from '../model/promotion.js';
import { type DecisionRecord, type PromotionRecord, ReleasePhase } from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { PromotionPullRequest } from '../model/search-attributes.js';
import type { PullRequestFollower } from './pull-request-follower.js';
import type { ReleaseActivityProxies } from './release-activities.js';
import { now, type ReleaseRun } from './release-run.js';
import { STRATEGIES } from './strategies/index.js';

export interface PromoteInput {
  pipeline: Pipeline;
  source: string;
  target: string;
  promotion: Promotion;
  /** The manual gate's decision, when the target has one. */
  approval?: DecisionRecord;
  /** Under a quorum, every approval that counted. */
  approvals?: DecisionRecord[];
}

export async function promote(
  run: ReleaseRun,
  activities: ReleaseActivityProxies,
  input: PromoteInput,
  follower: PullRequestFollower,
): Promise<void> {
  const { pipeline, source, target, promotion, approval, approvals } = input;
  const { state } = run;
  const strategy = strategyName(promotion);
  if (strategy === undefined) {
    throw await run.failed(
      `the promotion block for ${target} in Pipeline ${pipelineKey(state.pipeline)} selects no strategy: ` +
        `set spec.promotion.strategy.notification or .pull-request`,
      FailureType.noPromotionStrategy,
    );
  }
  const record: PromotionRecord = {
    sourceEnvironment: source,
    targetEnvironment: target,
    strategy,
    startedAt: now(),
    approval,
    ...(approvals === undefined ? {} : { approvals }),
  };
  state.promotions.push(record);
  const what = state.rollback === undefined ? `from ${source} into ${target}` : `into ${target} (a rollback)`;
  run.show(ReleasePhase.promoting, `Promoting ${state.version} ${what} (${strategy})`, target);
  const request: PromotionRequest = {
    pipeline: state.pipeline,
    sourceEnvironment: source,
    targetEnvironment: target,
    version: state.version,
    workflowId: workflowInfo().workflowId,
    ...(approval === undefined ? {} : { approval }),
    ...(state.rollback === undefined ? {} : { rollback: state.rollback }),
  };
  const sourceEvent = state.reached.find((r) => r.environment === source)?.event;
  const result = await run.call(
    () => STRATEGIES[strategy](activities).promote({ request, ...(sourceEvent === undefined ? {} : { sourceEvent }) }),
    `promoting ${state.version} into ${target} failed: `,
  );
  record.outcome = result.outcome;
  record.completedAt = now();
  if (result.pullRequest !== undefined) {
    record.pullRequest = result.pullRequest;
    if (result.branch !== undefined) record.branch = result.branch;
    upsertSearchAttributes([{ key: PromotionPullRequest, value: result.pullRequest.url }]);
    follower.start(record);
  }
  state.lastError = undefined;
  run.show(
    ReleasePhase.awaitingDeployment,
    `Promoted ${state.version} into ${target}${approval === undefined ? '' : `, approved by ${approvedBy(approval, approvals)},`} ` +
      `(${record.outcome}); waiting for Flux to report it in ${target}`,
    target,
  );
  await run.mirror({
    environment: target,
    lastPromotion: {
      ...run.summary(ReleasePhase.awaitingDeployment, record.completedAt),
      ...(result.pullRequest === undefined ? {} : { pullRequest: result.pullRequest.url }),
    },
  });
  await run.claim(pipeline, target, 'promoted', record.completedAt);
  await run.announce({
    reason: ReleaseNoticeReason.promoted,
    summary: `Promoted ${state.version} from ${source} into ${target} (${record.outcome})`,
    environment: target,
  });
}

function approvedBy(approval: DecisionRecord, approvals: DecisionRecord[] | undefined): string {
  return approvals === undefined ? approval.approver : approvals.map((a) => a.approver).join(' and ');
}
