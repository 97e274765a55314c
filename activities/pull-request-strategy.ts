/** The pull-request strategy (DESIGN.md §3.5). */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../model/failures.js';
import type { PromotionRequest, PromotionResult } from './promotion-request.js';

export function createPullRequestActivities() {
  return {
    promoteByPullRequest(request: PromotionRequest): Promise<PromotionResult> {
      return Promise.reject(
        ApplicationFailure.nonRetryable(
          `Pipeline ${request.pipeline.namespace}/${request.pipeline.name} asks for a pull-request promotion into ` +
            `${request.targetEnvironment}, which this Baton version cannot do yet: use the notification strategy`,
          FailureType.strategyUnavailable,
        ),
      );
    },
  };
}
