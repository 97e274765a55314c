/**
 * Ends older releases still waiting for an environment a newer version now waits for (or was
 * promoted into). Found through visibility (the releases' search attributes), told by signal; each
 * older release checks the arrival times itself, so a stale listing cannot end the wrong one.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { supersedeSignal, type SupersedeSignal } from '../model/messages.js';
import { type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { ReleasePhase } from '../model/release.js';

export interface SupersedeRequest {
  pipeline: PipelineRef;
  signal: SupersedeSignal;
}

function waitingReleasesQuery(pipeline: PipelineRef, environment: string): string {
  const quote = (value: string): string => `'${value.replaceAll("'", "\\'")}'`;
  return [
    `PromotionPipeline = ${quote(pipelineKey(pipeline))}`,
    `PromotionTargetEnvironment = ${quote(environment)}`,
    `PromotionState IN (${quote(ReleasePhase.awaitingApproval)}, ${quote(ReleasePhase.awaitingDeployment)})`,
    `ExecutionStatus = 'Running'`,
  ].join(' AND ');
}

export function createSupersedeActivities(client: Client) {
  return {
    /** Returns how many other releases were told; they decide themselves whether they yield. */
    async supersedeOlderReleases({ pipeline, signal }: SupersedeRequest): Promise<number> {
      let told = 0;
      for await (const execution of client.workflow.list({ query: waitingReleasesQuery(pipeline, signal.environment) })) {
        if (execution.workflowId === signal.workflowId) continue;
        try {
          await client.workflow.getHandle(execution.workflowId).signal(supersedeSignal, signal);
          told += 1;
        } catch (error) {
          // Closed since the listing: nothing left to supersede.
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
      return told;
    },
  };
}
