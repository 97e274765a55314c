/**
 * How the gateway hands an accepted event to Temporal: signal-with-start of the release workflow of
 * (pipeline, version). The signal and the start are one atomic server call, so when `deliver`
 * resolves the event is durable workflow state, and a repeated event signals the same execution.
 */
import {
  type Client,
  type GrpcRetryOptions,
  isGrpcServiceError,
  isRetryableError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import type { DeployedSignal } from '../model/messages.js';
import { deployedSignal } from '../model/messages.js';
import { effectivePromotion, pipelineKey, type Pipeline, strategyName } from '../model/pipeline.js';
import { type DeploymentEvent, ReleasePhase, type ReleaseInput, type ReleasePolicy, releaseWorkflowId } from '../model/release.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../model/search-attributes.js';
import type { release } from '../workflows/release.js';

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
  /** Resolves once the event is durable in Temporal; throws `TemporalUnavailableError` when it cannot be. */
  deliver(delivery: Delivery): Promise<DeliveryReceipt>;
  /** Cheap reachability check for readiness probes; throws `TemporalUnavailableError`. */
  checkReachable(timeoutMs: number): Promise<void>;
  /**
   * Waits (at most `timeoutMs`) for calls that outlived their answer: a call that timed out may
   * still be sleeping between gRPC retries. Call before closing the Temporal connection.
   */
  drain(timeoutMs: number): Promise<void>;
}

/**
 * gRPC retries for a connection the gateway owns. The SDK's default retries for up to ~25 s, far
 * past the signal timeout after which the caller already has its 503 (and Flux retries anyway);
 * and a retry still sleeping when the connection closes throws "Channel has been shut down" from a
 * timer, crashing the process at shutdown. So: a few quick retries, then give up.
 */
export const GATEWAY_GRPC_RETRY: GrpcRetryOptions = {
  retryableDecider: (attempt, status) => attempt < 4 && isRetryableError(status),
  delayFunction: (attempt) => Math.min(1000, 100 * 2 ** (attempt - 1)),
};

/** Temporal could not be reached, or did not answer in time. The caller should retry later. */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

export interface TemporalReleaseStarterOptions {
  taskQueue: string;
  policy: ReleasePolicy;
  /** The Temporal namespace `client` talks to. */
  namespace: string;
  /** Bound on one delivery, including the describe of an already completed release. */
  signalTimeoutMs: number;
}

// gRPC status codes that mean "not now" rather than "never": the server is down, overloaded, or
// did not answer before our deadline. Anything else (unknown namespace, unregistered search
// attribute, permission denied) is a configuration problem and stays a plain error.
const UNAVAILABLE_CODES = new Set([
  1, // CANCELLED: our deadline timer aborted the call
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  14, // UNAVAILABLE
]);

/** The gRPC error behind an SDK error, when it says "not now"; undefined otherwise. */
function unavailability(error: unknown): Error | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return UNAVAILABLE_CODES.has(e.code) ? e : undefined;
  }
  return undefined;
}

/**
 * Temporal calls bounded in time, shared by the release starter and the approver. `run` puts `fn`
 * under a gRPC deadline and also races it against a timer: the client's own retry of UNAVAILABLE
 * answers sleeps between attempts, and a deadline only fails the next attempt. Calls that outlived
 * their answer stay pending until `drain` (call it before closing the connection).
 */
export interface BoundedCalls {
  run<T>(timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T>;
  drain(timeoutMs: number): Promise<void>;
}

export function boundedCalls(client: Client): BoundedCalls {
  /** Calls still running, possibly after their caller got its answer (see `drain`). */
  const pending = new Set<Promise<unknown>>();

  async function run<T>(timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new TemporalUnavailableError(`${what}: Temporal did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const call = client.withAbortSignal(controller.signal, () => client.withDeadline(Date.now() + timeoutMs, fn));
    const settled = call.then(
      () => undefined,
      () => undefined, // the losing side of the race must not become an unhandled rejection
    );
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
    try {
      return await Promise.race([call, timeout]);
    } catch (error) {
      if (error instanceof TemporalUnavailableError) throw error;
      const grpcError = unavailability(error);
      if (grpcError !== undefined) {
        throw new TemporalUnavailableError(`${what}: Temporal is unavailable (${grpcError.message})`, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function drain(timeoutMs: number): Promise<void> {
    if (pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(pending), timeout]);
    clearTimeout(timer);
  }

  return { run, drain };
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
            staticSummary: releaseSummary(pipeline, version),
            staticDetails: releaseDetails(pipeline, version),
          });
          return { workflowId, runId: handle.signaledRunId };
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
          const description = await client.workflow.getHandle(workflowId).describe();
          return { workflowId, runId: description.runId, alreadyCompleted: true };
        }
      });
    },

    async checkReachable(timeoutMs) {
      await calls.run(timeoutMs, 'readiness check', () => client.workflowService.getSystemInfo({}));
    },

    drain: (timeoutMs) => calls.drain(timeoutMs),
  };
}
