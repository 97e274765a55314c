/**
 * Rollbacks for the `baton promote` CLI and the gateway's `POST /promote`: a start of the release
 * workflow of the chosen version that asks for it in one environment. It is the version's release —
 * same workflow ID — so Flux's later events for the version reach it, and the release runs the
 * environment's gates and strategy as any other would. A version marked bad is refused; so is a
 * version whose release still runs (it is promoting that version already: decide at its gate).
 */
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { markOf, MAX_REASON_CHARS } from '../model/promotion-controls.js';
import { checkRevision } from '../model/version.js';
import { ReleasePhase, type ReleaseInput, type ReleasePolicy, releaseWorkflowId, type RollbackRequest } from '../model/release.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../model/search-attributes.js';
import { payloadProblem, searchAttributesProblem, TEMPORAL_LIMITS, truncateUtf8, workflowIdProblem } from '../model/temporal-limits.js';
import type { release } from '../workflows/release.js';
import { ControlRefusedError, type PromotionControls } from './promotion-controls.js';
import { RELEASE_WORKFLOW_TYPE } from './release-starter.js';
import { assertWithinLimits } from './temporal-calls.js';

/** Longest environment name accepted: a Kubernetes label value's worth, as Pipeline environments are. */
const MAX_ENVIRONMENT_CHARS = 253;
/** As approvers: a name or an e-mail address. */
const MAX_BY_CHARS = 256;

export interface RollbackAsk {
  pipeline: PipelineRef;
  environment: string;
  version: string;
  reason: string;
  by: string;
}

export interface RollbackStarted {
  workflowId: string;
  runId: string;
  rollback: RollbackRequest;
}

export interface RollbackStarter {
  /** Throws `ControlRefusedError` saying why when the rollback cannot be asked for as it is. */
  start(ask: RollbackAsk): Promise<RollbackStarted>;
}

/** What is wrong with a rollback request, or undefined. */
export function rollbackProblem(ask: RollbackAsk): string | undefined {
  const checked = checkRevision(ask.version);
  if (!checked.ok) return `version: ${checked.problem}`;
  if (checked.version !== ask.version) return `give the version without its build metadata: ${checked.version}`;
  if (ask.reason.trim() === '') return 'a reason is required: say why you roll back';
  if (ask.reason.length > MAX_REASON_CHARS) return `the reason is longer than ${MAX_REASON_CHARS} characters`;
  if (ask.by.trim() === '' || ask.by.length > MAX_BY_CHARS) return `who asks is required, at most ${MAX_BY_CHARS} characters`;
  if (ask.environment.trim() === '' || ask.environment.length > MAX_ENVIRONMENT_CHARS || /[\s/]/.test(ask.environment)) {
    return `environment is a Pipeline environment's name (no spaces or slashes, at most ${MAX_ENVIRONMENT_CHARS} characters)`;
  }
  return undefined;
}

export function createTemporalRollbackStarter(
  client: Client,
  options: { taskQueue: string; policy: ReleasePolicy; controls: PromotionControls },
): RollbackStarter {
  return {
    async start(ask) {
      const problem = rollbackProblem(ask);
      if (problem !== undefined) throw new ControlRefusedError(problem);
      const key = pipelineKey(ask.pipeline);
      const mark = markOf(await options.controls.list(), key, ask.version);
      if (mark !== undefined) {
        throw new ControlRefusedError(
          `${key} ${ask.version} is marked bad (${mark.id}) by ${mark.by} at ${mark.at}: ${mark.reason}; ` +
            '`baton unmark-bad` lifts the mark first if it is the version you want',
        );
      }
      const ref = { namespace: ask.pipeline.namespace, name: ask.pipeline.name };
      const workflowId = releaseWorkflowId(ref, ask.version);
      const rollback: RollbackRequest = { environment: ask.environment, reason: ask.reason, by: ask.by, at: new Date().toISOString() };
      const input: ReleaseInput = { pipeline: ref, version: ask.version, policy: options.policy, rollback };
      const searchAttributes = {
        [PromotionPipeline.name]: key,
        [PromotionVersion.name]: ask.version,
        [PromotionState.name]: ReleasePhase.started,
      };
      assertWithinLimits(
        workflowIdProblem(workflowId),
        searchAttributesProblem(searchAttributes),
        payloadProblem('the workflow input', input),
      );
      try {
        const handle = await client.workflow.start<typeof release>(RELEASE_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: options.taskQueue,
          args: [input],
          // The version's release ran before (that is what a rollback goes back to): it starts again.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          typedSearchAttributes: [
            { key: PromotionPipeline, value: key },
            { key: PromotionVersion, value: ask.version },
            { key: PromotionState, value: ReleasePhase.started },
          ],
          staticSummary: truncateUtf8(`Roll back ${key} to ${ask.version} in ${ask.environment}`, TEMPORAL_LIMITS.summaryBytes),
          staticDetails: truncateUtf8(
            `**Rollback** of ${key} to ${ask.version} in ${ask.environment}, asked for by ${ask.by} at ${rollback.at}: ${ask.reason}`,
            TEMPORAL_LIMITS.detailsBytes,
          ),
        });
        return { workflowId, runId: handle.firstExecutionRunId, rollback };
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        throw new ControlRefusedError(
          `the release of ${key} ${ask.version} is still running (${workflowId}): it promotes that version already; ` +
            'decide at its gate, or end it (mark-bad, reject) before rolling back to it',
          { cause: error },
        );
      }
    },
  };
}
