/**
 * The ways Baton tells people, behind one interface: a Kubernetes Event on the Pipeline, a Flux
 * event POSTed to the notification-controller, or a log line in directory mode. Each carries the
 * notification strategy's `Promote` event and the release's lifecycle notices.
 */
import type { ReleaseNotice } from '../../model/release-notice.js';

export interface PromotionNotification {
  pipeline: { namespace: string; name: string; uid?: string };
  sourceEnvironment: string;
  targetEnvironment: string;
  version: string;
  workflowId: string;
  /** Set when the promotion is a rollback somebody asked for. */
  rollback?: { reason: string; by: string };
  /** `Promote pipeline <ns>/<name> to <targetEnv> with version <version>` */
  message: string;
}

/** A release's notice as notifiers send it: what the workflow said, plus what people read and follow. */
export interface ReleaseAnnouncement extends ReleaseNotice {
  pipeline: { namespace: string; name: string; uid?: string };
  /** The text people read: the summary, how to decide (gates), and the Temporal UI link. */
  message: string;
  /** Extra metadata (unprefixed keys) beyond pipeline, environment, version, phase and workflow ID. */
  details: Record<string, string>;
}

export interface Notifier {
  readonly name: string;
  notify(notification: PromotionNotification): Promise<void>;
  announce(announcement: ReleaseAnnouncement): Promise<void>;
}

/** Weave's exact message text; existing Alerts and CI jobs match on it. */
export function promotionMessage(n: Omit<PromotionNotification, 'message'>): string {
  return `Promote pipeline ${n.pipeline.namespace}/${n.pipeline.name} to ${n.targetEnvironment} with version ${n.version}`;
}

/** The metadata of an announcement, keys unprefixed: each notifier puts them where its receiver keeps them. */
export function announcementMetadata(a: ReleaseAnnouncement): Record<string, string> {
  return {
    pipeline: `${a.pipeline.namespace}/${a.pipeline.name}`,
    ...(a.environment === undefined ? {} : { environment: a.environment }),
    version: a.version,
    phase: a.phase,
    'workflow-id': a.workflowId,
    ...(a.approver === undefined ? {} : { approver: a.approver }),
    ...(a.reminder === undefined ? {} : { reminder: String(a.reminder) }),
    ...a.details,
  };
}
