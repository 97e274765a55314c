/**
 * Kubernetes Events about the Pipeline, for `kubectl describe pipeline` and event exporters: the
 * notification strategy's Normal `Promote` Event, as Weave emitted it, and one per release notice
 * (AwaitingApproval, Approved, PromotionFailed…; Warning for the ones reporting trouble). Each name
 * derives from what the Event reports, so a retry after a lost response finds it there (409).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { PIPELINE_API_VERSION, PIPELINE_GROUP, PIPELINE_KIND } from '../../model/pipeline.js';
import { describeKubernetesError, httpStatus } from '../../pipelines/kubernetes-errors.js';
import { clip } from '../../model/release-limits.js';
import { isTrouble } from '../../model/release-notice.js';
import { announcementMetadata, type Notifier, type PromotionNotification, type ReleaseAnnouncement } from './notifier.js';

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
/** Event messages are for people; the events.k8s.io API caps its `note` at 1 kB, kubectl shows less. */
const MAX_MESSAGE_LENGTH = 1024;

/**
 * `<pipeline>.<16 hex digits>`, like the names Kubernetes' own recorders give Events. The digest
 * covers the workflow ID (one per pipeline and version) and the target environment.
 */
export function promotionEventName(n: Pick<PromotionNotification, 'pipeline' | 'workflowId' | 'targetEnvironment'>): string {
  return eventName(n.pipeline.name, `${n.workflowId}\n${n.targetEnvironment}`);
}

/** A release notice's Event: one per release, notice, environment and reminder. */
export function releaseEventName(a: Pick<ReleaseAnnouncement, 'pipeline' | 'workflowId' | 'reason' | 'environment' | 'reminder'>): string {
  return eventName(a.pipeline.name, ['notice', a.workflowId, a.reason, a.environment ?? '', String(a.reminder ?? '')].join('\n'));
}

function eventName(pipelineName: string, identity: string): string {
  const digest = createHash('sha256').update(identity).digest('hex').slice(0, DIGEST_LENGTH);
  // Each dot-separated part of a name must end with an alphanumeric character.
  const prefix = pipelineName.slice(0, MAX_NAME_LENGTH - DIGEST_LENGTH - 1).replace(/[-.]+$/, '');
  return `${prefix}.${digest}`;
}

export function releaseEvent(a: ReleaseAnnouncement, instance: string, now: Date): CoreV1Event {
  const { namespace, name, uid } = a.pipeline;
  return {
    metadata: {
      name: releaseEventName(a),
      namespace,
      annotations: Object.fromEntries(Object.entries(announcementMetadata(a)).map(([key, value]) => [`${PIPELINE_GROUP}/${key}`, value])),
    },
    involvedObject: { apiVersion: PIPELINE_API_VERSION, kind: PIPELINE_KIND, namespace, name, ...(uid ? { uid } : {}) },
    type: isTrouble(a.reason) ? 'Warning' : 'Normal',
    reason: a.reason,
    action: a.reason,
    message: clip(a.message, MAX_MESSAGE_LENGTH),
    source: { component: REPORTING_COMPONENT },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
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

type EventSubject = Pick<PromotionNotification, 'pipeline'>;

function rejected(message: string, status: number, n: EventSubject): ApplicationFailure {
  const { namespace, name } = n.pipeline;
  return ApplicationFailure.nonRetryable(message, FailureType.kubernetesEventRejected, { namespace, name, status });
}

/**
 * 401, 403, 404 and other 4xx answers cannot change by retrying: non-retryable, saying what to fix.
 * Timeouts, throttling (408, 429), 5xx and network errors are plain errors, retried by the policy.
 */
function eventFailure(error: unknown, n: EventSubject, reason: string): Error {
  const { namespace, name } = n.pipeline;
  const what = `creating the ${reason} Event about Pipeline ${namespace}/${name}`;
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
  const create = async (subject: EventSubject, body: CoreV1Event): Promise<void> => {
    try {
      await core.createNamespacedEvent({ namespace: subject.pipeline.namespace, body });
    } catch (error) {
      // An earlier attempt of this activity already recorded it.
      if (httpStatus(error) === 409) return;
      throw eventFailure(error, subject, body.reason ?? PROMOTE_REASON);
    }
  };
  return {
    name: 'kubernetes-event',
    notify: (notification) => create(notification, promotionEvent(notification, instance, now())),
    announce: (announcement) => create(announcement, releaseEvent(announcement, instance, now())),
  };
}
