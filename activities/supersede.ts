/**
 * Supersede goes through the environment's claims workflow: a release that starts waiting for an
 * environment, or is promoted into it, claims the environment there, and the claims workflow tells
 * the releases that got there earlier. One workflow per (Pipeline, environment) takes every claim in
 * turn, so two releases arriving together cannot miss each other, as they could when each searched
 * visibility (eventually consistent) for the other.
 */
import { Context } from '@temporalio/activity';
import { type Client, WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { ClaimRequest, SupersedeRequest } from '../model/activities.js';
import {
  ENVIRONMENT_CLAIMS_WORKFLOW_TYPE,
  type EnvironmentClaimsWorkflow,
  environmentClaimsSummary,
  environmentClaimsWorkflowId,
} from '../model/environment-claims.js';
import { claimSignal, type EnvironmentClaim, promotedQuery } from '../model/messages.js';
import type { PipelineRef } from '../model/pipeline.js';

export function createSupersedeActivities(client: Client) {
  /**
   * Claims the environment for the release; the claims workflow (started here if need be, on this
   * task queue) supersedes the releases that got there earlier.
   */
  const claimEnvironment = async ({ pipeline, claim }: ClaimRequest): Promise<void> => {
    await client.workflow.signalWithStart<EnvironmentClaimsWorkflow, [EnvironmentClaim]>(ENVIRONMENT_CLAIMS_WORKFLOW_TYPE, {
      workflowId: environmentClaimsWorkflowId(pipeline, claim.environment),
      taskQueue: Context.current().info.taskQueue,
      args: [{ pipeline, environment: claim.environment }],
      signal: claimSignal,
      signalArgs: [claim],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      staticSummary: environmentClaimsSummary(pipeline, claim.environment),
    });
  };

  return {
    claimEnvironment,

    /** The former name of `claimEnvironment`: releases started before the rename schedule it. */
    supersedeOlderReleases: ({ pipeline, signal }: SupersedeRequest): Promise<void> => claimEnvironment({ pipeline, claim: signal }),

    /**
     * The version promoted last into the environment of a Pipeline that queues versions. Asked of the
     * claims workflow, which takes claims one at a time and keeps this across continue-as-new; no
     * claims workflow means nothing was promoted there since queued promotions were remembered.
     */
    async promotedVersion({
      pipeline,
      environment,
    }: {
      pipeline: PipelineRef;
      environment: string;
    }): Promise<EnvironmentClaim | undefined> {
      try {
        return await client.workflow.getHandle(environmentClaimsWorkflowId(pipeline, environment)).query(promotedQuery);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
    },

    /** Those of `workflowIds` that no longer run: completed, failed, terminated, or gone from the server. */
    async closedReleases(workflowIds: string[]): Promise<string[]> {
      const closed: string[] = [];
      for (const workflowId of workflowIds) {
        try {
          const { status } = await client.workflow.getHandle(workflowId).describe();
          if (status.name !== 'RUNNING') closed.push(workflowId);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          closed.push(workflowId);
        }
      }
      return closed;
    },
  };
}
