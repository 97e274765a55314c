/**
 * How the gateway hands an accepted event to Temporal: signal-with-start of the release workflow of
 * (pipeline, version). The signal and the start are one atomic server call, so when `deliver`
 * resolves the event is durable workflow state, and a repeated event signals the same execution.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { DeployedSignal } from '../model/messages.js';
import { deployedSignal, deploymentFailedSignal } from '../model/messages.js';
import { effectivePromotion, pipelineKey, type Pipeline, strategyName } from '../model/pipeline.js';
import { type DeploymentEvent, ReleasePhase, type ReleaseInput, type ReleasePolicy, releaseWorkflowId } from '../model/release.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../model/search-attributes.js';
import type { release } from '../workflows/release.js';
import { payloadProblem, searchAttributesProblem, TEMPORAL_LIMITS, truncateUtf8, workflowIdProblem } from '../model/temporal-limits.js';
import { assertWithinLimits, boundedCalls } from './temporal-calls.js';

/**
 * The workflow type `workflows/release.ts` exports. Started by name, with its type imported only as
 * a type: the gateway never loads workflow code.
 */
export const RELEASE_WORKFLOW_TYPE = 'release';

export interface Delivery {
  /** The resolved Pipeline; its spec feeds the workflow's summary and details in the Temporal UI. */
  pipeline: Pipeline;
  /** The version to promote (build metadata already stripped). */
  version: string;
  /** The environment Flux reported the version in. */
  environment: string;
  event: DeploymentEvent;
  /** ISO 8601. */
  receivedAt: string;
}

export interface DeliveryReceipt {
  workflowId: string;
  runId: string;
  /**
   * The release had already run to completion: Temporal refuses to start it again (reuse policy
   * `ALLOW_DUPLICATE_FAILED_ONLY`), so the event is a late duplicate and changes nothing.
   */
  alreadyCompleted?: true;
}

export interface ReleaseStarter {
  /**
   * Resolves once the event is durable in Temporal; throws `TemporalUnavailableError` when it cannot
   * be now, `TemporalLimitError` when Temporal would refuse it whenever it is sent.
   */
  deliver(delivery: Delivery): Promise<DeliveryReceipt>;
  /**
   * Hands a Flux failure event to the running release of its version, which stops there; never
   * starts one. Resolves with the release's workflow ID, or undefined when none runs. Throws as
   * `deliver` does.
   */
  deliverFailure(delivery: Delivery): Promise<{ workflowId: string } | undefined>;
  /** Cheap reachability check for readiness probes; throws `TemporalUnavailableError`. */
  checkReachable(timeoutMs: number): Promise<void>;
  /**
   * Waits (at most `timeoutMs`) for calls that outlived their answer: a call that timed out may
   * still be sleeping between gRPC retries. Call before closing the Temporal connection.
   */
  drain(timeoutMs: number): Promise<void>;
}

export interface TemporalReleaseStarterOptions {
  taskQueue: string;
  policy: ReleasePolicy;
  /** The Temporal namespace `client` talks to. */
  namespace: string;
  /** Bound on one delivery, including the describe of an already completed release. */
  signalTimeoutMs: number;
}

/** `Promote podinfo 6.7.1: dev → test → prod` — one line for the Temporal UI's workflow list. */
export function releaseSummary(pipeline: Pipeline, version: string): string {
  const environments = pipeline.spec.environments.map((env) => env.name).join(' → ');
  return `Promote ${pipeline.spec.appRef.name} ${version}: ${environments}`;
}

/** What the release is about, in Temporal's markdown, for the workflow's details panel. */
export function releaseDetails(pipeline: Pipeline, version: string): string {
  const { appRef, environments } = pipeline.spec;
  const journey = environments.map((env) => `${env.name} (${env.targets.map((t) => t.namespace).join(', ') || 'no targets'})`).join(' → ');
  const strategies = environments.slice(1).map((env) => {
    const promotion = effectivePromotion(pipeline.spec, env.name);
    const strategy = promotion === undefined ? 'none' : (strategyName(promotion) ?? 'none');
    return `${env.name}: ${strategy}${promotion?.manual ? ' (manual approval)' : ''}`;
  });
  return [
    `**Pipeline:** ${pipelineKey(pipeline)}`,
    `**App:** ${appRef.kind} ${appRef.name} (${appRef.apiVersion})`,
    `**Version:** ${version}`,
    `**Environments:** ${journey}`,
    `**Strategy:** ${strategies.join(', ') || 'none (single environment)'}`,
  ].join('\n');
}

