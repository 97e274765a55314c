/**
 * Following a promotion's pull request to the end while the release waits for Flux to report the
 * version: the provider is asked on its rate-limited task queue, first a minute after the PR was
 * opened and then at an interval that doubles up to a quarter of an hour, on durable timers that
 * news (a Flux report, a failure, a higher version) interrupts. A merged PR leaves only Flux to wait
 * for; one closed without merging ends the release and deletes the promotion branch, unless the
 * Pipeline asks to wait for it to be reopened. Nothing is asked once the version is reported in the
 * environment, the PR is merged, or the release ends.
 */
import { msToNumber } from '@temporalio/common';
import { CancellationScope, condition, isCancellation, patched } from '@temporalio/workflow';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { PipelineAnnotation, PullRequestClosedPolicy, pullRequestClosedPolicy } from '../model/pipeline-annotations.js';
import type { PullRequestStatus } from '../model/promotion.js';
import {
  type Duration,
  type FollowedPullRequest,
  type PromotionRecord,
  type PullRequestRecord,
  ReleasePhase,
  type ReleaseState,
} from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import type { ReleaseActivityProxies } from './release-activities.js';
import { failureMessage, now, type ReleaseRun } from './release-run.js';

/** Releases recorded before pull requests were followed never asked about them; they replay so. */
export const FOLLOW_PULL_REQUESTS_PATCH = 'follow-pull-requests';

const FIRST_CHECK_MS = 60_000;
const MAX_CHECK_MS = 15 * 60_000;

/** How long after `checks` checks the next one comes: 1, 2, 4, 8, then every 15 minutes. */
export function checkIntervalMs(checks: number): number {
  return Math.min(MAX_CHECK_MS, FIRST_CHECK_MS * 2 ** Math.min(checks, 16));
}

/**
 * `news`: something for the release's main loop (a Flux report, a failure, a higher version).
 * `idle`: the idle timeout passed. `checked`: the provider was asked (the loop may continue as new
 * before waiting again). `closed`: the PR was closed without merging and the release is to end.
 */
export type FollowOutcome = 'news' | 'idle' | 'checked' | 'closed';

export class PullRequestFollower {
  constructor(
    private readonly run: ReleaseRun,
    private readonly activities: ReleaseActivityProxies,
    /** Whether something arrived that the release's main loop must look at. */
    private readonly news: () => boolean,
  ) {}

  /** Starts following the pull request a promotion opened or updated. */
  start(record: PromotionRecord): void {
    if (record.pullRequest === undefined || !patched(FOLLOW_PULL_REQUESTS_PATCH)) return;
    record.pullRequest.state = 'open';
    this.run.state.followedPullRequest = {
      environment: record.targetEnvironment,
      number: record.pullRequest.number,
      checks: 0,
      nextCheckAt: new Date(Date.now() + FIRST_CHECK_MS).toISOString(),
    };
  }

  /** Stops following for good once Flux reported the version in the environment the pull request promotes it into. */
  stopIfReached(): void {
    const { state } = this.run;
    const followed = state.followedPullRequest;
    if (followed !== undefined && state.reached.some((r) => r.environment === followed.environment)) state.followedPullRequest = undefined;
  }

  /** Whether a pull request is followed. */
  active(): boolean {
    this.stopIfReached();
    return this.run.state.followedPullRequest !== undefined;
  }

  /** Waits for news, the idle timeout or the next check, whichever comes first; checks when it is due. */
  async wait(idleTimeout: Duration): Promise<FollowOutcome> {
    const followed = this.run.state.followedPullRequest!;
    followed.waitingSince ??= now();
    const idleAt = Date.parse(followed.waitingSince) + msToNumber(idleTimeout);
    const until = Math.min(idleAt, Date.parse(followed.nextCheckAt));
    if (await condition(this.news, Math.max(1, until - Date.now()))) return this.interrupted(followed);
    if (Date.now() >= idleAt) return 'idle';
    return this.check(followed);
  }

  /** Ends the release whose pull request was closed without merging: the branch goes, people are told. */
  async closed(): Promise<ReleaseState> {
    const { run } = this;
    const { state } = run;
    const followed = state.followedPullRequest!;
    state.followedPullRequest = undefined;
    const record = this.record(followed)!;
    const pr = record.pullRequest;
    const branch = await this.deleteBranch(record);
    await run.mirror({
      environment: followed.environment,
      lastPromotion: { ...run.summary(ReleasePhase.pullRequestClosed), pullRequest: pr.url },
    });
    const ended = await run.finish(
      ReleasePhase.pullRequestClosed,
      `PR #${pr.number} closed without merging${byAt(pr.closedBy, pr.closedAt)}: ${state.version} will not be promoted into ` +
        `${followed.environment}; ${branch}`,
      followed.environment,
    );
    await run.announce({ reason: ReleaseNoticeReason.pullRequestClosed, summary: state.currentStep, environment: followed.environment });
    return ended;
  }

  private interrupted(followed: FollowedPullRequest): 'news' {
    followed.waitingSince = undefined;
    return 'news';
  }

  /** The promotion whose pull request is followed. */
  private record(followed: FollowedPullRequest): (PromotionRecord & { pullRequest: PullRequestRecord }) | undefined {
    const record = this.run.state.promotions
      .filter((p) => p.targetEnvironment === followed.environment && p.pullRequest?.number === followed.number)
      .at(-1);
    return record as (PromotionRecord & { pullRequest: PullRequestRecord }) | undefined;
  }

