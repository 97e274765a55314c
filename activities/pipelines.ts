/** Resolving a Pipeline for the workflow: the same source the gateway reads, with typed failures. */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../model/failures.js';
import { type Pipeline, type PipelineRef, pipelineKey } from '../model/pipeline.js';
import type { PipelineSource } from '../pipelines/source.js';

export function createPipelineActivities(pipelines: PipelineSource) {
  return {
    /** The Pipeline as it is now, so edits made while a release waits take effect. */
    resolvePipeline(ref: PipelineRef): Promise<Pipeline> {
      if (!pipelines.isSynced()) {
        // Retryable: the source is still loading or reconnecting.
        return Promise.reject(new Error('the Pipeline source is not synced yet'));
      }
      const pipeline = pipelines.getPipeline(ref);
      if (pipeline === undefined) {
        return Promise.reject(
          ApplicationFailure.nonRetryable(
            `Pipeline ${pipelineKey(ref)} does not exist (deleted, or invalid: see the worker log)`,
            FailureType.pipelineNotFound,
          ),
        );
      }
      return Promise.resolve(pipeline);
    },
  };
}
