/**
 * All activities, built from their dependencies, so the worker wires real clients and tests replace
 * one member. Each set is checked against its contract in `model/activities.ts`.
 */
import type { Client } from '@temporalio/client';
import type {
  ClaimsActivities,
  DecisionProofActivities,
  ProviderActivities,
  ReleaseActivities,
  TrainActivities,
} from '../model/activities.js';
import type { PipelineSource } from '../pipelines/source.js';
import { noStatusWriter, type PipelineStatusWriter } from '../status/status-writer.js';
import { createDecisionProofActivities } from './decision-proof.js';
import { createNotificationActivities } from './notification-strategy.js';
import type { Notifier } from './notify/notifier.js';
import { createPipelineStatusActivities } from './pipeline-status.js';
import { createPipelineActivities } from './pipelines.js';
import { createPromotionControlsActivities } from './promotion-controls.js';
import { createPullRequestActivities, type PullRequestDependencies } from './pull-request-strategy.js';
import { createReleaseNoticeActivities, type ReleaseNoticeSettings } from './release-notices.js';
import { createSupersedeActivities } from './supersede.js';
import { createTrainActivities } from './release-trains.js';
import { createVerificationActivities, type VerificationDependencies } from './verification/index.js';

export interface ActivityDependencies {
  pipelines: PipelineSource;
  notifiers: readonly Notifier[];
  /** For telling other releases of the same Pipeline that a newer version took their place. */
  temporal: Client;
  /** Where release progress is mirrored into Pipeline.status; none in directory mode. */
  statusWriter?: PipelineStatusWriter;
  /** The pull-request strategy's settings (the worker takes them from configuration). */
  pullRequests: PullRequestSettings;
  /** The keys the gateway's decision proofs are checked with (BATON_DECISION_KEY[, _PREVIOUS]); none: no proof holds. */
  decisionKeys?: readonly string[];
  /** The links release notices carry (the worker takes them from configuration); absent, none. */
  notices?: ReleaseNoticeSettings;
  /** Verification checks: the hosts they may contact and, in Kubernetes mode, the management cluster. */
  verification?: Omit<VerificationDependencies, 'pipelines'>;
}

export type PullRequestSettings = Omit<PullRequestDependencies, 'pipelines'>;

export function pullRequestDependencies(deps: Pick<ActivityDependencies, 'pipelines' | 'pullRequests'>): PullRequestDependencies {
  return { ...deps.pullRequests, pipelines: deps.pipelines };
}

/** Only the activities that call git providers' APIs: served on the rate-limited provider task queue. */
export function createProviderActivities(deps: Pick<ActivityDependencies, 'pipelines' | 'pullRequests'>) {
  const { openPullRequest, pullRequestStatus } = createPullRequestActivities(pullRequestDependencies(deps));
  return { openPullRequest, pullRequestStatus } satisfies ProviderActivities;
}

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createPipelineActivities(deps.pipelines),
    ...createNotificationActivities(deps.pipelines, deps.notifiers),
    ...createReleaseNoticeActivities(deps.pipelines, deps.notifiers, deps.notices ?? {}),
    ...createPullRequestActivities(pullRequestDependencies(deps)),
    ...createSupersedeActivities(deps.temporal),
    ...createPromotionControlsActivities(deps.temporal),
    ...createTrainActivities(deps.temporal),
    ...createPipelineStatusActivities(deps.statusWriter ?? noStatusWriter),
    ...createDecisionProofActivities(deps.decisionKeys ?? []),
    ...createVerificationActivities({ ...deps.verification, pipelines: deps.pipelines }),
  } satisfies ReleaseActivities & ClaimsActivities & DecisionProofActivities & TrainActivities;
}
