/** Runs the `verifyCheck` activity in Temporal's MockActivityEnvironment (a fresh one unless given). */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { createVerificationActivities } from '../../../activities/verification/index.js';
import type { CheckRequest, CheckResult } from '../../../model/verification.js';

type VerifyCheck = (request: CheckRequest) => Promise<CheckResult>;

export function runCheck(
  activities: ReturnType<typeof createVerificationActivities>,
  request: CheckRequest,
  env = new MockActivityEnvironment(),
): Promise<CheckResult> {
  return env.run<[CheckRequest], CheckResult, VerifyCheck>((checkRequest) => activities.verifyCheck(checkRequest), request);
}