export function createTemporalReleaseStarter(client: Client, options: TemporalReleaseStarterOptions): ReleaseStarter {
  if (client.options.namespace !== options.namespace) {
    // The gateway links to the workflow in `options.namespace`; a client writing elsewhere would
    // hand out links to workflows that do not exist there.
    throw new Error(
      `the Temporal client uses namespace '${client.options.namespace}' but the release starter was configured for '${options.namespace}'`,
    );
  }
  const calls = boundedCalls(client);

  return {
    async deliver({ pipeline, version, environment, event, receivedAt }) {
      const ref = { namespace: pipeline.namespace, name: pipeline.name };
      const workflowId = releaseWorkflowId(ref, version);
      const input: ReleaseInput = { pipeline: ref, version, policy: options.policy };
      const signal: DeployedSignal = { environment, event, receivedAt };
      const searchAttributes = {
        [PromotionPipeline.name]: pipelineKey(ref),
        [PromotionVersion.name]: version,
        [PromotionState.name]: ReleasePhase.started,
      };
      // Checked before the call: Temporal would refuse it, and no retry could change that.
      assertWithinLimits(
        workflowIdProblem(workflowId),
        searchAttributesProblem(searchAttributes),
        payloadProblem('the workflow input', input),
        payloadProblem('the event', signal),
      );
      return calls.run(options.signalTimeoutMs, `delivering to ${workflowId}`, async () => {
        try {
          const handle = await client.workflow.signalWithStart<typeof release, [DeployedSignal]>(RELEASE_WORKFLOW_TYPE, {
            workflowId,
            taskQueue: options.taskQueue,
            args: [input],
            signal: deployedSignal,
            signalArgs: [signal],
            // A release that completed is never started again for the same version; one that
            // failed, timed out or was terminated may be restarted by a new event.
            workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
            typedSearchAttributes: [
              { key: PromotionPipeline, value: pipelineKey(ref) },
              { key: PromotionVersion, value: version },
              { key: PromotionState, value: ReleasePhase.started },
            ],
            // Only shown by the UI: cut to what Temporal accepts rather than refused.
            staticSummary: truncateUtf8(releaseSummary(pipeline, version), TEMPORAL_LIMITS.summaryBytes),
            staticDetails: truncateUtf8(releaseDetails(pipeline, version), TEMPORAL_LIMITS.detailsBytes),
          });
          return { workflowId, runId: handle.signaledRunId };
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
          const description = await client.workflow.getHandle(workflowId).describe();
          return { workflowId, runId: description.runId, alreadyCompleted: true };
        }
      });
    },

    async deliverFailure({ pipeline, version, environment, event, receivedAt }) {
      const workflowId = releaseWorkflowId({ namespace: pipeline.namespace, name: pipeline.name }, version);
      const signal: DeployedSignal = { environment, event, receivedAt };
      assertWithinLimits(workflowIdProblem(workflowId), payloadProblem('the event', signal));
      return calls.run(options.signalTimeoutMs, `delivering a failure to ${workflowId}`, async () => {
        try {
          // A plain signal, never signal-with-start: a failure of a version no release promotes
          // (or one that already ended) has nobody to stop.
          await client.workflow.getHandle(workflowId).signal(deploymentFailedSignal, signal);
          return { workflowId };
        } catch (error) {
          if (error instanceof WorkflowNotFoundError) return undefined;
          throw error;
        }
      });
    },

    async checkReachable(timeoutMs) {
      await calls.run(timeoutMs, 'readiness check', () => client.workflowService.getSystemInfo({}));
    },

    drain: (timeoutMs) => calls.drain(timeoutMs),
  };
}