  private async check(followed: FollowedPullRequest): Promise<FollowOutcome> {
    const { run } = this;
    const { state } = run;
    const record = this.record(followed);
    // Unreachable with the state this class writes; a carried state without its promotion stops following, never the release.
    if (record === undefined) {
      state.followedPullRequest = undefined;
      return 'checked';
    }
    const asked = await this.ask({ pipeline: state.pipeline, targetEnvironment: followed.environment, number: followed.number });
    if (asked === 'news') return this.interrupted(followed);
    if ('error' in asked) {
      followed.lastCheckError = clip(`${now()} ${asked.error}`, RELEASE_LIMITS.lastErrorChars);
      return this.next(followed);
    }
    followed.lastCheckError = undefined;
    const status = asked.status;
    const pr = record.pullRequest;
    const changed = pr.state !== status.state;
    keep(pr, status);
    if (status.state === 'merged') {
      state.followedPullRequest = undefined;
      run.show(
        ReleasePhase.awaitingDeployment,
        `PR #${pr.number} merged${byAt(pr.mergedBy, pr.mergedAt)}, waiting for Flux to report ${state.version} in ${followed.environment}`,
        followed.environment,
      );
      await run.announce({ reason: ReleaseNoticeReason.pullRequestMerged, summary: state.currentStep, environment: followed.environment });
      return 'checked';
    }
    if (changed) followed.checks = 0;
    if (status.state === 'open') {
      if (changed) {
        run.show(
          ReleasePhase.awaitingDeployment,
          `PR #${pr.number} reopened: waiting for it to be merged and for Flux to report ${state.version} in ${followed.environment}`,
          followed.environment,
        );
      }
      return this.next(followed);
    }
    // Closed without merging: the Pipeline as it is now says whether to wait for a reopen.
    const pipeline = await run.call(() => this.activities.release.resolvePipeline(state.pipeline), '');
    if (pullRequestClosedPolicy(pipeline) === PullRequestClosedPolicy.end) return 'closed';
    if (changed) {
      run.show(
        ReleasePhase.awaitingDeployment,
        `PR #${pr.number} closed without merging${byAt(pr.closedBy, pr.closedAt)}; waiting for it to be reopened ` +
          `(${waitAnnotation(pipeline)})`,
        followed.environment,
      );
      await run.announce({ reason: ReleaseNoticeReason.pullRequestClosed, summary: state.currentStep, environment: followed.environment });
    }
    return this.next(followed);
  }

  private next(followed: FollowedPullRequest): 'checked' {
    followed.nextCheckAt = new Date(Date.now() + checkIntervalMs(followed.checks)).toISOString();
    followed.checks += 1;
    return 'checked';
  }

  /**
   * Asks the provider, giving up the answer for news: a rate-limited provider may keep the check
   * retrying for a long while, and a Flux report or a higher version must not wait for it.
   */
  private async ask(
    request: Parameters<ReleaseActivityProxies['providerChecks']['pullRequestStatus']>[0],
  ): Promise<'news' | { status: PullRequestStatus } | { error: string }> {
    let outcome: { status: PullRequestStatus } | { error: string } | undefined;
    const scope = new CancellationScope();
    const asking = scope
      .run(() => this.activities.providerChecks.pullRequestStatus(request))
      .then(
        (status) => void (outcome = { status }),
        (error: unknown) => void (outcome = { error: failureMessage(error) }),
      );
    await condition(() => outcome !== undefined || this.news());
    if (outcome !== undefined) return outcome;
    scope.cancel();
    await asking;
    return 'news';
  }

  /** Best effort: a branch that could not be deleted is said so, and the release ends all the same. */
  private async deleteBranch(record: PromotionRecord): Promise<string> {
    const branch = record.branch;
    if (branch === undefined) return 'no promotion branch was recorded to delete';
    try {
      const { status } = await this.activities.git.deletePromotionBranch({
        pipeline: this.run.state.pipeline,
        targetEnvironment: record.targetEnvironment,
        branch: branch.name,
        commit: branch.commit,
      });
      if (status === 'deleted') return `promotion branch ${branch.name} deleted`;
      if (status === 'absent') return `promotion branch ${branch.name} was already deleted`;
      return `promotion branch ${branch.name} kept: it was pushed again since`;
    } catch (error) {
      if (isCancellation(error)) throw error;
      return `promotion branch ${branch.name} could not be deleted: ${failureMessage(error)}`;
    }
  }
}

/** Records what the provider said (bounded like everything the state keeps from outside); a reopened PR loses its closing. */
function keep(pr: PullRequestRecord, status: PullRequestStatus): void {
  pr.state = status.state;
  for (const key of ['mergedBy', 'mergedAt', 'closedBy', 'closedAt'] as const) {
    const value = status[key];
    if (value === undefined) delete pr[key];
    else pr[key] = clip(value, RELEASE_LIMITS.eventFieldChars);
  }
}

/** ` by alice at 2026-11-22T10:00:00Z`, or as much of it as the provider said. */
function byAt(who: string | undefined, when: string | undefined): string {
  return `${who === undefined ? '' : ` by ${who}`}${when === undefined ? '' : ` at ${when}`}`;
}

function waitAnnotation(pipeline: Pipeline): string {
  return `${PipelineAnnotation.pullRequestClosed}: ${PullRequestClosedPolicy.wait} on Pipeline ${pipelineKey(pipeline)}`;
}
