/**
 * Writes release progress into Pipeline.status: one JSON merge patch per environment, so writers of
 * different environments never replace each other's entries. A write that changes what waits (the
 * summary spans environments) is a read-compare-patch on the object's resourceVersion: on 409 it
 * starts over from a fresh read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { FailureType } from '../model/failures.js';
import { PIPELINE_GROUP, type PipelineRef } from '../model/pipeline.js';
import { describeKubernetesError, httpStatus } from '../pipelines/kubernetes-errors.js';
import { PIPELINE_RESOURCE } from '../pipelines/kubernetes-source.js';
import { mergePatch, type PipelineStatusObject, waitingApprovalsSummary } from './pipeline-status.js';
import type { PipelineStatusUpdate, PipelineStatusWriter } from './status-writer.js';

export interface KubernetesPipelineStatusWriterOptions {
  /** Attempts of a read-compare-patch that keeps meeting concurrent changes (default 8). */
  maxAttempts?: number;
  /** Upper bound of the random pause before another attempt (default 50 ms). */
  conflictBackoffMs?: number;
}

class PipelineGone extends Error {}

/** Tells a failed read (verb `get` on pipelines) from a failed patch (verb `patch` on pipelines/status). */
class ReadFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(describeKubernetesError(cause));
  }
}

export class KubernetesPipelineStatusWriter implements PipelineStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly maxAttempts: number;
  private readonly conflictBackoffMs: number;

  constructor(
    kubeConfig: KubeConfig,
    private readonly log: Logger,
    options: KubernetesPipelineStatusWriterOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.maxAttempts = options.maxAttempts ?? 8;
    this.conflictBackoffMs = options.conflictBackoffMs ?? 50;
  }

  async write(update: PipelineStatusUpdate): Promise<void> {
    const { pipeline, environment } = update;
    try {
      if (update.waitingApproval === undefined && update.clearWaitingApproval === undefined) {
        if (update.lastPromotion === undefined) return;
        // Nothing that spans environments changes: one unconditional patch of this environment.
        await this.patch(pipeline, { status: { environments: { [environment]: { lastPromotion: update.lastPromotion } } } });
        return;
      }
      await this.compareAndPatch(update);
    } catch (error) {
      if (error instanceof PipelineGone || httpStatus(error) === 404) {
        this.log.debug({ ...pipeline, environment }, `Pipeline ${pipeline.namespace}/${pipeline.name} is gone; its status is not written`);
        return;
      }
      throw statusFailure(error, pipeline);
    }
  }

  private async compareAndPatch(update: PipelineStatusUpdate): Promise<void> {
    const { pipeline, environment } = update;
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.read(pipeline);
      const entry = current.status?.environments?.[environment];
      const waiting = entry?.waitingApproval?.revision;
      const envPatch: Record<string, unknown> = {};
      if (update.waitingApproval !== undefined) {
        envPatch.waitingApproval = { revision: update.waitingApproval.revision };
      } else if (update.clearWaitingApproval !== undefined && waiting === update.clearWaitingApproval) {
        envPatch.waitingApproval = null;
      }
      if (update.lastPromotion !== undefined) envPatch.lastPromotion = update.lastPromotion;
      if (Object.keys(envPatch).length === 0) return; // another revision waits there now: leave it

      const nextWaiting = envPatch.waitingApproval === null ? undefined : (update.waitingApproval?.revision ?? waiting);
      const summary =
        waitingApprovalsSummary({
          spec: current.spec,
          status: {
            environments: {
              ...current.status?.environments,
              [environment]: nextWaiting === undefined ? null : { waitingApproval: { revision: nextWaiting } },
            },
          },
        }) ?? null;
      const body = {
        metadata: { resourceVersion: current.metadata?.resourceVersion },
        status: {
          environments: { [environment]: envPatch },
          ...(summary !== (current.status?.waitingApprovals ?? null) ? { waitingApprovals: summary } : {}),
        },
      };
      try {
        await this.patch(pipeline, body);
        return;
      } catch (error) {
        if (httpStatus(error) !== 409 || attempt >= this.maxAttempts) throw error;
        this.log.debug({ ...pipeline, environment, attempt }, 'Pipeline changed while its status was written; reading it again');
        await sleep(Math.random() * this.conflictBackoffMs);
      }
    }
  }

  private async read(pipeline: PipelineRef): Promise<PipelineStatusObject> {
    try {
      // The object itself (status included): RBAC grants get on pipelines, not on pipelines/status.
      return (await this.api.getNamespacedCustomObject({ ...PIPELINE_RESOURCE, ...pipeline })) as PipelineStatusObject;
    } catch (error) {
      if (httpStatus(error) === 404) throw new PipelineGone();
      throw new ReadFailed(error);
    }
  }

  private patch(pipeline: PipelineRef, body: object): Promise<unknown> {
    return this.api.patchNamespacedCustomObjectStatus({ ...PIPELINE_RESOURCE, ...pipeline, body }, mergePatch());
  }
}

/**
 * 401, 403 and other 4xx answers (but 408, 409 and 429) cannot change by retrying: non-retryable,
 * saying what to fix. Conflicts that outlasted the attempts, 5xx and network errors are plain
 * errors, retried by the activity's policy.
 */
function statusFailure(failure: unknown, pipeline: PipelineRef): Error {
  const { namespace, name } = pipeline;
  const reading = failure instanceof ReadFailed;
  const error = reading ? failure.cause : failure;
  const status = httpStatus(error);
  const what = reading ? `reading Pipeline ${namespace}/${name}` : `patching the status of Pipeline ${namespace}/${name}`;
  const detail = describeKubernetesError(error);
  const rejected = (message: string, code: number) =>
    ApplicationFailure.nonRetryable(message, FailureType.pipelineStatusRejected, { namespace, name, status: code });
  if (status === 401)
    return rejected(
      `${what}: Kubernetes did not accept Baton's credentials; check its service account token or kubeconfig (${detail})`,
      status,
    );
  if (status === 403) {
    const missing = reading ? 'get on pipelines' : 'patch on pipelines/status';
    return rejected(`${what} was forbidden: RBAC: baton needs ${missing} (${PIPELINE_GROUP}) in ${namespace} (${detail})`, status);
  }
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) {
    return rejected(`${what} was rejected (${detail})`, status);
  }
  return new Error(`${what} failed: ${detail}`, { cause: error });
}
