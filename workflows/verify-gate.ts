/**
 * Verification after deploy (`promotion.baton.dev/verify.<env>`): once a version reached an
 * environment (every target reported, its soak over), that environment's checks run, one after
 * another in the order written, each as a heartbeating activity; the version moves on (or, in the
 * last environment, the release completes) only when every check passed. The first check that
 * fails, or cannot run, stops the release as VerificationFailed: nothing more is promoted, people
 * are told, and the state keeps every sample and verdict.
 */
import { ApplicationFailure, isCancellation, patched, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { ReleaseActivities } from '../model/activities.js';
import { FailureType } from '../model/failures.js';
import { type Pipeline, pipelineKey } from '../model/pipeline.js';
import { invalidPolicyMessage, promotionPolicyProblems } from '../model/promotion-policies.js';
import { type CheckRecord, ReleasePhase, type ReleasePolicy, type VerificationRecord } from '../model/release.js';
import { ReleaseNoticeReason } from '../model/release-notice.js';
import { clip, RELEASE_LIMITS } from '../model/release-limits.js';
import { checkTimeoutMs, hasVerifyAnnotations, pipelineVerifications, type VerificationCheck } from '../model/verification.js';
import { alreadyPromotedInto, appName } from './journey.js';
import { failureMessage, now, type ReleaseRun } from './release-run.js';

/** Releases recorded before verification existed moved on without it; they keep doing so when they replay. */
const VERIFICATION_PATCH = 'verification-after-deploy';

/** A check that keeps failing in ways a retry may fix (a 5xx, a lost worker) is given up after this many attempts. */
const CHECK_MAX_ATTEMPTS = 3;
const CHECK_HEARTBEAT_TIMEOUT = '30s';

export class VerifyGate {
  constructor(
    private readonly run: ReleaseRun,
    private readonly policy: ReleasePolicy,
  ) {}

  /**
   * The checks of `environment` still to run, if it has any. Any policy annotation of the Pipeline
   * that cannot be read fails the release: a typo must not mean "no verification".
   */
  checksFor(pipeline: Pipeline, environment: string): VerificationCheck[] | undefined {
    if (!hasVerifyAnnotations(pipeline) || !patched(VERIFICATION_PATCH)) return undefined;
    const problems = promotionPolicyProblems(pipeline);
    if (problems.length > 0) {
      throw this.run.fail(invalidPolicyMessage(pipelineKey(pipeline), problems), FailureType.invalidPromotionPolicy);
    }
    if (this.run.state.verifications?.some((v) => v.environment === environment && v.verdict === 'passed')) return undefined;
    return pipelineVerifications(pipeline).values.get(environment);
  }

  /**
   * Runs the checks of `environment`; resolves when all passed, throws the release's failure when
   * one did not. `target` is where the version moves on to (none from the last environment).
   */
  async verify(pipeline: Pipeline, environment: string, checks: readonly VerificationCheck[], target?: string): Promise<void> {
    const { state } = this.run;
    const record: VerificationRecord = {
      environment,
      startedAt: now(),
      verdict: 'running',
      checks: checks.map((check) => ({ name: check.name, type: check.type, status: 'running', samples: [] })),
    };
    // A verification cut short by news or a failure is run again from the start: only a passed one counts.
    state.verifications = [...(state.verifications ?? []).filter((v) => v.environment !== environment), record];
    const then =
      target === undefined ? 'then the release completes' : `then ${appName(pipeline.spec)} ${state.version} moves on to ${target}`;
    const namespaces = [...new Set([pipeline.namespace, ...pipeline.spec.environments.flatMap((e) => e.targets.map((t) => t.namespace))])];
    for (const [index, check] of checks.entries()) {
      const progress = `Verifying ${state.version} in ${environment}: check ${index + 1} of ${checks.length}, ${check.name} (${check.type}); ${then}`;
      if (index === 0) this.run.show(ReleasePhase.verifying, progress, target);
      else {
        state.currentStep = progress;
        setCurrentDetails(progress);
      }
      const checkRecord = record.checks[index]!;
      const why = await this.runCheck(check, checkRecord, {
        pipeline: state.pipeline,
        environment,
        version: state.version,
        check,
        namespaces,
      });
      if (why !== undefined) throw await this.failed(record, checkRecord, environment, why, target);
    }
    record.verdict = 'passed';
    record.completedAt = now();
  }

  /** Runs one check into its record; returns why it failed, if it did. */
  private async runCheck(
    check: VerificationCheck,
    record: CheckRecord,
    request: Parameters<ReleaseActivities['verifyCheck']>[0],
  ): Promise<string | undefined> {
    const { verifyCheck } = proxyActivities<ReleaseActivities>({
      startToCloseTimeout: checkTimeoutMs(check),
      heartbeatTimeout: CHECK_HEARTBEAT_TIMEOUT,
      retry: { ...this.policy.activityRetry, maximumAttempts: CHECK_MAX_ATTEMPTS },
    });
    try {
      const result = await verifyCheck(request);
      record.samples = result.samples.map((s) => ({ ...s, observed: clip(s.observed, RELEASE_LIMITS.eventFieldChars) }));
      if (result.attempts !== undefined) record.attempts = result.attempts;
      record.status = result.passed ? 'passed' : 'failed';
      if (result.passed) return undefined;
      record.why = clip(result.why ?? 'a sample failed', RELEASE_LIMITS.lastErrorChars);
      return record.why;
    } catch (error) {
      if (isCancellation(error)) throw error;
      record.status = 'failed';
      record.why = clip(failureMessage(error), RELEASE_LIMITS.lastErrorChars);
      return record.why;
    }
  }

  /** Ends the release at a failed check: said so, mirrored, people told. */
  private async failed(
    record: VerificationRecord,
    check: CheckRecord,
    environment: string,
    why: string,
    target: string | undefined,
  ): Promise<ApplicationFailure> {
    const { state } = this.run;
    record.verdict = 'failed';
    record.completedAt = now();
    const message = `verification failed: ${check.name}: ${why}`;
    state.lastError = clip(message, RELEASE_LIMITS.lastErrorChars);
    const step = `Verification of ${state.version} in ${environment} failed, nothing more is promoted: ${message}`;
    this.run.show(ReleasePhase.verificationFailed, step, target ?? environment);
    // Pipeline.status shows what Baton promoted: an environment it did not promote into keeps its entry.
    if (alreadyPromotedInto(state, environment)) {
      await this.run.mirror({ environment, lastPromotion: this.run.summary(ReleasePhase.verificationFailed) });
    }
    await this.run.announce({ reason: ReleaseNoticeReason.verificationFailed, summary: step, environment });
    return ApplicationFailure.nonRetryable(message, FailureType.verificationFailed);
  }
}
