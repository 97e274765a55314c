/**
 * Stops, resumes, freezes, unfreezes and marks of bad versions as Updates of the promotion-controls workflow (started on
 * first use, on the release task queue), for the gateway's `/stop` and `/resume` and the `baton` CLI.
 */
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import {
  controlsQuery,
  freezeUpdate,
  markBadUpdate,
  resumeUpdate,
  stopUpdate,
  unfreezeUpdate,
  unmarkBadUpdate,
} from '../model/messages.js';
import {
  type FreezeRequest,
  type MarkBadRequest,
  type MarkBadResult,
  PROMOTION_CONTROLS_WORKFLOW_ID,
  PROMOTION_CONTROLS_WORKFLOW_TYPE,
  type PromotionControl,
  type PromotionControlsInput,
  type ResumeRequest,
  type StopRequest,
  type UnfreezeRequest,
  type UnmarkBadRequest,
} from '../model/promotion-controls.js';

/** The promotion-controls workflow refused the change; `reason` says why (safe to show). */
export class ControlRefusedError extends Error {
  override name = 'ControlRefusedError';
}

export interface PromotionControls {
  stop(request: StopRequest): Promise<PromotionControl>;
  resume(request: ResumeRequest): Promise<PromotionControl[]>;
  freeze(request: FreezeRequest): Promise<PromotionControl>;
  unfreeze(request: UnfreezeRequest): Promise<PromotionControl>;
  markBad(request: MarkBadRequest): Promise<MarkBadResult>;
  unmarkBad(request: UnmarkBadRequest): Promise<PromotionControl>;
  /** Every stop, freeze and mark; none when nothing was ever stopped, frozen or marked. */
  list(): Promise<PromotionControl[]>;
}

type ControlsWorkflow = (input: PromotionControlsInput) => Promise<void>;

export function createTemporalPromotionControls(client: Client, options: { taskQueue: string }): PromotionControls {
  const handle = client.workflow.getHandle(PROMOTION_CONTROLS_WORKFLOW_ID);
  const startOperation = (): WithStartWorkflowOperation<ControlsWorkflow> =>
    new WithStartWorkflowOperation<ControlsWorkflow>(PROMOTION_CONTROLS_WORKFLOW_TYPE, {
      workflowId: PROMOTION_CONTROLS_WORKFLOW_ID,
      taskQueue: options.taskQueue,
      args: [{}],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      staticSummary: 'Stops, freezes and bad versions of promotions (baton stop, hold, freeze, mark-bad)',
    });
  const refusals = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError)
        throw new ControlRefusedError(error.cause?.message ?? error.message, { cause: error });
      if (error instanceof WorkflowNotFoundError) {
        throw new ControlRefusedError('nothing is stopped, frozen or marked (no promotion-controls workflow yet)', { cause: error });
      }
      throw error;
    }
  };
  return {
    stop: (request) =>
      refusals(() => client.workflow.executeUpdateWithStart(stopUpdate, { args: [request], startWorkflowOperation: startOperation() })),
    freeze: (request) =>
      refusals(() => client.workflow.executeUpdateWithStart(freezeUpdate, { args: [request], startWorkflowOperation: startOperation() })),
    resume: (request) => refusals(() => handle.executeUpdate(resumeUpdate, { args: [request] })),
    unfreeze: (request) => refusals(() => handle.executeUpdate(unfreezeUpdate, { args: [request] })),
    markBad: (request) =>
      refusals(() => client.workflow.executeUpdateWithStart(markBadUpdate, { args: [request], startWorkflowOperation: startOperation() })),
    unmarkBad: (request) => refusals(() => handle.executeUpdate(unmarkBadUpdate, { args: [request] })),
    async list() {
      try {
        return await handle.query(controlsQuery);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return [];
        throw error;
      }
    },
  };
}
