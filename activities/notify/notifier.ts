/**
 * The notification strategy's outputs behind one interface: a Kubernetes Event on
 * the Pipeline, a Flux event POSTed to the notification-controller, or a log line in directory mode.
 */
export interface PromotionNotification {
  pipeline: { namespace: string; name: string; uid?: string };
  sourceEnvironment: string;
  targetEnvironment: string;
  version: string;
  workflowId: string;
  /** `Promote pipeline <ns>/<name> to <targetEnv> with version <version>` */
  message: string;
}

export interface Notifier {
  readonly name: string;
  notify(notification: PromotionNotification): Promise<void>;
}

/** Weave's exact message text; existing Alerts and CI jobs match on it. */
export function promotionMessage(n: Omit<PromotionNotification, 'message'>): string {
  return `Promote pipeline ${n.pipeline.namespace}/${n.pipeline.name} to ${n.targetEnvironment} with version ${n.version}`;
}
