/**
 * What every verification check shares: samples taken one after another, heartbeating while it
 * waits between them, and resumed from the last heartbeat when a retry takes over a lost attempt.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { clip } from '../../model/release-limits.js';
import type { CheckResult, VerificationSample } from '../../model/verification.js';

/** Heartbeats at least this often while waiting: well within the workflow's heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 5_000;
/** What a sample's `observed` keeps of what was seen. */
export const OBSERVED_CHARS = 200;

export interface SampleProgress {
  samples: VerificationSample[];
}

/** The samples a previous attempt heartbeated, when this attempt is a retry of one. */
export function resumedSamples(): VerificationSample[] {
  const details = Context.current().info.heartbeatDetails as SampleProgress | undefined;
  return Array.isArray(details?.samples) ? details.samples : [];
}

/** Waits `ms`, heartbeating `progress`; rejects when the activity is cancelled. */
export async function waitHeartbeating(ms: number, progress: SampleProgress): Promise<void> {
  const context = Context.current();
  let left = ms;
  while (left > 0) {
    context.heartbeat(progress);
    const step = Math.min(left, HEARTBEAT_EVERY_MS);
    await context.sleep(step);
    left -= step;
  }
  context.heartbeat(progress);
}

export function sample(passed: boolean, observed: string): VerificationSample {
  return { at: new Date().toISOString(), passed, observed: clip(observed, OBSERVED_CHARS) };
}

/**
 * Takes `count` samples `intervalMs` apart (resuming a previous attempt's), stopping at the first
 * that fails: every sample must pass.
 */
export async function sampleRepeatedly(
  count: number,
  intervalMs: number,
  take: () => Promise<VerificationSample>,
  describeFailure: (failed: VerificationSample, index: number) => string,
): Promise<CheckResult> {
  const progress: SampleProgress = { samples: resumedSamples() };
  const failedBefore = progress.samples.findIndex((s) => !s.passed);
  if (failedBefore >= 0)
    return { passed: false, samples: progress.samples, why: describeFailure(progress.samples[failedBefore]!, failedBefore) };
  for (let index = progress.samples.length; index < count; index += 1) {
    if (index > 0) await waitHeartbeating(intervalMs, progress);
    const taken = await take();
    progress.samples.push(taken);
    Context.current().heartbeat(progress);
    if (!taken.passed) return { passed: false, samples: progress.samples, why: describeFailure(taken, index) };
  }
  return { passed: true, samples: progress.samples };
}

/** A check that cannot run as configured: retrying cannot fix it, the release stops. */
export function checkCannotRun(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.verificationFailed, nonRetryable: true });
}

/** `connect ECONNREFUSED 127.0.0.1:9`: the network error under fetch's `fetch failed`. */
export function networkError(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && current.message !== '') return current.message;
    current = current.cause;
  }
  return error instanceof Error ? error.message : String(error);
}
