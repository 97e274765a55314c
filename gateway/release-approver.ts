/**
 * How the gateway hands a decision to Temporal: the release workflow's `approve` (or `reject`) Update, bound to
 * the environment and version the caller approves. The workflow's validator refuses, without
 * touching history, anything that does not match what waits (another environment or version, a
 * second decision, an approver outside the Pipeline's approvers), so the answer is the outcome.
 */
import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { approveUpdate, type Decision, type DecisionAuthentication, rejectUpdate, stateQuery } from '../model/messages.js';
import { type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { type DecisionRecord, releaseWorkflowId } from '../model/release.js';
import { proveDecision } from '../activities/decision-proof.js';
import { payloadProblem, workflowIdProblem } from '../model/temporal-limits.js';
import { assertWithinLimits, boundedCalls } from './temporal-calls.js';

export interface Approval {
  pipeline: PipelineRef;
  /** The release's version (the endpoint's `{revision}`, build metadata stripped). */
  version: string;
  /** The environment the approval is for (the endpoint's `{targetEnv}`). */
  environment: string;
  approver: string;
  comment?: string;
  /** An approval that may downgrade the environment (a Pipeline that queues versions asks for it). */
  allowDowngrade?: boolean;
  /** How the gateway authenticated the approver; passed to the workflow with the decision. */
  authentication?: DecisionAuthentication;
  /** `reject` sends the `reject` Update (`POST /rejection/…`); default `approve`. */
  decision?: 'approve' | 'reject';
}

export interface ApprovalReceipt {
  workflowId: string;
  /** The run that took the decision, when Temporal said which. */
  runId?: string;
  decision: DecisionRecord;
  /** The pull request of the promotion into the environment, when the release already shows one. */
  pullRequestUrl?: string;
}

export interface ReleaseApprover {
  /**
   * Resolves with the recorded decision. Throws `ApprovalRefusedError` when nothing matching waits
   * (no such release, or the workflow's validator refused), `TemporalUnavailableError` when
   * Temporal could not be reached in time and `TemporalLimitError` when Temporal would refuse the call.
   */
  approve(approval: Approval): Promise<ApprovalReceipt>;
  /** Waits (at most `timeoutMs`) for calls that outlived their answer; call before closing the connection. */
  drain(timeoutMs: number): Promise<void>;
}

/** Nothing matching the approval waits; `reason` says why (the workflow validator's words). */
export class ApprovalRefusedError extends Error {
  override name = 'ApprovalRefusedError';
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(reason, options);
  }
}

export interface TemporalReleaseApproverOptions {
  /** Bound on the Update (and, separately, on the state query for the PR link). */
  timeoutMs: number;
  /**
   * BATON_DECISION_KEY: proves to the workflow that the gateway authenticated the decision. Without
   * it the decision goes without its authentication and counts as sent through Temporal.
   */
  decisionKey?: string;
}

export function createTemporalReleaseApprover(client: Client, options: TemporalReleaseApproverOptions): ReleaseApprover {
  const calls = boundedCalls(client);

  return {
    async approve({ pipeline, version, environment, approver, comment, allowDowngrade, authentication, decision: kind = 'approve' }) {
      const workflowId = releaseWorkflowId(pipeline, version);
      const handle = client.workflow.getHandle(workflowId);
      const unproven: Decision = {
        approver,
        environment,
        version,
        ...(comment === undefined ? {} : { comment }),
        ...(allowDowngrade === true ? { allowDowngrade } : {}),
      };
      const decision: Decision =
        options.decisionKey === undefined || authentication === undefined
          ? unproven
          : (() => {
              const claimed = { ...unproven, authentication };
              const verdict = kind === 'reject' ? 'rejected' : 'approved';
              return { ...claimed, proof: proveDecision(options.decisionKey, { workflowId, verdict, decision: claimed }) };
            })();
      assertWithinLimits(workflowIdProblem(workflowId), payloadProblem('the approval', decision));
      let outcome: { runId?: string; decision: DecisionRecord };
      try {
        outcome = await calls.run(options.timeoutMs, `${kind === 'reject' ? 'rejecting' : 'approving'} ${workflowId}`, async () => {
          const update = await handle.startUpdate(kind === 'reject' ? rejectUpdate : approveUpdate, {
            args: [decision],
            waitForStage: WorkflowUpdateStage.ACCEPTED,
          });
          return { runId: update.workflowRunId, decision: await update.result() };
        });
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          throw new ApprovalRefusedError(`no release of ${version} is running for ${pipelineKey(pipeline)}`, { cause: error });
        }
        if (error instanceof WorkflowUpdateFailedError) {
          throw new ApprovalRefusedError(error.cause?.message ?? error.message, { cause: error });
        }
        throw error;
      }

      // Best effort: the decision is made whatever happens here; without a PR the caller gets the
      // workflow's link instead.
      let pullRequestUrl: string | undefined;
      try {
        const state = await calls.run(options.timeoutMs, `querying ${workflowId}`, () => handle.query(stateQuery));
        pullRequestUrl = state.promotions.filter((p) => p.targetEnvironment === environment && p.pullRequest !== undefined).at(-1)
          ?.pullRequest?.url;
      } catch {
        pullRequestUrl = undefined;
      }
      return {
        workflowId,
        ...(outcome.runId === undefined ? {} : { runId: outcome.runId }),
        decision: outcome.decision,
        ...(pullRequestUrl === undefined ? {} : { pullRequestUrl }),
      };
    },

    drain: (timeoutMs) => calls.drain(timeoutMs),
  };
}
