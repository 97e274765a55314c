/**
 * One run of a release: its state, and the few things every step does with it — show where the
 * release is (state, search attributes, the UI's current details), mirror it into Pipeline.status,
 * claim an environment, and end the run.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReleaseActivities } from '../model/activities.js';
import { FailureType } from '../model/failures.js';
import type { EnvironmentClaim } from '../model/messages.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { NewerVersionPolicy, newerVersionPolicy } from '../model/pipeline-annotations.js';
import type { PipelineStatusUpdate } from '../model/pipeline-status.js';
import { type PromotionBlock, ReleasePhase, type ReleaseState } from '../model/release.js';
import { type ReleaseNotice, ReleaseNoticeReason } from '../model/release-notice.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { compareVersions } from '../model/version-order.js';
import {
  PromotionBlockedBy,
  PromotionPipeline,
  PromotionState,
  PromotionTargetEnvironment,
  PromotionVersion,
} from '../model/search-attributes.js';

/**
 * Pipelines that queue versions never downgrade an environment unasked: their releases claim
 * environments (queued claims, which nobody yields to) and look at what was promoted there last.
 */
export const QUEUE_IN_ORDER_PATCH = 'queue-never-downgrades-unasked';

/** Workflow time, as the timestamps in the release's state are written. */
export const now = (): string => new Date().toISOString();

/** Releases recorded before they told people (Flux event, Kubernetes Event) replay without the notices. */
const RELEASE_NOTICES_PATCH = 'release-lifecycle-notices';

/** A notice as a step writes it; the run adds what the release is. */
export type NoticeInput = Pick<ReleaseNotice, 'reason' | 'summary'> & Partial<Pick<ReleaseNotice, 'environment' | 'approver' | 'reminder'>>;

export class ReleaseRun {
  constructor(
    readonly state: ReleaseState,
    private readonly activities: ReleaseActivities,
    /** The same activities, with the bounded retries of a best-effort notice. */
    private readonly notices: ReleaseActivities = activities,
  ) {}

  show(phase: ReleasePhase, step: string, targetEnvironment?: string): void {
    const { state } = this;
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
  }

  /**
   * The promotion is no longer held by a policy of one of `kinds` (by any, without them): the block
   * and its search attribute go.
   */
  unblock(...kinds: PromotionBlock['kind'][]): void {
    const block = this.state.blockedBy;
    if (block === undefined || (kinds.length > 0 && !kinds.includes(block.kind))) return;
    this.state.blockedBy = undefined;
    upsertSearchAttributes([{ key: PromotionBlockedBy, value: null }]);
  }

  /** The failure to throw: the release ends as Failed, saying what to change. */
  fail(message: string, type: string): ApplicationFailure {
    this.state.lastError = clip(message, RELEASE_LIMITS.lastErrorChars);
    this.show(ReleasePhase.failed, `Failed: ${message}`);
    return ApplicationFailure.nonRetryable(message, type);
  }

  /** `fail`, once people were told (best effort): for the steps that can wait for the notice. */
  async failed(message: string, type: string): Promise<ApplicationFailure> {
    const failure = this.fail(message, type);
    await this.announce({ reason: ReleaseNoticeReason.failed, summary: this.state.currentStep, environment: this.state.targetEnvironment });
    return failure;
  }

  /**
   * Best effort: tells people what the release did. A notice that could not be sent within its few
   * attempts is logged and kept in `lastNoticeError`; the release goes on as if it had been sent.
   */
  async announce(notice: NoticeInput): Promise<void> {
    if (!patched(RELEASE_NOTICES_PATCH)) return;
    const { state } = this;
    try {
      await this.notices.announceRelease({
        pipeline: state.pipeline,
        version: state.version,
        workflowId: workflowInfo().workflowId,
        phase: state.phase,
        ...(notice.environment === undefined ? {} : { environment: notice.environment }),
        ...(notice.approver === undefined ? {} : { approver: notice.approver }),
        ...(notice.reminder === undefined ? {} : { reminder: notice.reminder }),
        reason: notice.reason,
        summary: notice.summary,
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
      const why = failureMessage(error);
      const what = why.includes(`${notice.reason} notice`) ? why : `the ${notice.reason} notice was not sent: ${why}`;
      state.lastNoticeError = clip(`${now()} ${what}`, RELEASE_LIMITS.lastErrorChars);
      log.warn('could not tell people about the release; it goes on without the notice', { reason: notice.reason, error: why });
    }
  }

  async finish(phase: ReleasePhase, step: string, target?: string): Promise<ReleaseState> {
    this.show(phase, step, target);
    await condition(allHandlersFinished);
    return this.state;
  }

  async superseded(): Promise<ReleaseState> {
    const by = this.state.supersededBy!;
    const unordered = compareVersions(by.version, this.state.version) === undefined;
    const why =
      by.because === 'version'
        ? `: ${by.version} is a higher version than ${this.state.version}`
        : by.because === 'arrival'
          ? `: it got there later${unordered ? `; ${by.version} and ${this.state.version} are not both SemVer, so arrival order decides` : ''}`
          : '';
    const step = `Superseded by ${by.version} (${by.workflowId})${why}`;
    const state = await this.finish(ReleasePhase.superseded, step);
    await this.announce({ reason: ReleaseNoticeReason.superseded, summary: step, environment: state.targetEnvironment });
    return state;
  }

  /** Runs an activity call; a failure that outlived its retries fails the release. */
  async call<T>(call: () => Promise<T>, context: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isCancellation(error)) throw this.fail(`${context}${failureMessage(error)}`, failureType(error));
      throw await this.failed(`${context}${failureMessage(error)}`, failureType(error));
    }
  }

  /** Best effort: Pipeline.status is a mirror for kubectl and Weave UIs; a failure to write it must not stop a release. */
  async mirror(update: Omit<PipelineStatusUpdate, 'pipeline'>): Promise<void> {
    try {
      await this.activities.recordPipelineStatus({ pipeline: this.state.pipeline, ...update });
    } catch (error) {
      log.warn('could not mirror the release into Pipeline.status', { error: failureMessage(error) });
    }
  }

  /** The release as Pipeline.status shows it. */
  summary(phase: ReleasePhase, at = now()): { version: string; state: ReleasePhase; workflowId: string; at: string } {
    return { version: this.state.version, state: phase, workflowId: workflowInfo().workflowId, at };
  }

  /**
   * Claims `environment` so that lower releases holding it end; when the Pipeline queues versions,
   * so that its claims workflow remembers what was promoted there and tells the waiting releases.
   */
  async claim(pipeline: Pipeline, environment: string, reason: EnvironmentClaim['reason'], at: string): Promise<void> {
    const { state } = this;
    if (newerVersionPolicy(pipeline) === NewerVersionPolicy.queue) {
      // Releases recorded before queued Pipelines kept versions in order claimed nothing.
      if (!patched(QUEUE_IN_ORDER_PATCH)) return;
      const claim: EnvironmentClaim = {
        version: state.version,
        environment,
        workflowId: workflowInfo().workflowId,
        reason,
        at,
        queued: true,
      };
      await this.call(() => this.activities.claimEnvironment({ pipeline: state.pipeline, claim }), 'claiming the environment failed: ');
      return;
    }
    await this.call(
      () =>
        this.activities.supersedeOlderReleases({
          pipeline: state.pipeline,
          signal: { version: state.version, environment, workflowId: workflowInfo().workflowId, reason, at },
        }),
      'superseding older releases failed: ',
    );
  }
}

/** What an activity's failure says, without the wrapping `ActivityFailure`. */
export function failureMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function failureType(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.type ? cause.type : FailureType.promotionFailed;
}
