/**
 * What a release train's departure needs from Temporal: the releases waiting for it. They are found
 * in visibility by the search attributes every held release sets, so nothing has to register with
 * the train; visibility lags by seconds at most, so a version that became ready in the seconds before
 * a departure may wait for the next one.
 */
import type { Client } from '@temporalio/client';
import type { TrainActivities, TrainPassenger } from '../model/activities.js';
import { type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { PromotionBlockedBy, PromotionPipeline, PromotionTargetEnvironment, PromotionVersion } from '../model/search-attributes.js';

/** A list query's string literal: Pipeline keys and environment names are Kubernetes names, but never trust that. */
const literal = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function createTrainActivities(client: Client) {
  return {
    async trainPassengers({ pipeline, environment }: { pipeline: PipelineRef; environment: string }): Promise<TrainPassenger[]> {
      const query =
        `${PromotionPipeline.name} = ${literal(pipelineKey(pipeline))} AND ${PromotionTargetEnvironment.name} = ${literal(environment)} ` +
        `AND ${PromotionBlockedBy.name} = 'train' AND ExecutionStatus = 'Running'`;
      const passengers: TrainPassenger[] = [];
      for await (const execution of client.workflow.list({ query })) {
        const version = execution.typedSearchAttributes.get(PromotionVersion);
        if (version === undefined) continue;
        passengers.push({ workflowId: execution.workflowId, version, startedAt: execution.startTime.toISOString() });
      }
      return passengers;
    },
  } satisfies TrainActivities;
}
