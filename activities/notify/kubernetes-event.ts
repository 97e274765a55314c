/**
 * The notification strategy's Kubernetes Event: one Normal `Promote` Event about the Pipeline, as
 * Weave emitted it, for `kubectl describe pipeline` and event exporters. Its name derives from the
 * workflow ID and target environment, so a retry after a lost response finds it there (409).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { PIPELINE_API_VERSION, PIPELINE_GROUP, PIPELINE_KIND } from '../../model/pipeline.js';
import { describeKubernetesError, httpStatus } from '../../pipelines/kubernetes-errors.js';
import type { Notifier, PromotionNotification } from './notifier.js';

export const PROMOTE_REASON = 'Promote';
export const REPORTING_COMPONENT = 'baton';

export const EventAnnotation = {
  environment: `${PIPELINE_GROUP}/environment`,
  version: `${PIPELINE_GROUP}/version`,
  workflowId: `${PIPELINE_GROUP}/workflow-id`,
} as const;

export interface KubernetesEventNotifierOptions {
  /** The Event's `reportingInstance`: which Baton replica emitted it (default: this host's name). */
  instance?: string;
  /** The Event's timestamps (default: the current time). */
  now?: () => Date;
}

const MAX_NAME_LENGTH = 253;
const DIGEST_LENGTH = 16;

/**
 * `<pipeline>.<16 hex digits>`, like the names Kubernetes' own recorders give Events. The digest
 * covers the workflow ID (one per pipeline and version) and the target environment.
 */
export function promotionEventName(n: Pick<PromotionNotification, 'pipeline' | 'workflowId' | 'targetEnvironment'>): string {
  const digest = createHash('sha256').update(`${n.workflowId}\n${n.targetEnvironment}`).digest('hex').slice(0, DIGEST_LENGTH);
  // Each dot-separated part of a name must end with an alphanumeric character.
  const prefix = n.pipeline.name.slice(0, MAX_NAME_LENGTH - DIGEST_LENGTH - 1).replace(/[-.]+$/, '');
  return `${prefix}.${digest}`;
}

export function promotionEvent(n: PromotionNotification, instance: string, now: Date): CoreV1Event {
  const { namespace, name, uid } = n.pipeline;
  return {
    metadata: {
      name: promotionEventName(n),
      namespace,
      annotations: {
        [EventAnnotation.environment]: n.targetEnvironment,
        [EventAnnotation.version]: n.version,
        [EventAnnotation.workflowId]: n.workflowId,
      },
    },
    involvedObject: { apiVersion: PIPELINE_API_VERSION, kind: PIPELINE_KIND, namespace, name, ...(uid ? { uid } : {}) },
    type: 'Normal',
    reason: PROMOTE_REASON,
    action: PROMOTE_REASON,
    message: n.message,
    source: { component: REPORTING_COMPONENT },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

function rejected(message: string, status: number, n: PromotionNotification): ApplicationFailure {
  const { namespace, name } = n.pipeline;
  return ApplicationFailure.nonRetryable(message, FailureType.kubernetesEventRejected, { namespace, name, status });
}

/**
 * 401, 403, 404 and other 4xx answers cannot change by retrying: non-retryable, saying what to fix.
 * Timeouts, throttling (408, 429), 5xx and network errors are plain errors, retried by the policy.
 */
function eventFailure(error: unknown, n: PromotionNotification): Error {
  const { namespace, name } = n.pipeline;
  const what = `creating the Promote Event about Pipeline ${namespace}/${name}`;
  const detail = describeKubernetesError(error);
  const status = httpStatus(error);
  switch (status) {
    case 401:
      return rejected(
        `${what}: Kubernetes did not accept Baton's credentials; check its service account token or kubeconfig (${detail})`,
        status,
        n,
      );
    case 403:
      return rejected(`${what} was forbidden: RBAC: baton needs create on events in ${namespace} (${detail})`, status, n);
    case 404:
      return rejected(`${what}: namespace ${namespace} does not exist (${detail})`, status, n);
    case 408:
    case 429:
      break;
    default:
      if (status !== undefined && status >= 400 && status < 500) return rejected(`${what} was rejected (${detail})`, status, n);
  }
  return new Error(`${what} failed: ${detail}`, { cause: error });
}

export function createKubernetesEventNotifier(kubeConfig: KubeConfig, options: KubernetesEventNotifierOptions = {}): Notifier {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const instance = options.instance ?? hostname();
  const now = options.now ?? (() => new Date());
  return {
    name: 'kubernetes-event',
    async notify(notification: PromotionNotification): Promise<void> {
      const body = promotionEvent(notification, instance, now());
      try {
        await core.createNamespacedEvent({ namespace: notification.pipeline.namespace, body });
      } catch (error) {
        // An earlier attempt of this activity already recorded it.
        if (httpStatus(error) === 409) return;
        throw eventFailure(error, notification);
      }
    },
  };
}
