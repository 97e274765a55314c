/**
 * The activities a release schedules, proxied once per kind of work: its own task queue, the git
 * step (which heartbeats) and the provider task queue (whose rate the server limits).
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ProviderActivities, ReleaseActivities } from '../model/activities.js';
import type { ReleasePolicy } from '../model/release.js';
import { providerTaskQueueFor } from '../model/task-queues.js';

const GIT_HEARTBEAT_TIMEOUT = '30s';
/** Telling people (and checking a followed PR) is best effort: a few attempts, then the release goes on. */
const NOTICE_MAX_ATTEMPTS = 3;

export interface ReleaseActivityProxies {
  release: ReleaseActivities;
  /** The git step heartbeats, so a lost worker is noticed before the activity timeout. */
  git: ReleaseActivities;
  /** Provider API calls: on their own task queue, whose activity rate the server limits. */
  provider: ProviderActivities;
  /** Notices (Flux event, Kubernetes Event): bounded retries, never more than the policy allows. */
  notices: ReleaseActivities;
  /**
   * Asking a provider about a followed pull request: on the provider task queue, with the same few
   * attempts as a notice; a check that fails is made again at the next interval.
   */
  providerChecks: ProviderActivities;
}

export function proxyReleaseActivities(policy: ReleasePolicy): ReleaseActivityProxies {
  return {
    release: proxyActivities<ReleaseActivities>({
      startToCloseTimeout: policy.activityTimeout,
      retry: policy.activityRetry,
    }),
    git: proxyActivities<ReleaseActivities>({
      startToCloseTimeout: policy.activityTimeout,
      heartbeatTimeout: GIT_HEARTBEAT_TIMEOUT,
      retry: policy.activityRetry,
    }),
    provider: proxyActivities<ProviderActivities>({
      taskQueue: policy.providerTaskQueue ?? providerTaskQueueFor(workflowInfo().taskQueue),
      startToCloseTimeout: policy.activityTimeout,
      retry: policy.activityRetry,
    }),
    notices: proxyActivities<ReleaseActivities>({
      startToCloseTimeout: policy.activityTimeout,
      retry: { ...policy.activityRetry, maximumAttempts: noticeAttempts(policy.activityRetry.maximumAttempts) },
    }),
    providerChecks: proxyActivities<ProviderActivities>({
      taskQueue: policy.providerTaskQueue ?? providerTaskQueueFor(workflowInfo().taskQueue),
      startToCloseTimeout: policy.activityTimeout,
      retry: { ...policy.activityRetry, maximumAttempts: noticeAttempts(policy.activityRetry.maximumAttempts) },
    }),
  };
}

/** The policy's attempts, at most NOTICE_MAX_ATTEMPTS (Temporal reads 0 as "unlimited"). */
function noticeAttempts(policyAttempts: number): number {
  return policyAttempts > 0 ? Math.min(policyAttempts, NOTICE_MAX_ATTEMPTS) : NOTICE_MAX_ATTEMPTS;
}
